"""Memory and time of a language model's output loss: naive, PyTorch's chunked
op, xent's chunked op.

The problem: ``loss = cross_entropy(hidden @ W.T, targets)`` and its backward
pass, at 4096 tokens, hidden width 512, vocabulary 32 000, float32, on the CPU
(and, where CUDA is available, at 16 384 tokens, width 4096, vocabulary
128 256, bfloat16, on the GPU). Three methods:

naive
    ``F.cross_entropy(x @ W.T, t)``: materialises the (N, V) logits, their
    log-softmax and their gradient.
torch
    ``F.linear_cross_entropy(x, W, t,
    options=torch.nn.LinearCrossEntropyOptions())``, PyTorch's own chunked op
    (new in recent versions; reported as n/a where it does not exist).
xent
    ``xent.chunked.chunked_linear_cross_entropy(x, W, t)`` with its default
    chunk size.

Each method runs in its own subprocesses (this script, called with
``--method``; one for memory, one for time), so that one method's freed memory
cannot hide another's peak. Threads: torch's default (all cores); ``make
benchmarks`` sets ``OMP_NUM_THREADS=1``.

How memory is measured
----------------------
CPU: the resident set size (RSS) that the forward and backward pass add above
what the process held just before, i.e. above the inputs, the imported
libraries and one full warm-up step (whose gradients are dropped). The child
runs with ``MALLOC_MMAP_THRESHOLD_=131072``, so that glibc gives every large
buffer its own mapping and returns it when freed: RSS then follows the live
tensors instead of the allocator's history. After the warm-up, the kernel's
high-water mark ``VmHWM`` is reset to the current RSS by writing ``5`` to
``/proc/self/clear_refs`` (Linux 4.0+); the figure reported is ``VmHWM`` after
one forward + backward minus that RSS. Where the reset is refused, the baseline
is the RSS at that moment and the peak ``max(VmHWM, ru_maxrss)`` (a high-water
mark that may include earlier, unrelated peaks; the table then says so). The
figure includes the gradients of ``x`` and ``W`` (which every method must
return): at the CPU size they alone are 4096*512*4 + 32000*512*4 bytes =
70.5 MiB.

CUDA: ``torch.cuda.max_memory_allocated()`` after
``reset_peak_memory_stats()``, minus ``memory_allocated()`` before the call:
the caching allocator's own accounting, not the driver's.

Time: in a second subprocess per method (with glibc's default allocator), the
median (and the minimum) of ``--repeats`` forward + backward passes after one
warm-up pass, wall clock, ``.grad`` reset to ``None`` before each. The ratio to
naive is that of the medians. On a shared machine the minimum is the steadier
figure.

Usage::

    python benchmarks/llm_loss.py          # every method: CPU (and CUDA)
    python benchmarks/llm_loss.py --device cuda     # CUDA table only
    python benchmarks/llm_loss.py --device cuda --autocast  # float32 x, W
    python benchmarks/llm_loss.py --small  # sizes / 8: a quick check
    # one method, one JSON line (run memory with the env above):
    python benchmarks/llm_loss.py --method xent --chunk-size 128
    python benchmarks/llm_loss.py --method xent --measure memory

``--autocast`` keeps ``x`` and ``W`` in float32 (master weights) and runs every
method under ``torch.autocast(device, dtype=bfloat16)``, as mixed-precision
training does: the products are bfloat16, the loss float32, the gradients
float32.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# run from a checkout without installing
sys.path.insert(0, os.path.dirname(HERE))

METHODS = ("naive", "torch", "xent")
SIZES = {
    "cpu": dict(
        tokens=4096, hidden=512, vocab=32000, dtype="float32", repeats=3
    ),
    "cuda": dict(
        tokens=16384, hidden=4096, vocab=128256, dtype="bfloat16", repeats=5
    ),
}
MIB = 2**20


# -----------------------------------------------------------------------------
# One method, in a child process


def _proc_status(field: str) -> int:
    """A ``Vm*`` field of /proc/self/status, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not found in /proc/self/status")


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _loss_fn(method: str, chunk_size):
    import torch
    import torch.nn.functional as F

    if method == "naive":
        return lambda x, w, t: F.cross_entropy(x @ w.T, t)
    if method == "torch":
        lce = getattr(F, "linear_cross_entropy", None)
        options = getattr(torch.nn, "LinearCrossEntropyOptions", None)
        if lce is None or options is None:
            raise NotImplementedError(
                f"torch {torch.__version__} has no "
                f"torch.nn.functional.linear_cross_entropy "
                "with torch.nn.LinearCrossEntropyOptions"
            )
        return lambda x, w, t: lce(x, w, t, options=options())
    if method == "xent":
        from xent.chunked import chunked_linear_cross_entropy

        return lambda x, w, t: chunked_linear_cross_entropy(
            x, w, t, chunk_size=chunk_size
        )
    raise ValueError(f"method: expected one of {METHODS}, got {method!r}")


def _sizes(device: str, small: bool) -> dict:
    size = dict(SIZES[device])
    if small:
        size.update(
            tokens=size["tokens"] // 8,
            hidden=size["hidden"] // 8,
            vocab=size["vocab"] // 8,
        )
    return size


def run_one(
    method: str,
    device: str,
    measure: str,
    chunk_size=None,
    repeats=None,
    autocast=False,
    small=False,
) -> dict:
    """Build the inputs, run one warm-up step, then measure ``"memory"`` (one
    step), ``"time"`` or ``"both"`` (memory, then time, in this one process).
    """
    import torch

    size = _sizes(device, small)
    repeats = repeats or size["repeats"]
    dtype = getattr(torch, size["dtype"])
    amp_dtype = torch.bfloat16 if dtype == torch.float32 else dtype
    if autocast:  # float32 master copies; the products in amp_dtype
        dtype = torch.float32
    try:
        fn = _loss_fn(method, chunk_size)
    except NotImplementedError as exc:
        return dict(method=method, available=False, reason=str(exc))

    g = torch.Generator().manual_seed(0)
    n, h, v = size["tokens"], size["hidden"], size["vocab"]
    x = (
        (torch.randn(n, h, generator=g) / h**0.5)
        .to(device=device, dtype=dtype)
        .requires_grad_()
    )
    w = (
        torch.randn(v, h, generator=g)
        .to(device=device, dtype=dtype)
        .requires_grad_()
    )
    t = torch.randint(0, v, (n,), generator=g).to(device)

    def step():
        x.grad = w.grad = None
        with torch.autocast(device, dtype=amp_dtype, enabled=autocast):
            loss = fn(x, w, t)
        loss.backward()
        if device == "cuda":
            torch.cuda.synchronize()
        return loss

    # warm-up: one full step, so that one-time allocations (thread pools,
    # kernel caches) are not counted; steady state is what a training loop sees
    step()
    x.grad = w.grad = None

    result = dict(
        method=method,
        available=True,
        device=device,
        dtype=str(dtype).removeprefix("torch."),
        autocast=str(amp_dtype).removeprefix("torch.") if autocast else None,
        tokens=n,
        hidden=h,
        vocab=v,
        threads=torch.get_num_threads(),
    )
    if measure in ("memory", "both"):
        if device == "cuda":
            base = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
            loss = step()
            result["extra_mib"] = (
                torch.cuda.max_memory_allocated() - base
            ) / MIB
            result["memory_method"] = "torch.cuda.max_memory_allocated"
        else:
            base = _proc_status("VmRSS")
            reset = _reset_peak_rss()
            loss = step()
            peak = _proc_status("VmHWM")
            if not reset:
                peak = max(
                    peak,
                    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                )
            result["extra_mib"] = (peak - base) / MIB
            result["memory_method"] = (
                "VmHWM reset" if reset else "VmHWM since start (no reset)"
            )
        result["loss"] = loss.item()
        result["grad_norm_w"] = float(w.grad.float().norm())
        if measure == "memory":
            return result

    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    result["time_s"] = statistics.median(times)
    result["min_time_s"] = min(times)
    result["repeats"] = repeats
    return result


# -----------------------------------------------------------------------------
# The driver


def run_in_subprocess(
    method: str,
    device: str,
    measure: str,
    chunk_size=None,
    repeats=None,
    autocast=False,
    small=False,
) -> dict:
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--method",
        method,
        "--device",
        device,
        "--measure",
        measure,
    ]
    cmd += ["--autocast"] if autocast else []
    cmd += ["--small"] if small else []
    if chunk_size is not None:
        cmd += ["--chunk-size", str(chunk_size)]
    if repeats is not None:
        cmd += ["--repeats", str(repeats)]
    env = dict(os.environ)
    if measure == "memory":
        # A fixed mmap threshold: every allocation of 128 KiB or more gets its
        # own mapping and is returned to the system when freed, so RSS follows
        # the live tensors. (glibc's default adapts the threshold at run time
        # and keeps freed buffers resident, which makes the peak depend on the
        # order of earlier allocations.) Timing runs use the default allocator.
        env.setdefault("MALLOC_MMAP_THRESHOLD_", str(128 * 1024))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    reason = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return dict(
        method=method,
        available=False,
        reason=f"the subprocess failed: {reason}",
    )


def measure_method(
    method: str,
    device: str,
    chunk_size=None,
    repeats=None,
    autocast=False,
    small=False,
) -> dict:
    memory = run_in_subprocess(
        method, device, "memory", chunk_size, repeats, autocast, small
    )
    if not memory["available"]:
        return memory
    timing = run_in_subprocess(
        method, device, "time", chunk_size, repeats, autocast, small
    )
    if not timing["available"]:
        return timing
    return {**memory, **timing}


def print_table(device: str, results: list[dict], small=False) -> None:
    import torch

    size = _sizes(device, small)
    ok = [r for r in results if r["available"]]
    dtype = size["dtype"]
    if ok and ok[0].get("autocast"):
        dtype = f"{ok[0]['dtype']} under autocast({ok[0]['autocast']})"
    threads = ""
    if ok and device == "cpu":
        threads = f", {ok[0]['threads']} thread" + (
            "s" if ok[0]["threads"] != 1 else ""
        )
    print(
        f"\n{device.upper()}: {size['tokens']} tokens, hidden "
        f"{size['hidden']}, vocabulary {size['vocab']}, "
        f"{dtype}, forward + backward{threads}, torch {torch.__version__}"
    )
    naive = next((r for r in ok if r["method"] == "naive"), None)
    header = (
        f"{'method':<8} {'extra MiB':>10} {'time s':>8} {'min s':>8} "
        f"{'vs naive':>9} {'loss':>10}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        if not r["available"]:
            print(
                f"{r['method']:<8} {'n/a':>10} {'n/a':>8} {'n/a':>8} "
                f"{'n/a':>9} {'n/a':>10}   ({r['reason']})"
            )
            continue
        ratio = f"{r['time_s'] / naive['time_s']:.2f}x" if naive else "n/a"
        print(
            f"{r['method']:<8} {r['extra_mib']:>10.1f} {r['time_s']:>8.3f} "
            f"{r['min_time_s']:>8.3f} "
            f"{ratio:>9} {r['loss']:>10.5f}"
        )
    repeats = ok[0]["repeats"] if ok else "?"
    if device == "cpu":
        floor = (size["tokens"] + size["vocab"]) * size["hidden"] * 4 / MIB
        how = ok[0]["memory_method"] if ok else "?"
        print(
            f"extra: peak RSS above the inputs ({how}); the gradients of x "
            f"and W alone take {floor:.1f} MiB.\n"
            f"time: median (and minimum) of {repeats} runs after a warm-up; "
            f"vs naive: ratio of medians."
        )
    else:
        print(
            "extra: torch.cuda.max_memory_allocated above the inputs.\n"
            f"time: median (and minimum) of {repeats} runs after a warm-up; "
            f"vs naive: ratio of medians."
        )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--method",
        choices=METHODS,
        help="run one method and print one JSON line",
    )
    parser.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        help="default: cpu, and cuda if available",
    )
    parser.add_argument(
        "--measure",
        choices=("memory", "time", "both"),
        default="both",
        help="with --method: what to measure (default: both, in one process)",
    )
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=None,
        help="xent only (default: its own)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed runs (default: 3 CPU, 5 CUDA)",
    )
    parser.add_argument(
        "--autocast",
        action="store_true",
        help="float32 x and W under torch.autocast(bfloat16)",
    )
    parser.add_argument(
        "--small",
        action="store_true",
        help="sizes divided by 8: a quick check",
    )
    parser.add_argument(
        "--json",
        metavar="PATH",
        help="also write the CPU table as JSON "
        "(the language-modelling chapter reads book/data/llm_loss_cpu.json)",
    )
    args = parser.parse_args(argv)

    if args.method is not None:
        result = run_one(
            args.method,
            args.device or "cpu",
            args.measure,
            args.chunk_size,
            args.repeats,
            args.autocast,
            args.small,
        )
        print("RESULT " + json.dumps(result))
        return

    import torch

    devices = (
        [args.device]
        if args.device
        else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    )
    if "cuda" in devices and not torch.cuda.is_available():
        sys.exit("--device cuda: torch.cuda.is_available() is False here")
    for device in devices:
        load_before = os.getloadavg()[0]
        results = [
            measure_method(
                m,
                device,
                args.chunk_size,
                args.repeats,
                args.autocast,
                args.small,
            )
            for m in METHODS
        ]
        print_table(device, results, args.small)
        if args.json and device == "cpu" and not (args.autocast or args.small):
            write_json(
                args.json,
                results,
                (load_before, os.getloadavg()[0]),
                args.chunk_size,
            )


_WHAT = {
    "naive": "`F.cross_entropy(x @ W.T, t)`",
    "torch": "`F.linear_cross_entropy(x, W, t, options=...)`",
    "xent": "`chunked_linear_cross_entropy(x, W, t)`",
}


def write_json(path, results, load_average, chunk_size=None) -> None:
    """Store the CPU table with the date, the machine and its load, for the
    book to display."""
    import datetime
    import platform

    import torch

    from xent.chunked import default_chunk_size

    size = SIZES["cpu"]
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    naive = next(r for r in results if r["method"] == "naive")
    out = {
        "source": (
            "benchmarks/llm_loss.py (python benchmarks/llm_loss.py "
            "--json book/data/llm_loss_cpu.json)"
        ),
        "setup": (
            f"{size['tokens']} tokens, hidden width {size['hidden']}, "
            f"vocabulary {size['vocab']:,}, "
            f"{size['dtype']}, one forward and backward pass; extra memory = "
            f"peak resident memory above "
            f"the inputs; time = median and minimum of {size['repeats']} "
            f"runs after a warm-up"
        ).replace(",000", " 000"),
        "date": datetime.date.today().isoformat(),
        "machine": (
            f"{os.cpu_count()}-core {cpu} CPU, Linux, Python "
            f"{platform.python_version()}, "
            f"torch {torch.__version__} with {torch.get_num_threads()} threads"
        ),
        "load_average_before_after": [round(v, 1) for v in load_average],
        "xent_chunk_size": chunk_size
        or default_chunk_size(size["tokens"], size["vocab"]),
        "note": (
            "Times vary between runs on a shared machine (see the load "
            "average); the memory "
            "figures are reproducible."
        ),
        "results": [
            dict(
                method=r["method"],
                what=_WHAT[r["method"]],
                extra_mib=round(r["extra_mib"], 1),
                seconds=round(r["time_s"], 2),
                min_seconds=round(r["min_time_s"], 2),
                ratio=round(r["time_s"] / naive["time_s"], 2),
                loss=round(r["loss"], 5),
            )
            for r in results
        ],
    }
    with open(path, "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()

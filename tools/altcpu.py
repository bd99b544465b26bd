"""Run a command under the ALTERNATIVE CPU configuration, checked first.

    python tools/altcpu.py python -m pytest --nbval book/03_*.ipynb ...
    python tools/altcpu.py --print    # the environment, one shell line
    python tools/altcpu.py --check    # only check that every variable works

The notebooks' stored outputs must reproduce on the learners' machines, which
have other CPUs than the author's. nbval compares text exactly, so `make test`
runs it twice: natively (one thread) and under this configuration, which sends
every numerical library down another code path on the same machine:

- PyTorch: ``ATEN_CPU_CAPABILITY=default`` (the scalar kernels, not
  AVX-512/AVX2);
- oneDNN (PyTorch's convolutions): ``ONEDNN_MAX_CPU_ISA=SSE41``;
- MKL (PyTorch's matrix products): ``MKL_CBWR=COMPATIBLE`` (the
  conditional-numerical-reproducibility path, whose results differ from the
  native ones) and ``MKL_ENABLE_INSTRUCTIONS=SSE4_2`` (no observable effect on
  the project's AMD processors, where MKL takes its generic path anyway; it
  caps MKL on Intel ones);
- numpy: ``NPY_DISABLE_CPU_FEATURES`` lists every target numpy dispatches to
  above its baseline (numpy 2.4 on x86-64: ``X86_V3 X86_V4 AVX512_ICL
  AVX512_SPR``), so that numpy runs its baseline 128-bit code, as on a machine
  without AVX (and like arm64's 128-bit NEON). numpy ignores, with a hidden
  ImportWarning, any name that is not such a target (``AVX512F``,
  ``AVX512_SKX``, ...), so the list is read from the installed numpy, not
  typed;
- threads: 2 instead of 1 (``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``; OpenBLAS,
  numpy's BLAS, follows ``OMP_NUM_THREADS``), which changes how OpenBLAS and
  PyTorch split their sums.

``OPENBLAS_CORETYPE`` is left as the machine has it: where it is set (Haswell
on the project's machines), it is set because other kernels of older OpenBLAS
builds compute wrong results or crash on that processor, and the project's rule
is to change it neither in tests nor in CI. The thread count above is what
changes OpenBLAS's results here.

Before running the command, a fresh interpreter under the configuration checks
that each variable took effect (PyTorch's capability is DEFAULT; two threads in
PyTorch and OpenBLAS; numpy dispatches to none of its targets; oneDNN's verbose
mode reports SSE4.1; MKL's reports ``CNR:COMPATIBLE``); if one did not, nothing
runs and the exit status is 2. A library or feature that this machine lacks (no
MKL on arm64, say) is reported and skipped.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

THREADS = "2"
FIXED = {
    "OMP_NUM_THREADS": THREADS,
    "MKL_NUM_THREADS": THREADS,
    "ATEN_CPU_CAPABILITY": "default",
    "ONEDNN_MAX_CPU_ISA": "SSE41",
    "MKL_CBWR": "COMPATIBLE",
    "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
}

# Runs in a fresh interpreter under the configuration; prints KEY=VALUE lines
# (and whatever oneDNN and MKL print in verbose mode, on the same stdout).
PROBE = r"""
import io, contextlib
import numpy as np
from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
found = [t for t in __cpu_dispatch__ if __cpu_features__.get(t)]
print("numpy_found=" + ",".join(found))
try:
    import torch
except ImportError:
    print("torch=absent")
else:
    print("torch_capability=" + torch.backends.cpu.get_cpu_capability())
    print("torch_threads=%d" % torch.get_num_threads())
    print("torch_mkl=%d" % torch.backends.mkl.is_available())
    print("torch_mkldnn=%d" % torch.backends.mkldnn.is_available())
    import sys
    sys.stdout.flush()
    g = torch.Generator().manual_seed(0)
    a = torch.randn(64, 64, generator=g)
    (a @ a).sum()
    x = torch.randn(2, 8, 16, 16, generator=g)
    w = torch.randn(8, 8, 3, 3, generator=g)
    if torch.backends.mkldnn.is_available():
        with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
            torch.nn.functional.conv2d(x, w)
try:
    from threadpoolctl import threadpool_info
except ImportError:
    print("openblas_threads=unknown")
else:
    for pool in threadpool_info():
        if pool.get("internal_api") == "openblas":
            print("openblas_threads=%d" % pool["num_threads"])
"""


def numpy_targets(python: str = sys.executable) -> list[str]:
    """The CPU targets the installed numpy dispatches to above its baseline."""
    code = (
        "from numpy._core._multiarray_umath import __cpu_dispatch__ as d; "
        "print(*d)"
    )
    out = subprocess.run(
        [python, "-c", code], capture_output=True, text=True, check=True
    )
    return out.stdout.split()


def environment(python: str = sys.executable) -> dict[str, str]:
    """The variables of the alternative configuration (numpy's list read from
    numpy).
    """
    env = dict(FIXED)
    env["NPY_DISABLE_CPU_FEATURES"] = " ".join(numpy_targets(python))
    return env


def check(
    env: dict[str, str], python: str = sys.executable
) -> tuple[list[str], list[str]]:
    """Run the probe under ``env``: ``(problems, notes)``.

    No problem: every variable took effect.
    """
    full = {**os.environ, **env, "MKL_VERBOSE": "1"}
    out = subprocess.run(
        [python, "-c", PROBE], capture_output=True, text=True, env=full
    )
    if out.returncode:
        return [f"the probe failed:\n{out.stdout}{out.stderr}"], []
    text = out.stdout
    facts = dict(re.findall(r"^([a-z_]+)=(.*)$", text, flags=re.M))  # probe
    problems, notes = [], []
    if facts.get("numpy_found"):
        problems.append(
            f"numpy still dispatches to {facts['numpy_found']} although "
            f"NPY_DISABLE_CPU_FEATURES={env['NPY_DISABLE_CPU_FEATURES']!r}"
        )
    if not env["NPY_DISABLE_CPU_FEATURES"]:
        notes.append("numpy dispatches to no target here")
    if facts.get("torch") != "absent":
        _check_torch(facts, text, problems, notes)
    if facts.get("openblas_threads") not in (THREADS, "unknown", None):
        problems.append(
            f"OpenBLAS uses {facts['openblas_threads']} threads, not {THREADS}"
        )
    return problems, notes


def _check_torch(facts: dict, text: str, problems: list, notes: list) -> None:
    """PyTorch's capability and threads, oneDNN's ISA, MKL's CNR mode."""
    if facts.get("torch_capability") != "DEFAULT":
        problems.append(
            "PyTorch's CPU capability is "
            f"{facts.get('torch_capability')}, not DEFAULT "
            "(ATEN_CPU_CAPABILITY=default ignored)"
        )
    if facts.get("torch_threads") != THREADS:
        problems.append(
            f"PyTorch uses {facts.get('torch_threads')} threads, not {THREADS}"
        )
    lines = text.splitlines()
    if facts.get("torch_mkldnn") == "1":
        isa = [line for line in lines if ",info,cpu,isa:" in line]
        if not isa or "SSE4.1" not in isa[0]:
            problems.append(
                f"oneDNN runs {isa[0] if isa else 'no reported ISA'}, "
                "not SSE4.1"
            )
    else:
        notes.append("no oneDNN")
    if facts.get("torch_mkl") != "1":
        notes.append("no MKL")
        return
    gemm = [line for line in lines if line.startswith("MKL_VERBOSE SGEMM")]
    if not gemm:
        notes.append("MKL reported no SGEMM call")
    elif "CNR:COMPATIBLE" not in gemm[0]:
        problems.append(
            f"MKL does not run its COMPATIBLE path: {gemm[0][-60:]}"
        )


def shell_line(env: dict[str, str]) -> str:
    return " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--":
        argv = argv[1:]
    env = environment()
    if argv == ["--print"]:
        print(shell_line(env))
        return 0
    problems, notes = check(env)
    if problems:
        print(
            "altcpu: the alternative CPU configuration did not take effect:",
            file=sys.stderr,
        )
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    noted = f" ({'; '.join(notes)})" if notes else ""
    print(f"altcpu: checked{noted}: {shell_line(env)}", flush=True)
    if argv == ["--check"] or not argv:
        return 0
    os.execvpe(argv[0], argv, {**os.environ, **env})
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

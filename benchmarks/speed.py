"""xent's softmax cross-entropy loss and gradient against PyTorch's forward +
backward.

    OMP_NUM_THREADS=1 python benchmarks/speed.py [--rows 8192 --classes 1000
                                                  --repeats 30]

float32 logits with random integer targets, the median of repeated runs.
xent runs numpy single-threaded, so PyTorch is given the same thread count
(``torch.set_num_threads(1)``); its time with every core is printed too, for
the record. Every method is timed in turn, round after round, so that a change
in the machine's load affects all of them alike. Two xent rows: the loss and
the gradient by two calls (``softmax_cross_entropy`` then
``softmax_cross_entropy_grad``) and by one
(``softmax_cross_entropy_and_grad``). The ratio is xent / PyTorch at one
thread: below 1 is faster.

Two inputs: "random" logits (N(0, 3^2); the true class rarely leads) and
"confident" logits (the true class leads by 5 to 15, as late in training),
where xent takes float64 exponentials (the one-pass function) or recomputes
each loss in float64 (the loss alone) to keep the tiny losses within 2 ulp
(PyTorch's loss loses their digits).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

import xent


def interleaved_medians(
    fns: list[Callable[[], object]], repeats: int
) -> list[float]:
    """Median wall time in ms of each function, timed in turn (one of each
    per round)."""
    times: list[list[float]] = [[] for _ in fns]
    for fn in fns:
        fn()  # warm-up
    for _ in range(repeats):
        for fn, bucket in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - start)
    return [1e3 * float(np.median(bucket)) for bucket in times]


def inputs(
    kind: str, rows: int, classes: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """float32 logits and integer targets of one kind of input."""
    rng = np.random.default_rng(seed)
    z = (3 * rng.standard_normal((rows, classes))).astype(np.float32)
    t = rng.integers(0, classes, rows)
    if kind == "confident":
        r = np.arange(rows)
        lead = rng.uniform(5, 15, rows).astype(np.float32)
        z[r, t] = z.max(axis=1) + lead
    return z, t


def methods(
    z: np.ndarray, t: np.ndarray, cores: int
) -> dict[str, Callable[[], object]]:
    """The timed functions for one input."""
    zt = torch.from_numpy(z).requires_grad_()
    tt = torch.from_numpy(t)

    def xent_two_calls() -> None:
        xent.softmax_cross_entropy(z, t)
        xent.softmax_cross_entropy_grad(z, t)

    def xent_one_pass() -> None:
        xent.softmax_cross_entropy_and_grad(z, t)

    def torch_threads(n: int) -> Callable[[], None]:
        def run() -> None:
            torch.set_num_threads(n)
            zt.grad = None
            F.cross_entropy(zt, tt).backward()

        return run

    return {
        "xent, two calls": xent_two_calls,
        "xent, one pass": xent_one_pass,
        "torch, 1 thread": torch_threads(1),
        f"torch, {cores} threads": torch_threads(cores),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=8192)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    print(
        "softmax cross-entropy, loss + gradient, "
        f"({args.rows}, {args.classes}) float32, median of {args.repeats} "
        f"runs in ms; ratio = time / torch's at 1 thread "
        f"(OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')})"
    )
    for kind in ("random", "confident"):
        z, t = inputs(kind, args.rows, args.classes)
        fns = methods(z, t, cores)
        ms = interleaved_medians(list(fns.values()), args.repeats)
        one = ms[2]
        print(f"\n{kind} logits")
        for name, value in zip(fns, ms, strict=True):
            print(f"  {name:<20}{value:>9.2f} ms{value / one:>8.2f}x")


if __name__ == "__main__":
    main()

"""xent's softmax cross-entropy forward + gradient against PyTorch's forward + backward.

    python benchmarks/speed.py [--rows 8192 --classes 1000 --repeats 30]

float32 logits with random integer targets, the median of repeated runs. xent runs numpy
single-threaded, so PyTorch is given the same thread count (torch.set_num_threads(1)); its time
with every core is printed too, for the record. The three are timed in turn, round after round. The ratio is xent / PyTorch: below 1 is faster.
Two inputs: "random" logits (N(0, 3^2); the true class rarely leads) and "confident" logits (the
true class leads by 5 to 15, as late in training), where xent recomputes rows with exact
differences to keep the tiny losses accurate.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

import xent


def interleaved_medians(fns, repeats):
    """Median wall time in ms of each function, timed in turn (one of each per round), so that a
    change in the machine's load during the run affects all of them alike."""
    times = [[] for _ in fns]
    for fn in fns:
        fn()  # warm-up
    for _ in range(repeats):
        for fn, bucket in zip(fns, times):
            start = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - start)
    return [1e3 * float(np.median(bucket)) for bucket in times]


def inputs(kind, rows, classes, seed=0):
    rng = np.random.default_rng(seed)
    z = (3 * rng.standard_normal((rows, classes))).astype(np.float32)
    t = rng.integers(0, classes, rows)
    if kind == "confident":
        r = np.arange(rows)
        z[r, t] = z.max(axis=1) + rng.uniform(5, 15, rows).astype(np.float32)
    return z, t


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=8192)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args(argv)
    cores = os.cpu_count()
    print(f"softmax cross-entropy, forward + gradient, ({args.rows}, {args.classes}) float32, "
          f"median of {args.repeats}; ms")
    print(f"{'input':<11}{'xent':>8}{'torch 1 thr':>13}{'ratio':>8}{f'torch {cores} thr':>14}{'ratio':>8}")
    for kind in ("random", "confident"):
        z, t = inputs(kind, args.rows, args.classes)
        zt = torch.from_numpy(z).requires_grad_()
        tt = torch.from_numpy(t)

        def run_xent():
            xent.softmax_cross_entropy(z, t)
            xent.softmax_cross_entropy_grad(z, t)

        def run_torch():
            zt.grad = None
            F.cross_entropy(zt, tt).backward()

        def run_torch_one():
            torch.set_num_threads(1)
            run_torch()

        def run_torch_all():
            torch.set_num_threads(cores)
            run_torch()

        ours, one, many = interleaved_medians([run_xent, run_torch_one, run_torch_all], args.repeats)
        print(f"{kind:<11}{ours:>8.2f}{one:>13.2f}{ours / one:>8.2f}{many:>14.2f}{ours / many:>8.2f}")


if __name__ == "__main__":
    main()

"""Worst error in ulp against mpmath: xent beside the naive formulas, PyTorch
and scipy.

    python benchmarks/accuracy.py [--rows 100]

Regimes (xent.testing): ordinary logits; magnitudes up to 1e4; confidently
correct rows with margins 5..700 (tiny losses, where logsumexp(z) - z_t
cancels); confidently wrong rows. Binary cross-entropy with logits over |z|
from 1e-3 to 1e3 for targets 0, 1 and 0.3. "inf" means a NaN/inf result, or all
digits lost. The test suite asserts xent's bound (4 ulp).
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import scipy.special as sc
import torch
import torch.nn.functional as F

import xent
from xent import naive
from xent.testing import (
    BCE_TARGETS,
    SOFTMAX_REGIMES,
    bce_logits,
    ref_bce_with_logits,
    ref_log_softmax,
    ref_logsumexp,
    ref_softmax_cross_entropy,
    softmax_regime,
    ulp_error,
)


def _worst(values, refs, dtype):
    return max(
        ulp_error(v, r, dtype)
        for v, r in zip(np.ravel(values), refs, strict=False)
    )


def _fmt(x):
    if not np.isfinite(x):
        return "inf"
    return f"{x:.3g}" if x < 1e4 else f"{x:.1e}"


def softmax_rows(dtype, rows):
    out = []
    for regime in SOFTMAX_REGIMES:
        z, t = softmax_regime(regime, dtype, rows=rows)
        r = np.arange(len(t))
        zt = torch.from_numpy(z)
        with np.errstate(all="ignore"):
            ce = {
                "xent": xent.softmax_cross_entropy(z, t, reduction="none"),
                "naive": -naive.log_softmax(z)[r, t],
                "torch": F.cross_entropy(
                    zt, torch.from_numpy(t), reduction="none"
                ).numpy(),
                "scipy": -sc.log_softmax(z, axis=-1)[r, t],
            }
            # the loss of the one-pass loss and gradient; the others'
            # columns repeat theirs (PyTorch's forward is the same either way)
            ce_grad = dict(ce)
            ce_grad["xent"] = xent.softmax_cross_entropy_and_grad(
                z, t, reduction="none"
            )[0]
            ls = {
                "xent": xent.log_softmax(z),
                "naive": naive.log_softmax(z),
                "torch": F.log_softmax(zt, -1).numpy(),
                "scipy": sc.log_softmax(z, axis=-1),
            }
            lse = {
                "xent": xent.logsumexp(z),
                "naive": naive.logsumexp(z),
                "torch": torch.logsumexp(zt, -1).numpy(),
                "scipy": sc.logsumexp(z, axis=-1),
            }
        ref_ce = [ref_softmax_cross_entropy(z[i], t[i]) for i in r]
        ref_ls = [v for i in r for v in ref_log_softmax(z[i])]
        ref_lse = [ref_logsumexp(z[i]) for i in r]
        for name, vals, refs in (
            ("softmax_cross_entropy", ce, ref_ce),
            ("..._and_grad (loss)", ce_grad, ref_ce),
            ("log_softmax", ls, ref_ls),
            ("logsumexp", lse, ref_lse),
        ):
            out.append(
                (
                    name,
                    regime,
                    {k: _worst(v, refs, dtype) for k, v in vals.items()},
                )
            )
    return out


def bce_rows(dtype):
    out = []
    z = bce_logits(dtype)
    for y in BCE_TARGETS:
        yy = np.full_like(z, y)
        with np.errstate(all="ignore"):
            vals = {
                "xent": xent.binary_cross_entropy_with_logits(
                    z, yy, reduction="none"
                ),
                "naive": -(
                    yy * naive.log_sigmoid(z)
                    + (1 - yy) * np.log(1 - naive.sigmoid(z))
                ),
                "torch": F.binary_cross_entropy_with_logits(
                    torch.from_numpy(z), torch.from_numpy(yy), reduction="none"
                ).numpy(),
                "scipy": -(yy * sc.log_expit(z) + (1 - yy) * sc.log_expit(-z)),
            }
        refs = [ref_bce_with_logits(v, y) for v in z]
        out.append(
            (
                "bce_with_logits",
                f"y={y:g}",
                {k: _worst(v, refs, dtype) for k, v in vals.items()},
            )
        )
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, default=100, help="rows per softmax regime"
    )
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    methods = ("xent", "naive", "torch", "scipy")
    print(
        f"worst error in ulp against mpmath ({args.rows} rows x 10 classes "
        "per regime)"
    )
    for dtype in (np.float64, np.float32):
        print(f"\n{np.dtype(dtype).name}")
        print(
            f"{'function':<24}{'regime':<12}"
            + "".join(f"{m:>10}" for m in methods)
        )
        for name, regime, errs in softmax_rows(dtype, args.rows) + bce_rows(
            dtype
        ):
            print(
                f"{name:<24}{regime:<12}"
                + "".join(f"{_fmt(errs[m]):>10}" for m in methods)
            )


if __name__ == "__main__":
    main()

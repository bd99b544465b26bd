"""Accuracy measurement: the regimes of the accuracy benchmark, mpmath
references, ulp errors.

Shared by the test suite (which asserts xent's bound),
``benchmarks/accuracy.py`` (which prints xent beside the naive formulas,
PyTorch and scipy) and the numerics chapter. Needs ``mpmath`` (imported on
first use).

Examples
--------
>>> import numpy as np
>>> from xent.testing import ulp_error
>>> one = np.float32(1.0)
>>> float(ulp_error(one + np.spacing(one), 1.0, np.float32))
1.0
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

__all__ = [
    "BCE_TARGETS",
    "SOFTMAX_REGIMES",
    "bce_logits",
    "ref_bce_with_logits",
    "ref_log_softmax",
    "ref_logsumexp",
    "ref_softmax_cross_entropy",
    "softmax_regime",
    "ulp_error",
]

#: The regimes of the accuracy benchmark for softmax cross-entropy,
#: log-softmax and log-sum-exp.
SOFTMAX_REGIMES = ("ordinary", "large", "confident", "wrong")
#: Targets of the binary cross-entropy regime.
BCE_TARGETS = (0.0, 1.0, 0.3)

_DPS = 60


def _mp() -> Any:
    import mpmath

    mpmath.mp.dps = _DPS
    return mpmath


def softmax_regime(
    name: str,
    dtype: DTypeLike,
    *,
    rows: int = 200,
    classes: int = 10,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Logits ``(rows, classes)`` and integer targets of one regime.

    ``"ordinary"``: N(0, 3^2) logits. ``"large"``: uniform in [-1e4, 1e4].
    ``"confident"``: the target logit exceeds the largest other one by margins
    from 5 to 700 (geometric; the loss is as small as 1e-304). ``"wrong"``: the
    target logit lies 5 to 700 below the largest.
    """
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((rows, classes))
    t = rng.integers(0, classes, rows)
    r = np.arange(rows)
    if name == "ordinary":
        z *= 3.0
    elif name == "large":
        z = rng.uniform(-1e4, 1e4, (rows, classes))
    elif name in ("confident", "wrong"):
        margins = np.geomspace(5.0, 700.0, rows)
        z[r, t] = -np.inf
        top = z.max(axis=1)
        z[r, t] = top + margins if name == "confident" else top - margins
    else:
        raise ValueError(
            f"name: expected one of {SOFTMAX_REGIMES}, got {name!r}"
        )
    return z.astype(dtype), t


def bce_logits(dtype: DTypeLike, *, points: int = 121) -> np.ndarray:
    """Logits with ``|z|`` from 1e-3 to 1e3 (geometric), both signs.

    Of dtype ``dtype``.
    """
    mags = np.geomspace(1e-3, 1e3, points)
    return np.concatenate([-mags[::-1], mags]).astype(dtype)


def ref_logsumexp(row: np.ndarray) -> Any:
    """``log(sum(exp(row)))`` in mpmath (60 digits) from the exact inputs."""
    mp = _mp()
    vals = [mp.mpf(float(v)) for v in row]
    m = max(vals)
    return m + mp.log(mp.fsum(mp.exp(v - m) for v in vals))


def ref_softmax_cross_entropy(row: np.ndarray, target: int) -> Any:
    """``logsumexp(row) - row[target]`` in mpmath, without cancellation."""
    mp = _mp()
    vals = [mp.mpf(float(v)) for v in row]
    zt = vals[target]
    rest = mp.fsum(mp.exp(v - zt) for j, v in enumerate(vals) if j != target)
    return mp.log1p(rest)


def ref_log_softmax(row: np.ndarray) -> list[Any]:
    """Every entry of ``log_softmax(row)`` in mpmath.

    Each entry is accurate relative to itself.
    """
    return [-ref_softmax_cross_entropy(row, j) for j in range(len(row))]


def ref_bce_with_logits(z: float, y: float) -> Any:
    """``y softplus(-z) + (1 - y) softplus(z)`` in mpmath."""
    mp = _mp()
    z, y = mp.mpf(float(z)), mp.mpf(float(y))
    return y * mp.log1p(mp.exp(-z)) + (1 - y) * mp.log1p(mp.exp(z))


def ulp_error(computed: Any, reference: Any, dtype: DTypeLike) -> float:
    """``|computed - reference|`` in units in the last place of ``dtype``.

    The unit is that of the reference rounded to ``dtype``.

    ``inf`` where ``computed`` is not finite but the reference is (NaN,
    overflow). The unit is ``np.spacing`` of the rounded reference, so
    subnormal results are measured in the subnormal spacing, and a reference
    that rounds to 0 has the smallest subnormal as its unit.
    """
    ref = float(reference)
    exact = np.asarray(ref, dtype=np.float64).astype(dtype)
    value = float(computed)
    if not np.isfinite(value):
        return 0.0 if value == ref else np.inf
    unit = float(np.spacing(np.abs(exact)))
    if isinstance(reference, (int, float, np.floating)):
        return abs(value - ref) / unit
    mp = (
        _mp()
    )  # an mpmath number: take the difference before rounding the reference
    return float(abs(mp.mpf(value) - reference) / unit)

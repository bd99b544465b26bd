"""The textbook formulas, computed literally. **Numerically unstable on
purpose.**

These functions exist so that the book can show where the direct formulas fail:
``exp`` overflows above about 709.78 in float64 (88.72 in float32, 11.09 in
float16), underflows below about -745, and ``1 - p`` loses every digit of a
probability close to 1. Never train with them; use :mod:`xent.numerics` and
:mod:`xent.losses`. They warn nothing: overflow and ``log(0)`` produce
``inf``/``nan`` silently, exactly as a learner's first implementation would.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from xent._validation import as_float_array

__all__ = [
    "binary_cross_entropy_with_logits",
    "log_sigmoid",
    "log_softmax",
    "logsumexp",
    "sigmoid",
    "softmax",
    "softmax_cross_entropy",
]


def softmax(x: ArrayLike, *, axis: int = -1) -> np.ndarray:
    r"""``exp(x) / sum(exp(x))`` with no shift: ``nan`` for logits above ~709.

    Examples
    --------
    >>> from xent import naive
    >>> naive.softmax([1000.0, 0.0])
    array([nan,  0.])
    """
    x = as_float_array(x, "x")
    with np.errstate(all="ignore"):
        e = np.exp(x)
        return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x: ArrayLike, *, axis: int = -1) -> np.ndarray:
    r"""``log(softmax(x))``: ``-inf`` on underflow, ``nan`` on overflow.

    Examples
    --------
    >>> from xent import naive
    >>> naive.log_softmax([0.0, -800.0])
    array([  0., -inf])
    """
    with np.errstate(all="ignore"):
        return np.log(softmax(x, axis=axis))


def logsumexp(x: ArrayLike, *, axis: int = -1) -> Any:
    r"""``log(sum(exp(x)))``: ``inf`` on overflow, ``-inf`` on underflow.

    Examples
    --------
    >>> from xent import naive
    >>> float(naive.logsumexp([1000.0, 1000.0]))
    inf
    """
    x = as_float_array(x, "x")
    with np.errstate(all="ignore"):
        return np.log(np.sum(np.exp(x), axis=axis))


def sigmoid(x: ArrayLike) -> Any:
    r"""``1 / (1 + exp(-x))``: ``exp`` overflows for ``x < -709``.

    Examples
    --------
    >>> from xent import naive
    >>> float(naive.sigmoid(40.0))            # rounds to exactly 1
    1.0
    """
    x = as_float_array(x, "x")
    with np.errstate(all="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def log_sigmoid(x: ArrayLike) -> Any:
    r"""``log(sigmoid(x))``: 0 above 37, ``-inf`` below -745 (float64).

    Examples
    --------
    >>> from xent import naive
    >>> naive.log_sigmoid([40.0, -800.0])
    array([  0., -inf])
    """
    with np.errstate(all="ignore"):
        return np.log(sigmoid(x))


def softmax_cross_entropy(logits: ArrayLike, targets: ArrayLike) -> Any:
    r"""Mean of ``-log(softmax(logits)[target])``, as most textbooks write it.

    ``targets`` are integer classes along the last axis of ``logits``. Gives
    ``inf`` as soon as the true class's probability underflows and ``nan`` as
    soon as a logit overflows.

    Examples
    --------
    >>> from xent import naive
    >>> float(naive.softmax_cross_entropy([[0.0, 0.0]], [0]))
    0.6931471805599453
    >>> float(naive.softmax_cross_entropy([[1000.0, 0.0]], [0]))
    nan
    """
    logp = log_softmax(logits, axis=-1)
    t = np.asarray(targets)
    picked = np.take_along_axis(logp, t[..., None], axis=-1)[..., 0]
    return -np.mean(picked)


def binary_cross_entropy_with_logits(
    logits: ArrayLike, targets: ArrayLike
) -> Any:
    r"""Mean of ``-[y log(sigmoid(z)) + (1 - y) log(1 - sigmoid(z))]``.

    ``1 - sigmoid(z)`` is exactly 0 for ``z > 37`` in float64, so the loss
    becomes ``inf``.

    Examples
    --------
    >>> from xent import naive
    >>> float(naive.binary_cross_entropy_with_logits([40.0], [0.0]))
    inf
    """
    z = as_float_array(logits, "logits")
    y = as_float_array(targets, "targets")
    p = sigmoid(z)
    with np.errstate(all="ignore"):
        return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))

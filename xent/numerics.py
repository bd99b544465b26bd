"""Stable building blocks: log-sum-exp, softmax, log-softmax, sigmoid,
log-sigmoid, softplus.

All functions take any real array; floats keep their dtype (float16 is computed
in float32 and rounded back), bools and integers are promoted to float64.
Row-wise functions work along ``axis`` (the last by default, as in optax and
TensorFlow).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from xent import _rows
from xent._validation import as_float_array, check_axis

__all__ = [
    "log_sigmoid",
    "log_softmax",
    "logsumexp",
    "sigmoid",
    "softmax",
    "softplus",
]

# -----------------------------------------------------------------------------
# private helpers of the elementwise functions (the row kernel is xent._rows)
# -----------------------------------------------------------------------------


def _elementwise(x: ArrayLike, name: str) -> tuple[np.ndarray, np.dtype]:
    """Float array for the elementwise functions and the dtype to return."""
    arr = as_float_array(x, name)
    out_dtype = arr.dtype
    # Elementwise functions are cheap: lower precisions are computed in float64
    # and rounded once.
    return arr.astype(np.float64, copy=False), out_dtype


def _softplus64(x: np.ndarray) -> np.ndarray:
    # softplus(x) = max(x, 0) + log1p(exp(-|x|)): both terms >= 0, so nothing
    # cancels, and exp(-|x|) <= 1 never overflows.
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _sigmoid64(x: np.ndarray) -> np.ndarray:
    # exp(-|x|) <= 1 never overflows; the two branches are the same function
    # written two ways.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _scalar_or_array(out: np.ndarray, dtype: np.dtype) -> Any:
    out = out.astype(dtype, copy=False)
    return out[()] if out.ndim == 0 else out


# -----------------------------------------------------------------------------
# public functions
# -----------------------------------------------------------------------------


def logsumexp(
    x: ArrayLike, *, axis: int = -1, keepdims: bool = False
) -> np.ndarray | np.floating:
    r"""Log of the sum of exponentials along ``axis``.

    :math:`\log \sum_j e^{x_j}`.

    Computed as :math:`m + \operatorname{log1p}(\sum_{j \ne a} e^{x_j - m})`
    with :math:`m = x_a = \max_j x_j`.

    Parameters
    ----------
    x : array_like
        Input values; at least one dimension.
    axis : int, optional
        Axis to reduce (default: the last).
    keepdims : bool, optional
        Keep the reduced axis with length one.

    Returns
    -------
    ndarray or scalar
        Same dtype as ``x`` for floats (float64 for integer input).

    Raises
    ------
    TypeError
        If ``x`` is not real or ``axis`` is not an integer.
    ValueError
        If ``axis`` is out of range.

    Notes
    -----
    The largest term is taken out of the sum, :math:`s = \sum_{j \ne a} e^{x_j}
    / e^{m}`, and ``log1p`` keeps the digits of the other terms when they are
    small. The exponentials are taken without a shift where :math:`0 \le m \le
    60` (float32) or :math:`600` (float64), so that the largest is between 1
    and :math:`e^{60}` (or :math:`e^{600}`): no overflow, no underflow, no
    subtraction pass; elsewhere as :math:`e^{x_j - m}`, the "normalisation
    trick" that makes the largest exactly 1. Both give the same function. Where
    the largest term dominates (the others sum to less than 1) :math:`s` is
    recomputed from exact differences :math:`x_j - m`, so the result is
    accurate to a few ulp even for margins of hundreds. An empty axis gives
    ``-inf``, all-``-inf`` gives ``-inf``, a ``+inf`` entry gives ``+inf`` and
    NaN propagates. Accuracy is relative to the result: near a result of 0 (``m
    < 0`` cancelling ``log1p``) the problem itself is ill-conditioned and the
    error is a few ulp of ``|m|``.

    References
    ----------
    P. Blanchard, D. J. Higham and N. J. Higham, "Accurately computing the
    log-sum-exp and softmax functions", IMA Journal of Numerical Analysis
    41(4), 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from xent import logsumexp
    >>> # exp(1000) overflows; log(2 e^1000) does not:
    >>> float(logsumexp([1000.0, 1000.0]))
    1000.6931471805599
    >>> float(logsumexp([0.0, -800.0]))  # log(1 + e^-800) rounds to 0
    0.0
    >>> float(logsumexp([-np.inf, -np.inf]))
    -inf
    >>> logsumexp(np.zeros((2, 3)), axis=0)
    array([0.69314718, 0.69314718, 0.69314718])
    """
    arr = as_float_array(x, "x")
    if arr.ndim == 0:  # a scalar is a row of one, as in PyTorch
        check_axis(axis, 1)
        return logsumexp(arr.reshape(1), axis=0, keepdims=keepdims).reshape(
            ()
        )[()]
    ax = check_axis(axis, arr.ndim)
    out_dtype = arr.dtype
    if arr.shape[ax] == 0:
        out = np.full(np.delete(arr.shape, ax), -np.inf, dtype=np.float64)
    else:
        rows, lead = _rows.as_rows(arr, ax)
        m, s = _rows.lse_parts(rows)
        with np.errstate(invalid="ignore"):
            out = (m.astype(np.float64) + np.log1p(s)).reshape(lead)
    if keepdims:
        out = np.expand_dims(out, ax)
    return _scalar_or_array(out, out_dtype)


def log_softmax(x: ArrayLike, *, axis: int = -1) -> np.ndarray:
    r"""Logarithm of the softmax along ``axis``.

    :math:`x_i - \log \sum_j e^{x_j}`.

    Computed as :math:`(x_i - m) - \operatorname{log1p}(\sum_{j \ne a} e^{x_j -
    m})`.

    Parameters
    ----------
    x : array_like
        Logits; at least one dimension.
    axis : int, optional
        The class axis (default: the last).

    Returns
    -------
    ndarray
        Same shape as ``x``; same dtype for floats.

    Raises
    ------
    TypeError
        If ``x`` is not real or ``axis`` is not an integer.
    ValueError
        If ``axis`` is out of range.

    Notes
    -----
    Both terms are :math:`\le 0`, so their difference never cancels; for the
    largest entry the first is exactly 0 and the result is ``-log1p(s)``,
    accurate to a few ulp even when it is :math:`10^{-300}`. Computing
    ``log(softmax(x))`` instead (:func:`xent.naive.log_softmax`) returns 0
    there, and ``-inf`` wherever the softmax underflows. A ``-inf`` logit gives
    ``-inf``; a row whose maximum is not finite gives NaN where the result is
    undefined.

    References
    ----------
    P. Blanchard, D. J. Higham and N. J. Higham, "Accurately computing the
    log-sum-exp and softmax functions", IMA Journal of Numerical Analysis
    41(4), 2021.

    Examples
    --------
    >>> from xent import log_softmax
    >>> log_softmax([0.0, 0.0])
    array([-0.69314718, -0.69314718])
    >>> log_softmax([1000.0, 0.0])      # the naive form gives [nan, -inf]
    array([    0., -1000.])
    >>> float(log_softmax([50.0, 0.0])[0])   # -log1p(e^-50), not 0
    -1.9287498479639178e-22
    """
    arr = as_float_array(x, "x")
    if arr.ndim == 0:  # a scalar is a row of one, as in PyTorch
        check_axis(axis, 1)
        return log_softmax(arr.reshape(1), axis=0).reshape(())
    ax = check_axis(axis, arr.ndim)
    if arr.shape[ax] == 0:
        return arr.copy()
    rows, lead = _rows.as_rows(arr, ax)
    m, s = _rows.lse_parts(rows)
    with np.errstate(invalid="ignore"):
        out = (rows - m[:, None]) - np.log1p(s).astype(rows.dtype)[:, None]
    return _rows.from_rows(out, lead, ax).astype(arr.dtype, copy=False)


def softmax(x: ArrayLike, *, axis: int = -1) -> np.ndarray:
    r"""Softmax along ``axis``: :math:`e^{x_i} / \sum_j e^{x_j}`.

    Parameters
    ----------
    x : array_like
        Logits; at least one dimension.
    axis : int, optional
        The class axis (default: the last).

    Returns
    -------
    ndarray
        Non-negative, summing to 1 along ``axis``; same shape as ``x``, same
        dtype for floats.

    Raises
    ------
    TypeError
        If ``x`` is not real or ``axis`` is not an integer.
    ValueError
        If ``axis`` is out of range.

    Notes
    -----
    Computed as :math:`e^{x_i - c} / \sum_j e^{x_j - c}`, the same function for
    any shift :math:`c` (shift invariance). With :math:`m = \max_j x_j`,
    :math:`c = m` (the largest exponent is 0: nothing overflows, the
    denominator is at least 1) except where :math:`0 \le m \le 60` (float32) or
    :math:`600` (float64): there :math:`c = 0` saves a pass, and the
    denominator, between 1 and :math:`K e^{60}` (or :math:`K e^{600}`), still
    neither overflows nor underflows. A row of all ``-inf`` has no softmax and
    gives NaN, as in NumPy and PyTorch.

    Examples
    --------
    >>> from xent import softmax
    >>> softmax([1.0, 2.0, 3.0])
    array([0.09003057, 0.24472847, 0.66524096])
    >>> softmax([1000.0, 1000.0])           # exp(1000) would overflow
    array([0.5, 0.5])
    """
    arr = as_float_array(x, "x")
    if arr.ndim == 0:  # a scalar is a row of one, as in PyTorch
        check_axis(axis, 1)
        return softmax(arr.reshape(1), axis=0).reshape(())
    ax = check_axis(axis, arr.ndim)
    if arr.shape[ax] == 0:
        return arr.copy()
    rows, lead = _rows.as_rows(arr, ax)
    out = _rows.softmax_rows(rows)
    return _rows.from_rows(out, lead, ax).astype(arr.dtype, copy=False)


def softplus(x: ArrayLike) -> np.ndarray | np.floating:
    r"""Softplus, :math:`\log(1 + e^x)`, elementwise.

    Parameters
    ----------
    x : array_like
        Input values.

    Returns
    -------
    ndarray or scalar
        Same shape as ``x``; same dtype for floats.

    Raises
    ------
    TypeError
        If ``x`` is not real.

    Notes
    -----
    Computed as :math:`\max(x, 0) + \operatorname{log1p}(e^{-|x|})`: the
    exponent is never positive (no overflow at ``x = 1000``) and both terms are
    non-negative (no cancellation), so for very negative ``x`` the result is
    :math:`e^x` to full precision, not 0 as ``log(1 + exp(x))`` gives. Lower
    precisions are computed in float64 and rounded once.

    Examples
    --------
    >>> from xent import softplus
    >>> softplus([0.0, 1000.0])
    array([6.93147181e-01, 1.00000000e+03])
    >>> float(softplus(-50.0))   # log(1 + exp(-50)) in float64 gives 0.0
    1.9287498479639178e-22
    """
    arr, dtype = _elementwise(x, "x")
    with np.errstate(invalid="ignore"):
        return _scalar_or_array(_softplus64(arr), dtype)


def log_sigmoid(x: ArrayLike) -> np.ndarray | np.floating:
    r"""Log of the logistic sigmoid, elementwise.

    :math:`\log \sigma(x) = -\operatorname{softplus}(-x)`.

    Parameters
    ----------
    x : array_like
        Logits.

    Returns
    -------
    ndarray or scalar
        Same shape as ``x``; same dtype for floats.

    Raises
    ------
    TypeError
        If ``x`` is not real.

    Notes
    -----
    ``log(sigmoid(x))`` (:func:`xent.naive.log_sigmoid`) is ``-inf`` once
    :math:`\sigma(x)` underflows (``x < -745`` in float64) and rounds to 0 once
    :math:`\sigma(x)` rounds to 1 (``x > 37``); written through softplus it is
    exact in both tails.

    Examples
    --------
    >>> from xent import log_sigmoid
    >>> log_sigmoid([0.0, -1000.0])
    array([-6.93147181e-01, -1.00000000e+03])
    >>> float(log_sigmoid(40.0))
    -4.248354255291589e-18
    """
    arr, dtype = _elementwise(x, "x")
    with np.errstate(invalid="ignore"):
        return _scalar_or_array(-_softplus64(-arr), dtype)


def sigmoid(x: ArrayLike) -> np.ndarray | np.floating:
    r"""Logistic sigmoid, :math:`\sigma(x) = 1 / (1 + e^{-x})`, elementwise.

    Parameters
    ----------
    x : array_like
        Logits.

    Returns
    -------
    ndarray or scalar
        Values in :math:`[0, 1]`; same shape as ``x``, same dtype for floats.

    Raises
    ------
    TypeError
        If ``x`` is not real.

    Notes
    -----
    Uses :math:`1/(1 + e^{-x})` for :math:`x \ge 0` and :math:`e^{x}/(1 +
    e^{x})` for :math:`x < 0`, so the exponential is never of a positive number
    and never overflows; for very negative ``x`` the result keeps its relative
    precision down to the smallest subnormal.

    Examples
    --------
    >>> from xent import sigmoid
    >>> sigmoid([0.0, 2.0, -2.0])
    array([0.5       , 0.88079708, 0.11920292])
    >>> float(sigmoid(-1000.0)), float(sigmoid(1000.0))
    (0.0, 1.0)
    """
    arr, dtype = _elementwise(x, "x")
    with np.errstate(invalid="ignore"):
        return _scalar_or_array(_sigmoid64(arr), dtype)

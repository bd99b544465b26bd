"""Stable building blocks: log-sum-exp, softmax, log-softmax, sigmoid, log-sigmoid, softplus.

All functions take any real array; floats keep their dtype (float16 is computed in float32 and
rounded back), bools and integers are promoted to float64. Row-wise functions work along ``axis``
(the last by default, as in optax and TensorFlow).
"""

from __future__ import annotations

import numpy as np

from xent._validation import as_float_array, check_axis

__all__ = ["logsumexp", "softmax", "log_softmax", "sigmoid", "log_sigmoid", "softplus"]

# Rows are processed in blocks of about this many bytes, so that the several passes over a block
# (max, subtract, exp, sum) run from the CPU cache instead of from main memory.
_BLOCK_BYTES = 1 << 21


# --------------------------------------------------------------------------------------------
# private machinery shared with xent.losses and xent.gradients
# --------------------------------------------------------------------------------------------


def _work_dtype(dtype: np.dtype) -> np.dtype:
    """float16 is computed in float32; float32 and float64 in themselves."""
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def _to_rows(x: np.ndarray, axis: int):
    """View ``x`` as a C-contiguous 2-d array ``(rows, classes)`` with ``axis`` last.

    Returns the 2-d array and the shape of the leading (non-class) axes.
    """
    moved = np.moveaxis(x, axis, -1)
    lead = moved.shape[:-1]
    work = _work_dtype(x.dtype)
    rows = np.ascontiguousarray(moved, dtype=work).reshape(-1, moved.shape[-1])
    return rows, lead


def _from_rows(rows: np.ndarray, lead: tuple, axis: int, ndim: int) -> np.ndarray:
    """Inverse of :func:`_to_rows` for an array with the class axis still present."""
    out = rows.reshape(*lead, rows.shape[-1])
    return np.moveaxis(out, -1, axis) if axis != ndim - 1 else out


def _blocks(num_rows: int, num_cols: int, itemsize: int):
    step = max(1, _BLOCK_BYTES // max(1, num_cols * itemsize))
    for lo in range(0, num_rows, step):
        yield lo, min(num_rows, lo + step)


def _exp_range(dtype) -> float:
    """A bound ``L`` with ``exp(x)`` a normal number, far from overflow, for ``|x| <= L``.

    ``exp(z)`` can then be used without subtracting the row maximum: 60 in float32 (whose
    ``exp`` overflows at 88.7), 600 in float64 (709.8).
    """
    return 60.0 if np.dtype(dtype).itemsize <= 4 else 600.0


def _max_and_rest(z: np.ndarray):
    """For 2-d ``z``: the row maximum ``m``, its position ``a`` and ``s = sum_{j != a} exp(z_j - m)``.

    ``log(sum_j exp(z_j)) = m + log1p(s)``. ``s`` is returned in float64 and is accurate to a few
    units in the last place even when it is tiny, which is what the cross-entropy of a confidently
    correct prediction (``log1p(s) ~ s``) needs; see :func:`_rest_exact`.

    ``s = sum_{j != a} exp(z_j - c) / exp(m - c)`` for any shift ``c``. Where the maximum is modest
    (``|m| <= _exp_range``) the shift is 0: no subtraction pass, and no rounding error in
    ``z_j - m``. Elsewhere ``c = m``, the classic shift that keeps every exponent at most 0.
    Rows whose maximum is not finite (all ``-inf``, ``+inf`` or NaN present) get ``s = 0``, so that
    ``m + log1p(s)`` is ``-inf``, ``+inf`` or NaN as the mathematics says.
    """
    num_rows, num_cols = z.shape
    m = np.empty(num_rows, dtype=z.dtype)
    a = np.empty(num_rows, dtype=np.intp)
    s = np.empty(num_rows, dtype=np.float64)
    buf = np.empty((min(num_rows, max(1, _BLOCK_BYTES // (num_cols * z.itemsize))), num_cols), z.dtype)
    r = np.arange(buf.shape[0])
    bound = _exp_range(z.dtype)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for lo, hi in _blocks(num_rows, num_cols, z.itemsize):
            zb, b, rb = z[lo:hi], buf[: hi - lo], r[: hi - lo]
            ab = np.argmax(zb, axis=1)
            mb = zb[rb, ab]
            finite = np.isfinite(mb)
            shift = np.where(np.abs(mb) <= bound, 0, mb)
            if np.any(shift[finite]):
                np.subtract(zb, np.where(finite, shift, 0)[:, None], out=b)
                np.exp(b, out=b)
            else:
                np.exp(zb, out=b)
            e_a = b[rb, ab]
            b[rb, ab] = 0
            sb = b.sum(axis=1) / e_a.astype(np.float64)
            sb[~finite] = 0
            a[lo:hi], m[lo:hi], s[lo:hi] = ab, mb, sb
            # Where s < 1 the largest probability exceeds 1/2 and log1p(s) ~ s may be far smaller
            # than the rounding errors above: the rounding of z_j - m where the row was shifted,
            # and the errors of the exponentials themselves (numpy's float32 exp is off by up to
            # 2.4 ulp). Recompute those rows from exact differences, while the block is still in
            # the cache.
            redo = np.flatnonzero((sb < 1) & finite)
            if redo.size:
                s[lo + redo] = _rest_exact(zb[redo], mb[redo], ab[redo])
    return m, a, s


def _rest_exact(z: np.ndarray, m: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``sum_{j != a} exp(z_j - m)`` with the differences ``z_j - m`` taken exactly.

    ``fl(z_j - m)`` carries an absolute error up to ``|z_j - m| * u``, which becomes a *relative*
    error of ``exp(z_j - m)``: 700 ulp at a margin of 700 in float64. Below float64 the difference is
    exact in float64. In float64 the error of the subtraction is recovered with Knuth's TwoSum and
    applied as ``exp(d + e) = exp(d) (1 + e)`` (``|e|`` is below half an ulp of ``d``).
    """
    r = np.arange(z.shape[0])
    if z.dtype != np.float64:
        e = z.astype(np.float64)
        e -= m.astype(np.float64)[:, None]
        np.exp(e, out=e)
    else:
        neg_m = -m[:, None]
        d = z + neg_m
        bv = d - z
        err = (z - (d - bv)) + (neg_m - bv)
        e = np.exp(d)
        e += np.where(e > 0, e * err, 0.0)
    e[r, a] = 0
    return e.sum(axis=1)


def _elementwise(x, name: str):
    """Float array for the elementwise functions and the dtype to return."""
    arr = as_float_array(x, name)
    out_dtype = arr.dtype
    # Elementwise functions are cheap: lower precisions are computed in float64 and rounded once.
    return arr.astype(np.float64, copy=False), out_dtype


def _softplus64(x: np.ndarray) -> np.ndarray:
    # softplus(x) = max(x, 0) + log1p(exp(-|x|)): both terms >= 0, so nothing cancels, and
    # exp(-|x|) <= 1 never overflows.
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _sigmoid64(x: np.ndarray) -> np.ndarray:
    # exp(-|x|) <= 1 never overflows; the two branches are the same function written two ways.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _scalar_or_array(out: np.ndarray, dtype) -> np.ndarray:
    out = out.astype(dtype, copy=False)
    return out[()] if out.ndim == 0 else out


# --------------------------------------------------------------------------------------------
# public functions
# --------------------------------------------------------------------------------------------


def logsumexp(x, *, axis: int = -1, keepdims: bool = False):
    r"""Log of the sum of exponentials, :math:`\log \sum_j e^{x_j}`, along ``axis``.

    Computed as :math:`m + \operatorname{log1p}(\sum_{j \ne a} e^{x_j - m})` with
    :math:`m = x_a = \max_j x_j`.

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
    Subtracting the maximum makes every exponent :math:`\le 0`, so nothing overflows and the
    largest term is exactly 1 (the "normalisation trick"); taking that 1 out of the sum and using
    ``log1p`` keeps the digits of the other terms when they are small. Where the largest term
    dominates (the other terms sum to less than 1), the differences :math:`x_j - m` are also taken
    exactly, so the result is accurate to a few ulp even for margins of hundreds. An empty axis
    gives ``-inf``, all-``-inf`` gives ``-inf``, a ``+inf`` entry gives ``+inf`` and NaN propagates.
    Accuracy is relative to the result: near a result of 0 (``m < 0`` cancelling ``log1p``) the
    problem itself is ill-conditioned and the error is a few ulp of ``|m|``.

    References
    ----------
    P. Blanchard, D. J. Higham and N. J. Higham, "Accurately computing the log-sum-exp and softmax
    functions", IMA Journal of Numerical Analysis 41(4), 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from xent import logsumexp
    >>> float(logsumexp([1000.0, 1000.0]))   # exp(1000) overflows; log(2 e^1000) does not
    1000.6931471805599
    >>> float(logsumexp([0.0, -800.0]))       # log(1 + e^-800): the digits of e^-800 survive
    0.0
    >>> float(logsumexp([-np.inf, -np.inf]))
    -inf
    >>> logsumexp(np.zeros((2, 3)), axis=0)
    array([0.69314718, 0.69314718, 0.69314718])
    """
    arr = as_float_array(x, "x")
    if arr.ndim == 0:  # a scalar is a row of one, as in PyTorch
        check_axis(axis, 1)
        return logsumexp(arr.reshape(1), axis=0, keepdims=keepdims).reshape(())[()]
    ax = check_axis(axis, arr.ndim)
    out_dtype = arr.dtype
    if arr.shape[ax] == 0:
        out = np.full(np.delete(arr.shape, ax), -np.inf, dtype=np.float64)
    else:
        rows, lead = _to_rows(arr, ax)
        m, _, s = _max_and_rest(rows)
        with np.errstate(invalid="ignore"):
            out = (m.astype(np.float64) + np.log1p(s)).reshape(lead)
    if keepdims:
        out = np.expand_dims(out, ax)
    return _scalar_or_array(out, out_dtype)


def log_softmax(x, *, axis: int = -1):
    r"""Logarithm of the softmax along ``axis``: :math:`x_i - \log \sum_j e^{x_j}`.

    Computed as :math:`(x_i - m) - \operatorname{log1p}(\sum_{j \ne a} e^{x_j - m})`.

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
    Both terms are :math:`\le 0`, so their difference never cancels; for the largest entry
    the first is exactly 0 and the result is ``-log1p(s)``, accurate to a few ulp even when it is
    :math:`10^{-300}`. Computing ``log(softmax(x))`` instead (:func:`xent.naive.log_softmax`) returns
    0 there, and ``-inf`` wherever the softmax underflows. A ``-inf`` logit gives ``-inf``; a row
    whose maximum is not finite gives NaN where the result is undefined.

    References
    ----------
    P. Blanchard, D. J. Higham and N. J. Higham, "Accurately computing the log-sum-exp and softmax
    functions", IMA Journal of Numerical Analysis 41(4), 2021.

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
    rows, lead = _to_rows(arr, ax)
    m, _, s = _max_and_rest(rows)
    with np.errstate(invalid="ignore"):
        out = (rows - m[:, None]) - np.log1p(s).astype(rows.dtype)[:, None]
    return _from_rows(out, lead, ax, arr.ndim).astype(arr.dtype, copy=False)


def softmax(x, *, axis: int = -1):
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
        Non-negative, summing to 1 along ``axis``; same shape as ``x``, same dtype for floats.

    Raises
    ------
    TypeError
        If ``x`` is not real or ``axis`` is not an integer.
    ValueError
        If ``axis`` is out of range.

    Notes
    -----
    Computed as :math:`e^{x_i - m} / \sum_j e^{x_j - m}` with :math:`m = \max_j x_j`: the result is
    unchanged (shift invariance) and the largest exponent is 0, so nothing overflows and the
    denominator is at least 1. A row of all ``-inf`` has no softmax and gives NaN, as in NumPy
    and PyTorch.

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
    rows, lead = _to_rows(arr, ax)
    out = np.empty_like(rows)
    with np.errstate(over="ignore", invalid="ignore"):
        for lo, hi in _blocks(*rows.shape, rows.itemsize):
            zb, b = rows[lo:hi], out[lo:hi]
            m = zb.max(axis=1)
            shift = np.where(np.isfinite(m), m, rows.dtype.type(0))
            np.subtract(zb, shift[:, None], out=b)
            np.exp(b, out=b)
            b /= b.sum(axis=1, keepdims=True)
    return _from_rows(out, lead, ax, arr.ndim).astype(arr.dtype, copy=False)


def softplus(x):
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
    Computed as :math:`\max(x, 0) + \operatorname{log1p}(e^{-|x|})`: the exponent is never positive
    (no overflow at ``x = 1000``) and both terms are non-negative (no cancellation), so for very
    negative ``x`` the result is :math:`e^x` to full precision, not 0 as ``log(1 + exp(x))`` gives.
    Lower precisions are computed in float64 and rounded once.

    Examples
    --------
    >>> from xent import softplus
    >>> softplus([0.0, 1000.0])
    array([6.93147181e-01, 1.00000000e+03])
    >>> float(softplus(-50.0))               # log(1 + exp(-50)) in float64 gives 0.0
    1.9287498479639178e-22
    """
    arr, dtype = _elementwise(x, "x")
    with np.errstate(invalid="ignore"):
        return _scalar_or_array(_softplus64(arr), dtype)


def log_sigmoid(x):
    r"""Log of the logistic sigmoid, :math:`\log \sigma(x) = -\operatorname{softplus}(-x)`.

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
    ``log(sigmoid(x))`` (:func:`xent.naive.log_sigmoid`) is ``-inf`` once :math:`\sigma(x)`
    underflows (``x < -745`` in float64) and rounds to 0 once :math:`\sigma(x)` rounds to 1
    (``x > 37``); written through softplus it is exact in both tails.

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


def sigmoid(x):
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
    Uses :math:`1/(1 + e^{-x})` for :math:`x \ge 0` and :math:`e^{x}/(1 + e^{x})` for :math:`x < 0`,
    so the exponential is never of a positive number and never overflows; for very negative ``x``
    the result keeps its relative precision down to the smallest subnormal.

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

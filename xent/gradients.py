"""Closed-form gradients of the losses with respect to the logits, and a finite-difference check.

The famous result: for softmax + cross-entropy and for sigmoid + binary cross-entropy the gradient
with respect to the logits is the error itself, :math:`\\hat p - y`. Sigmoid + squared error
multiplies that error by :math:`\\sigma'(z) = \\hat p (1 - \\hat p)`, which vanishes exactly when
the model is confidently wrong.
"""

from __future__ import annotations

import numbers

import numpy as np

from xent._validation import (
    as_class_indices,
    as_float_array,
    as_logits,
    check_probabilities,
    check_reduction,
    check_same_shape,
    result_dtype,
)
from xent.numerics import _blocks, _sigmoid64, _to_rows, softmax

__all__ = [
    "softmax_cross_entropy_grad",
    "binary_cross_entropy_with_logits_grad",
    "mse_sigmoid_grad",
    "numerical_gradient",
]


def _scale(reduction: str, count: int) -> float:
    return 1.0 / count if reduction == "mean" and count else 1.0


def softmax_cross_entropy_grad(logits, targets, *, reduction: str = "mean"):
    r"""Gradient of :func:`xent.softmax_cross_entropy` with respect to the logits.

    :math:`\partial L / \partial z = \operatorname{softmax}(z) - y`, divided by the number of
    examples :math:`N` for ``reduction="mean"``.

    Parameters
    ----------
    logits : array_like, shape (..., K)
        Logits, classes on the last axis.
    targets : array_like
        Integer classes of shape ``logits.shape[:-1]`` or distributions of the shape of ``logits``.
    reduction : {"mean", "sum", "none"}, optional
        ``"mean"``: the gradient of the mean loss (rows divided by :math:`N`); ``"sum"``: of the
        summed loss; ``"none"``: row :math:`i` is the gradient of example :math:`i`'s own loss
        (the same numbers as ``"sum"``: the examples do not interact).

    Returns
    -------
    ndarray
        The shape and dtype of ``logits``. Each row sums to 0 (up to rounding), since
        :math:`\sum_c \hat p_c = \sum_c y_c = 1`.

    Raises
    ------
    TypeError, ValueError
        As :func:`xent.softmax_cross_entropy` (without ``ignore_index``: every target must be a
        class).

    Notes
    -----
    The softmax Jacobian :math:`\partial \hat p_c / \partial z_k = \hat p_c([c = k] - \hat p_k)`
    contracted with :math:`\partial L / \partial \hat p_c = -y_c / \hat p_c` gives
    :math:`\hat p_k \sum_c y_c - y_k = \hat p_k - y_k`. The softmax is computed with the maximum
    subtracted, so no logit overflows it. For class targets the target's entry
    :math:`\hat p_t - 1` is computed as :math:`-\sum_{c \ne t} \hat p_c`, so that it keeps its
    digits when the prediction is confidently correct (:math:`\hat p_t - 1` would round to 0).

    Examples
    --------
    >>> import numpy as np
    >>> from xent import softmax_cross_entropy_grad
    >>> softmax_cross_entropy_grad(np.array([[0.0, 0.0]]), np.array([0]))
    array([[-0.5,  0.5]])
    >>> softmax_cross_entropy_grad(np.zeros((2, 2)), np.array([0, 1]), reduction="sum")
    array([[-0.5,  0.5],
           [ 0.5, -0.5]])
    """
    z = as_logits(logits)
    reduction = check_reduction(reduction)
    t_arr = np.asarray(targets)
    if t_arr.dtype.kind not in "iub":
        y = as_float_array(targets, "targets")
        check_same_shape(z, y, "logits", "targets")
        check_probabilities(y, "targets", axis=-1)
        count = int(np.prod(z.shape[:-1]))
        dtype = result_dtype(z, y)
        grad = softmax(z.astype(dtype, copy=False)) - y.astype(dtype, copy=False)
        return (grad * dtype.type(_scale(reduction, count))).astype(dtype, copy=False)
    t, _ = as_class_indices(t_arr, z.shape)
    rows, lead = _to_rows(z, z.ndim - 1)
    t = t.reshape(-1)
    scale = rows.dtype.type(_scale(reduction, rows.shape[0]))
    out = np.empty_like(rows)
    # Per block of rows, in the cache: exp, normalise and scale, subtract y. The target's entry is
    # p_t - 1 = -(sum of the other probabilities): summing the others directly keeps its digits
    # when p_t is close to 1, where p_t - 1 would cancel to 0. exp(z) is taken without shifting
    # by the row maximum; the rows where that leaves the comfortable range of the dtype (a total
    # below 2**-100 or above 2**100: overflow, underflow, NaN) are redone with the shift.
    low, high = 2.0**-100, 2.0**100
    with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
        for lo, hi in _blocks(*rows.shape, rows.itemsize):
            zb, b, tb = rows[lo:hi], out[lo:hi], t[lo:hi]
            np.exp(zb, out=b)
            rest, e_t = _rest_and_target(b, tb)
            total = rest + e_t
            bad = np.flatnonzero(~((total > low) & (total < high)))
            if bad.size:
                zz = zb[bad]
                m = zz.max(axis=1)
                e = np.exp(zz - np.where(np.isfinite(m), m, rows.dtype.type(0))[:, None])
                rest[bad], e_t[bad] = _rest_and_target(e, tb[bad])
                b[bad] = e
                total = rest + e_t
            row_scale = scale / total
            b *= row_scale[:, None]
            b[np.arange(hi - lo), tb] = -rest * row_scale
    return out.reshape(z.shape).astype(z.dtype, copy=False)


def _rest_and_target(e: np.ndarray, t: np.ndarray):
    """Zero the target entry of each row of ``e`` in place; return the rows' remaining sums and it."""
    r = np.arange(e.shape[0])
    e_t = e[r, t]
    e[r, t] = 0
    return e.sum(axis=1), e_t


def _binary_inputs(logits, targets):
    z = as_float_array(logits, "logits")
    y = as_float_array(targets, "targets")
    check_same_shape(z, y, "logits", "targets")
    check_probabilities(y, "targets", axis=None)
    return z, y


def binary_cross_entropy_with_logits_grad(logits, targets, *, reduction: str = "mean"):
    r"""Gradient of :func:`xent.binary_cross_entropy_with_logits`: :math:`\sigma(z) - y`.

    Parameters
    ----------
    logits : array_like
        Logits :math:`z`.
    targets : array_like
        Targets :math:`y \in [0, 1]`, the shape of ``logits``.
    reduction : {"mean", "sum", "none"}, optional
        ``"mean"`` divides by the number of elements; ``"none"`` and ``"sum"`` give each
        element's own derivative.

    Returns
    -------
    ndarray
        The shape of ``logits``.

    Raises
    ------
    TypeError, ValueError
        As :func:`xent.binary_cross_entropy_with_logits`.

    Notes
    -----
    :math:`\partial/\partial z\,[-y \log \sigma(z) - (1-y)\log(1-\sigma(z))] = -y(1-\sigma) + (1-y)\sigma
    = \sigma(z) - y`: linear in the error, whatever the confidence.

    Examples
    --------
    >>> from xent import binary_cross_entropy_with_logits_grad
    >>> binary_cross_entropy_with_logits_grad([0.0, -10.0], [1.0, 1.0], reduction="none")
    array([-0.5       , -0.9999546])
    """
    reduction = check_reduction(reduction)
    z, y = _binary_inputs(logits, targets)
    dtype = result_dtype(z, y)
    grad = (_sigmoid64(z.astype(np.float64)) - y) * _scale(reduction, z.size)
    return np.asarray(grad).astype(dtype)


def mse_sigmoid_grad(logits, targets, *, reduction: str = "mean"):
    r"""Gradient of the squared error of a sigmoid, :math:`(\sigma(z) - y)^2`, with respect to :math:`z`.

    :math:`\partial L / \partial z = 2(\sigma(z) - y)\,\sigma(z)(1 - \sigma(z))`.

    Parameters
    ----------
    logits : array_like
        Logits :math:`z`.
    targets : array_like
        Targets :math:`y \in [0, 1]`, the shape of ``logits``.
    reduction : {"mean", "sum", "none"}, optional
        ``"mean"`` divides by the number of elements.

    Returns
    -------
    ndarray
        The shape of ``logits``.

    Raises
    ------
    TypeError, ValueError
        If an input is not real, targets are outside :math:`[0, 1]`, shapes disagree or
        ``reduction`` is unknown.

    Notes
    -----
    The factor :math:`\sigma(1 - \sigma) \le 1/4` goes to 0 as :math:`|z|` grows: a model that is
    confidently wrong (:math:`z = -10`, :math:`y = 1`) gets a gradient of about :math:`-9 \times
    10^{-5}` instead of the :math:`-1` of cross-entropy, and learns slowly.

    Examples
    --------
    >>> from xent import mse_sigmoid_grad
    >>> mse_sigmoid_grad([0.0, -10.0], [1.0, 1.0], reduction="none")
    array([-2.50000000e-01, -9.07874937e-05])
    """
    reduction = check_reduction(reduction)
    z, y = _binary_inputs(logits, targets)
    dtype = result_dtype(z, y)
    z64 = z.astype(np.float64)
    p = _sigmoid64(z64)
    p_neg = _sigmoid64(-z64)  # 1 - sigma(z) without cancellation
    grad = 2.0 * (p - y) * p * p_neg * _scale(reduction, z.size)
    return np.asarray(grad).astype(dtype)


def numerical_gradient(f, x, *, eps=None):
    r"""Gradient of a scalar function by central differences, for gradient checking.

    :math:`\partial f / \partial x_i \approx (f(x + h_i e_i) - f(x - h_i e_i)) / (2 h_i)`.

    Parameters
    ----------
    f : callable
        Takes an array of the shape of ``x`` (float64) and returns a scalar.
    x : array_like
        The point.
    eps : float, optional
        The step :math:`h`. By default :math:`h_i = \epsilon^{1/3} \max(1, |x_i|)` with
        :math:`\epsilon` float64's machine epsilon, which balances the :math:`O(h^2)` truncation
        error against the :math:`O(\epsilon / h)` rounding error (both about :math:`10^{-11}`
        relative).

    Returns
    -------
    ndarray of float64
        The shape of ``x``.

    Raises
    ------
    TypeError
        If ``f`` is not callable, ``x`` is not real, or ``f`` does not return a scalar.
    ValueError
        If ``eps`` is not positive.

    Notes
    -----
    Costs :math:`2n` evaluations of ``f`` for :math:`n` entries: a check for small problems, not a
    way to train.

    Examples
    --------
    >>> import numpy as np
    >>> from xent import numerical_gradient, softmax_cross_entropy, softmax_cross_entropy_grad
    >>> z = np.array([[1.0, -0.5, 2.0]])
    >>> num = numerical_gradient(lambda v: softmax_cross_entropy(v, np.array([0])), z)
    >>> bool(np.allclose(num, softmax_cross_entropy_grad(z, np.array([0])), atol=1e-9))
    True
    """
    if not callable(f):
        raise TypeError(f"f: expected a callable returning a scalar, got {type(f).__name__}")
    point = as_float_array(x, "x").astype(np.float64, copy=True)
    if eps is None:
        steps = np.cbrt(np.finfo(np.float64).eps) * np.maximum(1.0, np.abs(point))
    else:
        if isinstance(eps, (bool, np.bool_)) or not isinstance(eps, numbers.Real):
            raise TypeError(f"eps: expected a positive number, got {eps!r}")
        if not eps > 0:
            raise ValueError(f"eps: expected a positive number, got {eps!r}")
        steps = np.full(point.shape, float(eps))
    grad = np.empty_like(point)

    def value(v):
        out = np.asarray(f(v))
        if out.size != 1:
            raise TypeError(f"f: expected a scalar result, got shape {out.shape}")
        return float(out.reshape(()))

    flat, flat_steps, flat_grad = point.reshape(-1), steps.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        original = flat[i]
        h = flat_steps[i]
        flat[i] = original + h
        up = value(point)
        flat[i] = original - h
        down = value(point)
        flat[i] = original
        flat_grad[i] = (up - down) / (2 * h)
    return grad

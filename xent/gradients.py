"""Closed-form gradients of the losses with respect to the logits, and a
finite-difference check.

The famous result: for softmax + cross-entropy and for sigmoid + binary
cross-entropy the gradient with respect to the logits is the error itself,
:math:`\\hat p - y`. Sigmoid + squared error multiplies that error by
:math:`\\sigma'(z) = \\hat p (1 - \\hat p)`, which vanishes exactly when the
model is confidently wrong.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from xent._validation import (
    as_float_array,
    check_probabilities,
    check_reduction,
    check_same_shape,
    result_dtype,
)
from xent._xent import softmax_xent
from xent.labels import Convention
from xent.losses import Reduction
from xent.numerics import sigmoid

__all__ = [
    "binary_cross_entropy_with_logits_grad",
    "mse_sigmoid_grad",
    "numerical_gradient",
    "softmax_cross_entropy_grad",
]


def _scale(reduction: str, count: int) -> float:
    return 1.0 / count if reduction == "mean" and count else 1.0


def softmax_cross_entropy_grad(
    logits: ArrayLike,
    targets: ArrayLike,
    *,
    weight: ArrayLike | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
    label_smoothing: float = 0.0,
    convention: Convention = "uniform",
) -> np.ndarray:
    r"""Gradient of :func:`xent.softmax_cross_entropy` with respect to logits.

    :math:`\partial L / \partial z = \operatorname{softmax}(z) - y`, divided by
    the number of examples :math:`N` for ``reduction="mean"``.

    Parameters
    ----------
    logits : array_like, shape (..., K)
        Logits, classes on the last axis.
    targets : array_like
        Integer classes of shape ``logits.shape[:-1]`` or distributions of the
        shape of ``logits``.
    weight, ignore_index, label_smoothing, convention
        As :func:`xent.softmax_cross_entropy`: the gradient of that loss with
        these options (ignored examples get a zero row).
    reduction : {"mean", "sum", "none"}, optional
        ``"mean"``: the gradient of the mean loss (rows divided by :math:`N`,
        or by the loss's denominator with ``weight``/``ignore_index``);
        ``"sum"``: of the summed loss; ``"none"``: row :math:`i` is the
        gradient of example :math:`i`'s own loss (the same numbers as
        ``"sum"``: the examples do not interact).

    Returns
    -------
    ndarray
        The shape of ``logits``, the dtype of ``logits`` for class targets.
        Without weights or smoothing each row sums to 0 (up to rounding), since
        :math:`\sum_c \hat p_c = \sum_c y_c = 1`.

    Raises
    ------
    TypeError, ValueError
        As :func:`xent.softmax_cross_entropy`.

    Notes
    -----
    The softmax Jacobian :math:`\partial \hat p_c / \partial z_k = \hat p_c([c
    = k] - \hat p_k)` contracted with :math:`\partial L / \partial \hat p_c =
    -y_c / \hat p_c` gives :math:`\hat p_k \sum_c y_c - y_k = \hat p_k - y_k`.
    The exponentials are those of the row kernel (:mod:`xent._rows`):
    :math:`e^{z_j}` itself where the row maximum :math:`m` lies in :math:`[0,
    60]` (float32) or :math:`[0, 600]` (float64), :math:`e^{z_j - m}`
    elsewhere; either way the largest is between 1 and :math:`e^{60}` (or
    :math:`e^{600}`), so their sum neither overflows nor underflows, and the
    softmax is the same function. For class targets the target's entry
    :math:`\hat p_t - 1` is computed as :math:`-\sum_{c \ne t} \hat p_c`, so
    that it keeps its digits when the prediction is confidently correct
    (:math:`\hat p_t - 1` would round to 0). To get the loss too, call
    :func:`xent.softmax_cross_entropy_and_grad`: one pass instead of two.

    Examples
    --------
    >>> import numpy as np
    >>> from xent import softmax_cross_entropy_grad
    >>> softmax_cross_entropy_grad(np.array([[0.0, 0.0]]), np.array([0]))
    array([[-0.5,  0.5]])
    >>> z, t = np.zeros((2, 2)), np.array([0, 1])
    >>> softmax_cross_entropy_grad(z, t, reduction="sum")
    array([[-0.5,  0.5],
           [ 0.5, -0.5]])
    """
    _, grad = softmax_xent(
        logits,
        targets,
        weight=weight,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
        convention=convention,
        smoothing=None,
        function="softmax_cross_entropy_grad",
        want_loss=False,
        want_grad=True,
    )
    return grad  # type: ignore[return-value]


def _binary_inputs(
    logits: ArrayLike, targets: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    z = as_float_array(logits, "logits")
    y = as_float_array(targets, "targets")
    check_same_shape(z, y, "logits", "targets")
    check_probabilities(y, "targets", axis=None)
    return z, y


def binary_cross_entropy_with_logits_grad(
    logits: ArrayLike, targets: ArrayLike, *, reduction: Reduction = "mean"
) -> np.ndarray:
    r"""Gradient of :func:`xent.binary_cross_entropy_with_logits`.

    :math:`\partial L / \partial z = \sigma(z) - y`.

    Parameters
    ----------
    logits : array_like
        Logits :math:`z`.
    targets : array_like
        Targets :math:`y \in [0, 1]`, the shape of ``logits``.
    reduction : {"mean", "sum", "none"}, optional
        ``"mean"`` divides by the number of elements; ``"none"`` and ``"sum"``
        give each element's own derivative.

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
    :math:`\partial/\partial z\,[-y \log \sigma(z) - (1-y)\log(1-\sigma(z))] =
    -y(1-\sigma) + (1-y)\sigma = \sigma(z) - y`: linear in the error, whatever
    the confidence.

    Examples
    --------
    >>> from xent import binary_cross_entropy_with_logits_grad
    >>> binary_cross_entropy_with_logits_grad(
    ...     [0.0, -10.0], [1.0, 1.0], reduction="none"
    ... )
    array([-0.5       , -0.9999546])
    """
    reduction = check_reduction(reduction)
    z, y = _binary_inputs(logits, targets)
    dtype = result_dtype(z, y)
    grad = (sigmoid(z.astype(np.float64)) - y) * _scale(reduction, z.size)
    return np.asarray(grad).astype(dtype)


def mse_sigmoid_grad(
    logits: ArrayLike, targets: ArrayLike, *, reduction: Reduction = "mean"
) -> np.ndarray:
    r"""Gradient of the squared error of a sigmoid with respect to the logits.

    The loss is :math:`(\sigma(z) - y)^2`.

    :math:`\partial L / \partial z = 2(\sigma(z) - y)\,\sigma(z)(1 -
    \sigma(z))`.

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
        If an input is not real, targets are outside :math:`[0, 1]`, shapes
        disagree or ``reduction`` is unknown.

    Notes
    -----
    The factor :math:`\sigma(1 - \sigma) \le 1/4` goes to 0 as :math:`|z|`
    grows: a model that is confidently wrong (:math:`z = -10`, :math:`y = 1`)
    gets a gradient of about :math:`-9 \times 10^{-5}` instead of the
    :math:`-1` of cross-entropy, and learns slowly.

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
    p = sigmoid(z64)
    p_neg = sigmoid(-z64)  # 1 - sigma(z) without cancellation
    grad = 2.0 * (p - y) * p * p_neg * _scale(reduction, z.size)
    return np.asarray(grad).astype(dtype)


def numerical_gradient(
    f: Callable[[np.ndarray], ArrayLike],
    x: ArrayLike,
    *,
    eps: float | None = None,
) -> np.ndarray:
    r"""Gradient of a scalar function by central differences.

    For gradient checking.

    :math:`\partial f / \partial x_i \approx (f(x + h_i e_i) - f(x - h_i e_i))
    / (2 h_i)`.

    Parameters
    ----------
    f : callable
        Takes an array of the shape of ``x`` (float64) and returns a scalar.
    x : array_like
        The point.
    eps : float, optional
        The step :math:`h`. By default :math:`h_i = \epsilon^{1/3} \max(1,
        |x_i|)` with :math:`\epsilon` float64's machine epsilon, which balances
        the :math:`O(h^2)` truncation error against the :math:`O(\epsilon / h)`
        rounding error (both about :math:`10^{-11}` relative).

    Returns
    -------
    ndarray of float64
        The shape of ``x``.

    Raises
    ------
    TypeError
        If ``f`` is not callable, ``x`` is not real, or ``f`` does not return a
        scalar.
    ValueError
        If ``eps`` is not positive.

    Notes
    -----
    Costs :math:`2n` evaluations of ``f`` for :math:`n` entries: a check for
    small problems, not a way to train.

    Examples
    --------
    >>> import numpy as np
    >>> from xent import numerical_gradient, softmax_cross_entropy
    >>> from xent import softmax_cross_entropy_grad
    >>> z = np.array([[1.0, -0.5, 2.0]])
    >>> t = np.array([0])
    >>> num = numerical_gradient(lambda v: softmax_cross_entropy(v, t), z)
    >>> bool(np.allclose(num, softmax_cross_entropy_grad(z, t), atol=1e-9))
    True
    """
    if not callable(f):
        raise TypeError(
            "f: expected a callable returning a scalar, got "
            f"{type(f).__name__}"
        )
    point = as_float_array(x, "x").astype(np.float64, copy=True)
    if eps is None:
        steps = np.cbrt(np.finfo(np.float64).eps) * np.maximum(
            1.0, np.abs(point)
        )
    else:
        if isinstance(eps, (bool, np.bool_)) or not isinstance(
            eps, numbers.Real
        ):
            raise TypeError(f"eps: expected a positive number, got {eps!r}")
        if not eps > 0:
            raise ValueError(f"eps: expected a positive number, got {eps!r}")
        steps = np.full(point.shape, float(eps))
    grad = np.empty_like(point)

    def value(v):
        out = np.asarray(f(v))
        if out.size != 1:
            raise TypeError(
                f"f: expected a scalar result, got shape {out.shape}"
            )
        return float(out.reshape(()))

    flat, flat_steps, flat_grad = (
        point.reshape(-1),
        steps.reshape(-1),
        grad.reshape(-1),
    )
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

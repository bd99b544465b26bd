"""Cross-entropy losses (and mean squared error, for comparison).

Classes lie on the last axis. ``reduction`` is ``"mean"`` (default), ``"sum"``
or ``"none"``, with the same meaning as in ``torch.nn.functional``. Every loss
is accumulated in float64 and rounded once to the input's dtype (float32 in,
float32 out; integers are promoted to float64).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from xent._validation import (
    Reduction,
    as_class_indices,
    as_float_array,
    as_logits,
    check_probabilities,
    check_reduction,
    check_same_shape,
    reduce,
    result_dtype,
)
from xent._xent import softmax_xent
from xent.labels import Convention

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "categorical_cross_entropy",
    "mse_loss",
    "softmax_cross_entropy",
    "softmax_cross_entropy_and_grad",
]


def softmax_cross_entropy(
    logits: ArrayLike,
    targets: ArrayLike,
    *,
    weight: ArrayLike | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
    label_smoothing: float = 0.0,
    convention: Convention = "uniform",
    smoothing: Convention | None = None,
) -> np.ndarray | np.floating:
    r"""Cross-entropy of ``softmax(logits)`` and the targets, from the logits.

    For a class target :math:`t` the loss of one example is :math:`-\log
    \operatorname{softmax}(z)_t = \log \sum_j e^{z_j} - z_t`; for a target
    distribution :math:`y` it is :math:`-\sum_c y_c \log
    \operatorname{softmax}(z)_c`.

    Parameters
    ----------
    logits : array_like, shape (..., K)
        Unnormalised scores :math:`z`, classes on the last axis.
    targets : array_like
        Integer classes of shape ``logits.shape[:-1]`` (each in ``0..K-1`` or
        ``ignore_index``), or float distributions of the shape of ``logits``.
    weight : array_like, shape (K,), optional
        A weight per class, as in PyTorch: a class target :math:`t` scales its
        example by :math:`w_t` and the ``"mean"`` divides by :math:`\sum
        w_{t_i}`; with distributions each term :math:`y_c \log q_c` is scaled
        by :math:`w_c` and the mean divides by the number of examples.
    ignore_index : int, optional
        Class targets equal to it contribute nothing and are not counted by the
        mean (default ``-100``). Not used with distribution targets.
    reduction : {"mean", "sum", "none"}, optional
        ``"none"`` returns one loss per example (0 for ignored ones).
    label_smoothing : float, optional
        :math:`\epsilon \in [0, 1]`: the targets are smoothed first, as
        :func:`xent.smooth_labels` does (default 0: no smoothing).
    convention : {"uniform", "others"}, optional
        ``"uniform"`` gives every class :math:`\epsilon / K` on top of
        :math:`(1 - \epsilon) y` (PyTorch, Inception-v3); ``"others"`` gives
        the true class :math:`1 - \epsilon` and every other class
        :math:`\epsilon / (K - 1)` (fairseq's ``label_smoothed_nll_loss``).
        See :func:`xent.smoothing_weights`.
    smoothing : {"uniform", "others"}, optional
        Deprecated alias of ``convention`` (a ``DeprecationWarning``).

    Returns
    -------
    ndarray or scalar
        The reduced loss (a scalar of the logits' dtype) or, for ``"none"``,
        the per-example losses of shape ``logits.shape[:-1]``.

    Raises
    ------
    TypeError
        If ``logits`` are not real, class targets are not integers, or
        ``ignore_index`` is not an integer.
    ValueError
        If ``logits`` have no class axis; class targets are out of range or of
        the wrong shape; distribution targets are not distributions or of the
        wrong shape; ``weight`` is not of length K; ``reduction``,
        ``convention`` or ``label_smoothing`` is invalid.

    Notes
    -----
    With the identical arguments and ``convention="uniform"`` the result equals
    ``torch.nn.functional.cross_entropy`` (classes moved to the last axis) for
    every combination of ``weight``, ``ignore_index``, ``reduction`` and
    ``label_smoothing``, including a ``"mean"`` over an all-ignored batch,
    which is NaN.

    Accuracy. The loss of a class target is computed as :math:`(m - z_t) +
    \operatorname{log1p}(\sum_{j \ne a} e^{z_j - m})` with :math:`m = z_a` the
    largest logit: both terms are non-negative, so nothing cancels. The usual
    ``logsumexp(z) - z_t`` subtracts two nearly equal numbers when the
    prediction is confidently correct and returns 0 for a loss of
    :math:`10^{-20}`. Where the true class has probability above 1/2 the
    exponentials are also evaluated from exact differences (see
    :func:`xent.logsumexp`); the result is within a few ulp of the exact loss
    for margins up to 700 in float64. A target probability of 0 contributes 0
    even where the logit is ``-inf``; NaN logits give NaN.

    References
    ----------
    C. Szegedy et al., "Rethinking the Inception Architecture for Computer
    Vision", CVPR 2016 (label smoothing). P. Blanchard, D. J. Higham and N. J.
    Higham, "Accurately computing the log-sum-exp and softmax functions", IMA
    J. Numer. Anal. 41(4), 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from xent import softmax_cross_entropy
    >>> logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])
    >>> float(softmax_cross_entropy(logits, np.array([0, 1])))
    0.3185397696491857
    >>> softmax_cross_entropy(logits, np.array([0, -100]), reduction="none")
    array([0.41703002, 0.        ])
    >>> # logsumexp(z) - z_t gives 0.0 here:
    >>> float(softmax_cross_entropy([[40.0, 0.0]], np.array([0])))
    4.248354255291589e-18
    """
    loss, _ = softmax_xent(
        logits,
        targets,
        weight=weight,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
        convention=convention,
        smoothing=smoothing,
        function="softmax_cross_entropy",
        want_loss=True,
        want_grad=False,
    )
    return loss


def softmax_cross_entropy_and_grad(
    logits: ArrayLike,
    targets: ArrayLike,
    *,
    weight: ArrayLike | None = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
    label_smoothing: float = 0.0,
    convention: Convention = "uniform",
) -> tuple[np.ndarray | np.floating, np.ndarray]:
    r"""The loss of :func:`softmax_cross_entropy` and its gradient in one pass.

    Returns ``(softmax_cross_entropy(logits, targets, **options),
    softmax_cross_entropy_grad(logits, targets, **options))`` from one pass
    over the logits: the exponentials of each block of rows serve the loss
    and, scaled in place, become the gradient.

    Parameters
    ----------
    logits : array_like, shape (..., K)
        Unnormalised scores :math:`z`, classes on the last axis.
    targets : array_like
        Integer classes of shape ``logits.shape[:-1]`` or distributions of
        the shape of ``logits``.
    weight, ignore_index, reduction, label_smoothing, convention
        As :func:`softmax_cross_entropy`.

    Returns
    -------
    loss : ndarray or scalar
        Exactly the value of :func:`softmax_cross_entropy` (same code path,
        same bits).
    grad : ndarray
        :math:`\partial L / \partial z` of the reduced loss, the shape of
        ``logits`` (for ``"none"``: of the summed loss, each row the gradient
        of its own example's loss); 0 on ignored rows.

    Raises
    ------
    TypeError, ValueError
        As :func:`softmax_cross_entropy`.

    Notes
    -----
    For a smoothed, weighted target :math:`y'` the gradient of
    :math:`-\sum_j w_j y'_j \log \operatorname{softmax}(z)_j` is
    :math:`(\sum_j w_j y'_j)\, \operatorname{softmax}(z) - w \odot y'`;
    for a plain class target, :math:`\operatorname{softmax}(z) - e_t`. The
    ``"mean"`` divides by what the loss divides by (the number of examples
    not ignored, or :math:`\sum_i w_{t_i}` with class weights). The target's
    entry :math:`p_t - 1` is computed as :math:`-\sum_{j \ne t} p_j`, so it
    keeps its digits when :math:`p_t` is close to 1. Matches PyTorch's
    ``F.cross_entropy(...).backward()`` for every combination of options.

    Examples
    --------
    >>> import numpy as np
    >>> from xent import softmax_cross_entropy_and_grad
    >>> loss, grad = softmax_cross_entropy_and_grad(
    ...     np.array([[0.0, 0.0], [2.0, 0.0]]), np.array([0, -100])
    ... )
    >>> float(loss)
    0.6931471805599453
    >>> grad
    array([[-0.5,  0.5],
           [ 0. ,  0. ]])
    """
    loss, grad = softmax_xent(
        logits,
        targets,
        weight=weight,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
        convention=convention,
        smoothing=None,
        function="softmax_cross_entropy_and_grad",
        want_loss=True,
        want_grad=True,
    )
    return loss, grad  # type: ignore[return-value]


def categorical_cross_entropy(
    probs: ArrayLike, targets: ArrayLike, *, reduction: Reduction = "mean"
) -> np.ndarray | np.floating:
    r"""Cross-entropy of predicted probabilities.

    :math:`-\sum_c y_c \log \hat p_c`.

    With a class target :math:`t` (one-hot :math:`y`) the sum collapses to
    :math:`-\log \hat p_t`.

    Parameters
    ----------
    probs : array_like, shape (..., K)
        Predicted distributions :math:`\hat p` along the last axis.
    targets : array_like
        Integer classes of shape ``probs.shape[:-1]`` or distributions of the
        shape of ``probs``.
    reduction : {"mean", "sum", "none"}, optional
        ``"mean"`` averages over examples.

    Returns
    -------
    ndarray or scalar
        The loss; ``inf`` where a target has mass on a class of predicted
        probability 0.

    Raises
    ------
    TypeError
        If an input is not real or class targets are not integers.
    ValueError
        If ``probs`` or float ``targets`` are not distributions, shapes
        disagree, a class is out of range, or ``reduction`` is unknown.

    Notes
    -----
    Prefer :func:`softmax_cross_entropy` on logits: a probability that has
    already underflowed to 0, or rounded to 1, cannot be repaired here. Terms
    with :math:`y_c = 0` contribute 0.

    Examples
    --------
    >>> from xent import categorical_cross_entropy
    >>> p = [[0.7, 0.2, 0.1]]
    >>> round(float(categorical_cross_entropy(p, [0])), 6)   # -log 0.7
    0.356675
    >>> round(float(categorical_cross_entropy(p, [[1.0, 0.0, 0.0]])), 6)
    0.356675
    """
    p = as_logits(probs, "probs")
    reduction = check_reduction(reduction)
    check_probabilities(p, "probs", axis=-1)
    t_arr = np.asarray(targets)
    p64 = p.astype(np.float64)
    with np.errstate(divide="ignore"):
        if t_arr.dtype.kind in "iu":
            t, _ = as_class_indices(t_arr, p.shape)
            loss = -np.log(
                np.take_along_axis(p64, t[..., None], axis=-1)[..., 0]
            )
            dtype = result_dtype(p)
        else:
            y = as_float_array(targets, "targets")
            check_same_shape(p, y, "probs", "targets")
            check_probabilities(y, "targets", axis=-1)
            y64 = y.astype(np.float64)
            terms = np.where(
                y64 == 0, 0.0, y64 * -np.log(np.where(y64 == 0, 1.0, p64))
            )
            loss = terms.sum(axis=-1)
            dtype = result_dtype(p, y)
    return reduce(loss + 0.0, reduction, dtype)


def _elementwise_weight(
    weight: ArrayLike | None, shape: tuple[int, ...], name: str
) -> np.ndarray | None:
    if weight is None:
        return None
    w = as_float_array(weight, name)
    try:
        np.broadcast_to(w, shape)
    except ValueError:
        raise ValueError(
            f"{name}: shape {w.shape} does not broadcast to the input's "
            f"shape {shape}"
        ) from None
    return w


def binary_cross_entropy(
    probs: ArrayLike,
    targets: ArrayLike,
    *,
    weight: ArrayLike | None = None,
    reduction: Reduction = "mean",
) -> np.ndarray | np.floating:
    r"""Binary cross-entropy of probabilities.

    :math:`-[y \log \hat p + (1 - y) \log(1 - \hat p)]`.

    Parameters
    ----------
    probs : array_like
        Predicted probabilities :math:`\hat p \in [0, 1]`.
    targets : array_like
        Targets :math:`y \in [0, 1]` (labels 0/1 or soft targets), the shape of
        ``probs``.
    weight : array_like, optional
        Per-element weights, broadcast against ``probs``.
    reduction : {"mean", "sum", "none"}, optional
        ``"mean"`` averages over all elements.

    Returns
    -------
    ndarray or scalar
        The loss.

    Raises
    ------
    TypeError
        If an input is not real.
    ValueError
        If probabilities or targets are outside :math:`[0, 1]`, shapes
        disagree, or ``reduction`` is unknown.

    Notes
    -----
    As in PyTorch, each logarithm is clamped at :math:`-100`, so a confident
    mistake (:math:`\hat p = 0` for :math:`y = 1`) costs 100 rather than
    ``inf``; ``1 - p`` is never formed, :math:`\log(1 - \hat p)` is
    ``log1p(-p)``. A sigmoid that has rounded to 1 has already lost the
    information: prefer :func:`binary_cross_entropy_with_logits`.

    Examples
    --------
    >>> from xent import binary_cross_entropy
    >>> round(float(binary_cross_entropy([0.9, 0.2], [1.0, 0.0])), 6)
    0.164252
    >>> float(binary_cross_entropy([0.0], [1.0]))     # clamped, as in PyTorch
    100.0
    """
    p = as_float_array(probs, "probs")
    y = as_float_array(targets, "targets")
    reduction = check_reduction(reduction)
    check_same_shape(p, y, "probs", "targets")
    check_probabilities(p, "probs", axis=None)
    check_probabilities(y, "targets", axis=None)
    w = _elementwise_weight(weight, p.shape, "weight")
    p64, y64 = p.astype(np.float64), y.astype(np.float64)
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(p64), -100.0)
        log_1mp = np.maximum(np.log1p(-p64), -100.0)
    loss = -(y64 * log_p + (1.0 - y64) * log_1mp)
    if w is not None:
        loss = loss * w.astype(np.float64)
    dtype = result_dtype(p, y) if w is None else result_dtype(p, y, w)
    return reduce(np.asarray(loss), reduction, dtype)


def binary_cross_entropy_with_logits(
    logits: ArrayLike,
    targets: ArrayLike,
    *,
    weight: ArrayLike | None = None,
    pos_weight: ArrayLike | None = None,
    reduction: Reduction = "mean",
) -> np.ndarray | np.floating:
    r"""Binary cross-entropy of ``sigmoid(logits)``, computed from the logits.

    :math:`L = -[\,w_+ y \log \sigma(z) + (1 - y) \log(1 - \sigma(z))\,]
    = w_+ y \operatorname{softplus}(-z) + (1 - y) \operatorname{softplus}(z)`.

    Parameters
    ----------
    logits : array_like
        Logits :math:`z`.
    targets : array_like
        Targets :math:`y \in [0, 1]`, the shape of ``logits``.
    weight : array_like, optional
        Per-element weights, broadcast against ``logits``.
    pos_weight : array_like, optional
        :math:`w_+`, the weight of the positive term, broadcast against
        ``logits`` (one per class on the last axis, as in PyTorch).
    reduction : {"mean", "sum", "none"}, optional
        ``"mean"`` averages over all elements.

    Returns
    -------
    ndarray or scalar
        The loss.

    Raises
    ------
    TypeError
        If an input is not real.
    ValueError
        If targets are outside :math:`[0, 1]`, shapes disagree, or
        ``reduction`` is unknown.

    Notes
    -----
    Written as :math:`w_+ y\,(\max(-z, 0) + \ell) + (1 - y)(\max(z, 0) + \ell)`
    with :math:`\ell = \operatorname{log1p}(e^{-|z|})`: for :math:`0 \le y \le
    1` every term is non-negative, so nothing cancels and the result is
    accurate to a few ulp for any :math:`z`. PyTorch's form :math:`(1 - y) z +
    \max(-z, 0) + \log(e^{-\max} + e^{-z-\max})` returns 0 for ``(z, y) = (-50,
    0)``, whose loss is :math:`1.9 \times 10^{-22}`, and is 1.3% off at
    :math:`z = -30`. Equals the value of
    ``torch.nn.functional.binary_cross_entropy_with_logits`` wherever that one
    is accurate.

    Examples
    --------
    >>> from xent import binary_cross_entropy_with_logits
    >>> loss = binary_cross_entropy_with_logits([2.0, -1.0], [1.0, 0.0])
    >>> round(float(loss), 6)
    0.220095
    >>> float(binary_cross_entropy_with_logits([-50.0], [0.0]))  # softplus
    1.9287498479639178e-22
    """
    z = as_float_array(logits, "logits")
    y = as_float_array(targets, "targets")
    reduction = check_reduction(reduction)
    check_same_shape(z, y, "logits", "targets")
    check_probabilities(y, "targets", axis=None)
    w = _elementwise_weight(weight, z.shape, "weight")
    pw = _elementwise_weight(pos_weight, z.shape, "pos_weight")
    z64, y64 = z.astype(np.float64), y.astype(np.float64)
    with np.errstate(invalid="ignore"):
        ell = np.log1p(np.exp(-np.abs(z64)))
        pos = y64 * (np.maximum(-z64, 0.0) + ell)
        if pw is not None:
            pos = pos * pw.astype(np.float64)
        loss = pos + (1.0 - y64) * (np.maximum(z64, 0.0) + ell)
        if w is not None:
            loss = loss * w.astype(np.float64)
    dtype = result_dtype(z, y, *[a for a in (w, pw) if a is not None])
    return reduce(np.asarray(loss), reduction, dtype)


def mse_loss(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    reduction: Reduction = "mean",
) -> np.ndarray | np.floating:
    r"""Mean squared error :math:`(\hat y - y)^2`, elementwise, then reduced.

    Parameters
    ----------
    predictions : array_like
        Predictions :math:`\hat y` (for classification: probabilities).
    targets : array_like
        Targets :math:`y`, the shape of ``predictions``.
    reduction : {"mean", "sum", "none"}, optional
        ``"mean"`` averages over all elements, as
        ``torch.nn.functional.mse_loss``.

    Returns
    -------
    ndarray or scalar
        The loss.

    Raises
    ------
    TypeError
        If an input is not real.
    ValueError
        If the shapes disagree or ``reduction`` is unknown.

    Examples
    --------
    >>> from xent import mse_loss
    >>> float(mse_loss([0.9, 0.2], [1.0, 0.0]))
    0.025
    """
    p = as_float_array(predictions, "predictions")
    y = as_float_array(targets, "targets")
    reduction = check_reduction(reduction)
    check_same_shape(p, y, "predictions", "targets")
    diff = p.astype(np.float64) - y.astype(np.float64)
    return reduce(diff * diff, reduction, result_dtype(p, y))

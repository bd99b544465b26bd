"""Softmax cross-entropy and its gradient: input checks and dispatch.

Shared by :func:`xent.softmax_cross_entropy`,
:func:`xent.softmax_cross_entropy_grad` and
:func:`xent.softmax_cross_entropy_and_grad`, so that the three accept the same
options, refuse the same input with the same message and compute the same
numbers (the row kernel is :mod:`xent._rows`). Nothing here is public API.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from xent import _rows
from xent._validation import (
    as_class_indices,
    as_float_array,
    as_logits,
    as_weight,
    check_ignore_index,
    check_probabilities,
    check_reduction,
    deprecated_alias,
    reduce,
    result_dtype,
)
from xent.labels import smoothing_weights


def softmax_xent(
    logits: ArrayLike,
    targets: ArrayLike,
    *,
    weight: ArrayLike | None,
    ignore_index: int,
    reduction: str,
    label_smoothing: float,
    convention: str,
    smoothing: str | None,
    function: str,
    want_loss: bool,
    want_grad: bool,
) -> tuple[Any, np.ndarray | None]:
    """``(loss, grad)`` of softmax cross-entropy; each ``None`` unless wanted.

    ``smoothing`` is the deprecated alias of ``convention`` (given with a
    ``convention`` other than the default, a ``TypeError``); ``function``
    names the caller in the deprecation warning.
    """
    z = as_logits(logits)
    reduction = check_reduction(reduction)
    conv = deprecated_alias(
        None if convention == "uniform" else convention,
        smoothing,
        "convention",
        "smoothing",
        function,
        "uniform",
        stacklevel=4,
    )
    ignore_index = check_ignore_index(ignore_index)
    num_classes = z.shape[-1]
    on, off = smoothing_weights(num_classes, label_smoothing, conv)  # type: ignore[arg-type]
    w = as_weight(weight, num_classes)
    loss_dtype = result_dtype(z) if w is None else result_dtype(z, w)
    w64 = None if w is None else w.astype(np.float64)
    t_arr = np.asarray(targets)
    rows, lead = _rows.as_rows(z, z.ndim - 1)
    if t_arr.dtype.kind not in "iub":
        if t_arr.shape != z.shape:
            raise TypeError(
                "targets: float targets must be distributions of shape "
                f"{z.shape} (the shape of logits); class indices must be "
                f"integers, got dtype {t_arr.dtype} of shape {t_arr.shape}"
            )
        y = as_float_array(t_arr, "targets")
        check_probabilities(y, "targets", axis=-1)
        count = rows.shape[0]
        loss, grad = _soft_targets(
            rows,
            y.reshape(rows.shape).astype(np.float64),
            w64,
            on,
            off,
            want_loss,
            _grad_scale(reduction, count) if want_grad else None,
        )
        grad_dtype = result_dtype(z, y)
        if loss is not None:
            loss = reduce(loss.reshape(lead), reduction, loss_dtype)
    else:
        t, valid = as_class_indices(t_arr, z.shape, ignore_index=ignore_index)
        t, valid = t.reshape(-1), valid.reshape(-1)
        if w64 is None:
            denominator = float(np.count_nonzero(valid))
        else:
            denominator = float(np.sum(w64[t[valid]]))
        loss, grad = _rows.class_xent_rows(
            rows,
            t,
            valid,
            on=on,
            off=off,
            weight=w64,
            loss=want_loss,
            grad_scale=(
                _grad_scale(reduction, denominator) if want_grad else None
            ),
        )
        grad_dtype = z.dtype
        if loss is not None:
            loss = reduce(
                loss.reshape(lead), reduction, loss_dtype, denominator
            )
    if grad is not None:
        grad = grad.reshape(z.shape).astype(grad_dtype, copy=False)
    return loss, grad


def _grad_scale(reduction: str, denominator: float) -> float:
    """The factor of every row's gradient: ``1/denominator`` for a mean."""
    if reduction != "mean":
        return 1.0
    with np.errstate(divide="ignore"):
        return float(np.float64(1.0) / denominator)


def _soft_targets(
    rows: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    on: float,
    off: float,
    want_loss: bool,
    grad_scale: float | None,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Losses (float64) and gradient (work dtype) for distribution targets.

    The smoothed, weighted target is ``y' = w * (off + (on - off) y)``; the
    loss is ``sum_j y'_j ((m - z_j) + log1p(s))`` (non-negative terms) and the
    gradient ``(sum_j y'_j) softmax(z) - y'``.
    """
    if off:
        y = off + (on - off) * y
    if w is not None:
        y = y * w
    loss = grad = None
    if want_loss:
        m, s = _rows.lse_parts(rows)
        with np.errstate(invalid="ignore"):
            neg_logq = (m.astype(np.float64)[:, None] - rows) + np.log1p(s)[
                :, None
            ]
            loss = np.where(y == 0, 0.0, y * neg_logq).sum(axis=1)
    if grad_scale is not None:
        p = _rows.softmax_rows(rows).astype(np.float64)
        grad = (p * y.sum(axis=1, keepdims=True) - y) * grad_scale
        grad = grad.astype(rows.dtype)
    return loss, grad

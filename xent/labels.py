"""Target encodings: one-hot vectors and smoothed labels.

Label smoothing lives here and only here: :func:`smoothing_weights` holds the
two conventions' formula, and :func:`smooth_labels`, the loss
(:func:`xent.softmax_cross_entropy` with ``label_smoothing=``) and the
checkers (:mod:`xent.check`) all use it.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from xent._validation import (
    as_class_indices,
    as_float_array,
    check_choice,
    check_probabilities,
    check_unit_interval,
    deprecated_alias,
)

__all__ = [
    "CONVENTIONS",
    "Convention",
    "one_hot",
    "smooth_labels",
    "smoothing_weights",
]

#: The two label-smoothing conventions.
Convention = Literal["uniform", "others"]

#: Each convention in one line (used in messages and by :mod:`xent.check`).
CONVENTIONS: dict[str, str] = {
    "uniform": (
        "every class gets eps/K and the true class also 1 - eps, so "
        "1 - eps + eps/K in all (PyTorch's label_smoothing): "
        "(1 - eps) * onehot + eps / K"
    ),
    "others": (
        "the true class gets 1 - eps and each of the K - 1 other classes "
        "eps/(K - 1) (fairseq's label_smoothed_nll_loss)"
    ),
}


def _num_classes(num_classes: object) -> int:
    if isinstance(num_classes, (bool, np.bool_)) or not isinstance(
        num_classes, (int, np.integer)
    ):
        raise TypeError(
            f"num_classes: expected a positive integer, got {num_classes!r}"
        )
    if num_classes < 1:
        raise ValueError(
            f"num_classes: expected a positive integer, got {num_classes}"
        )
    return int(num_classes)


def one_hot(labels: ArrayLike, num_classes: int) -> np.ndarray:
    r"""One-hot encode integer class labels: :math:`y_c = [c = \text{label}]`.

    Parameters
    ----------
    labels : array_like of int
        Class indices in ``0 .. num_classes - 1``, any shape.
    num_classes : int
        Number of classes :math:`K`.

    Returns
    -------
    ndarray of float64
        Shape ``labels.shape + (num_classes,)``; each row a distribution with
        all its mass on the label.

    Raises
    ------
    TypeError
        If ``labels`` are not integers or ``num_classes`` is not an integer.
    ValueError
        If a label is out of range or ``num_classes < 1``.

    Examples
    --------
    >>> from xent import one_hot
    >>> one_hot([0, 2], 3)
    array([[1., 0., 0.],
           [0., 0., 1.]])
    """
    k = _num_classes(num_classes)
    t, _ = as_class_indices(labels, (*np.shape(labels), k), name="labels")
    return (t[..., None] == np.arange(k)).astype(np.float64)


def smoothing_weights(
    num_classes: int,
    label_smoothing: float,
    convention: Convention = "uniform",
) -> tuple[float, float]:
    r"""The smoothed target of a class: ``on`` for it, ``off`` for the others.

    Label smoothing with strength :math:`\epsilon` replaces the one-hot
    target of class :math:`t` by :math:`y'_t = \text{on}` and
    :math:`y'_j = \text{off}` for :math:`j \ne t`; a distribution :math:`y`
    becomes :math:`y' = \text{off} + (\text{on} - \text{off})\, y`.

    =============  =================================  ======================
    convention     on                                 off
    =============  =================================  ======================
    ``"uniform"``  :math:`1 - \epsilon + \epsilon/K`  :math:`\epsilon/K`
    ``"others"``   :math:`1 - \epsilon`               :math:`\epsilon/(K-1)`
    =============  =================================  ======================

    Parameters
    ----------
    num_classes : int
        :math:`K \ge 1`.
    label_smoothing : float
        :math:`\epsilon \in [0, 1]`.
    convention : {"uniform", "others"}, optional
        ``"uniform"`` (PyTorch's ``F.cross_entropy(label_smoothing=)``,
        optax's ``smooth_labels``, Szegedy et al.) mixes the target with the
        uniform distribution: :math:`y' = (1 - \epsilon) y + \epsilon / K`.
        ``"others"`` (fairseq's ``label_smoothed_nll_loss``) keeps exactly
        :math:`1 - \epsilon` on the true class and spreads :math:`\epsilon`
        over the :math:`K - 1` others.

    Returns
    -------
    (float, float)
        ``(on, off)``; ``on + (K - 1) * off == 1`` up to rounding.

    Raises
    ------
    TypeError
        If ``label_smoothing`` is not a number or ``num_classes`` not an
        integer.
    ValueError
        If ``label_smoothing`` is outside :math:`[0, 1]`, ``num_classes`` is
        below 1, ``convention`` is unknown, or ``"others"`` is asked to spread
        :math:`\epsilon > 0` over no other class (:math:`K = 1`).

    Notes
    -----
    The conventions are one family: ``"uniform"`` with :math:`\epsilon_u`
    equals ``"others"`` with :math:`\epsilon_o = \epsilon_u (K - 1) / K`.
    Both weights are non-negative, so a loss written as
    :math:`\text{on} \cdot (-\log q_t) + \text{off} \sum_{j \ne t}
    (-\log q_j)` adds non-negative terms and never cancels.

    References
    ----------
    C. Szegedy, V. Vanhoucke, S. Ioffe, J. Shlens and Z. Wojna, "Rethinking
    the Inception Architecture for Computer Vision", CVPR 2016. M. Ott et
    al., "fairseq: A Fast, Extensible Toolkit for Sequence Modeling",
    NAACL-HLT 2019 (demonstrations).

    Examples
    --------
    >>> from xent import smoothing_weights
    >>> smoothing_weights(4, 0.1)
    (0.925, 0.025)
    >>> smoothing_weights(4, 0.1, "others")
    (0.9, 0.03333333333333333)
    """
    k = _num_classes(num_classes)
    eps = check_unit_interval(label_smoothing, "label_smoothing")
    check_choice(convention, "convention", tuple(CONVENTIONS))
    if convention == "uniform":
        return 1.0 - eps + eps / k, eps / k
    if eps == 0:
        return 1.0, 0.0
    if k == 1:
        raise ValueError(
            "convention: 'others' needs at least 2 classes to spread "
            "label_smoothing over"
        )
    return 1.0 - eps, eps / (k - 1)


def smooth_labels(
    targets: ArrayLike,
    label_smoothing: float | None = None,
    *,
    num_classes: int | None = None,
    convention: Convention = "uniform",
    epsilon: float | None = None,
) -> np.ndarray:
    r"""Label smoothing: spread :math:`\epsilon` of each target over classes.

    ``convention="uniform"`` (PyTorch, optax, Inception-v3):
    :math:`y' = (1 - \epsilon) y + \epsilon / K`, so the true class of a
    one-hot target gets :math:`1 - \epsilon + \epsilon / K`.

    ``convention="others"`` (fairseq's ``label_smoothed_nll_loss``):
    :math:`y' = (1 - \epsilon) y + \frac{\epsilon}{K - 1}(1 - y)`, so the
    true class gets :math:`1 - \epsilon` and every other class
    :math:`\epsilon / (K - 1)`.

    Parameters
    ----------
    targets : array_like
        Integer class labels (then ``num_classes`` is required) or
        distributions along the last axis.
    label_smoothing : float
        :math:`\epsilon \in [0, 1]`, as ``label_smoothing`` of
        :func:`xent.softmax_cross_entropy`.
    num_classes : int, optional
        :math:`K` for integer labels; for distributions it must match the
        last axis if given.
    convention : {"uniform", "others"}, optional
        Where the mass :math:`\epsilon` goes (see above and
        :func:`smoothing_weights`).
    epsilon : float, optional
        Deprecated alias of ``label_smoothing`` (a ``DeprecationWarning``).

    Returns
    -------
    ndarray
        Smoothed distributions along the last axis (float64 for integer
        labels, the dtype of float targets otherwise).

    Raises
    ------
    TypeError
        If ``label_smoothing`` is not a number, ``num_classes`` not an
        integer, or both ``label_smoothing`` and ``epsilon`` are given.
    ValueError
        If ``label_smoothing`` is outside :math:`[0, 1]`, ``convention`` is
        unknown, ``num_classes`` is missing or inconsistent, float targets
        are not distributions, or ``"others"`` is asked of a single class.

    Notes
    -----
    The formula is :func:`smoothing_weights`'s, the one that
    :func:`xent.softmax_cross_entropy` uses: training on
    ``smooth_labels(t, eps, num_classes=K)`` and on ``t`` with
    ``label_smoothing=eps`` gives the same loss.

    References
    ----------
    C. Szegedy, V. Vanhoucke, S. Ioffe, J. Shlens and Z. Wojna, "Rethinking
    the Inception Architecture for Computer Vision", CVPR 2016.

    Examples
    --------
    >>> from xent import smooth_labels
    >>> smooth_labels([0], 0.1, num_classes=4)
    array([[0.925, 0.025, 0.025, 0.025]])
    >>> smooth_labels([0], 0.1, num_classes=4, convention="others")
    array([[0.9       , 0.03333333, 0.03333333, 0.03333333]])
    """
    eps = deprecated_alias(
        label_smoothing,
        epsilon,
        "label_smoothing",
        "epsilon",
        "smooth_labels",
        None,
    )
    if eps is None:
        raise TypeError("smooth_labels: missing argument label_smoothing")
    t = np.asarray(targets)
    if t.dtype.kind in "iu":
        if num_classes is None:
            raise ValueError(
                "num_classes: required when targets are integer class labels"
            )
        k = _num_classes(num_classes)
        on, off = smoothing_weights(k, eps, convention)  # type: ignore[arg-type]
        t_idx, _ = as_class_indices(t, (*t.shape, k), name="targets")
        y = np.full((*t.shape, k), off)
        np.put_along_axis(y, t_idx[..., None], on, axis=-1)
        return y
    y = as_float_array(targets, "targets")
    if y.ndim == 0:
        raise ValueError(
            "targets: expected distributions along the last axis, got a scalar"
        )
    if num_classes is not None and _num_classes(num_classes) != y.shape[-1]:
        raise ValueError(
            f"num_classes: {num_classes} does not match the {y.shape[-1]} "
            "classes of targets"
        )
    check_probabilities(y, "targets", axis=-1)
    on, off = smoothing_weights(y.shape[-1], eps, convention)  # type: ignore[arg-type]
    return (off + (on - off) * y).astype(y.dtype, copy=False)

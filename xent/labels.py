"""Target encodings: one-hot vectors and smoothed labels."""

from __future__ import annotations

import numpy as np

from xent._validation import (
    as_class_indices,
    as_float_array,
    check_choice,
    check_probabilities,
    check_unit_interval,
)

__all__ = ["one_hot", "smooth_labels"]

CONVENTIONS = ("uniform", "others")


def _num_classes(num_classes) -> int:
    if isinstance(num_classes, (bool, np.bool_)) or not isinstance(num_classes, (int, np.integer)):
        raise TypeError(f"num_classes: expected a positive integer, got {num_classes!r}")
    if num_classes < 1:
        raise ValueError(f"num_classes: expected a positive integer, got {num_classes}")
    return int(num_classes)


def one_hot(labels, num_classes):
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
        Shape ``labels.shape + (num_classes,)``; each row a distribution with all its mass on the
        label.

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
    t, _ = as_class_indices(labels, np.shape(labels) + (k,), name="labels")
    return (t[..., None] == np.arange(k)).astype(np.float64)


def smooth_labels(targets, epsilon, *, convention="uniform", num_classes=None):
    r"""Label smoothing: mix the targets with a uniform distribution.

    ``convention="uniform"`` (PyTorch, optax, Inception-v3): :math:`y' = (1 - \epsilon) y + \epsilon / K`,
    so the true class of a one-hot target gets :math:`1 - \epsilon + \epsilon / K`.

    ``convention="others"`` (the seed document): :math:`y' = (1 - \epsilon) y + \frac{\epsilon}{K - 1}(1 - y)`,
    so the true class gets :math:`1 - \epsilon` and every other class :math:`\epsilon / (K - 1)`.

    Parameters
    ----------
    targets : array_like
        Integer class labels (then ``num_classes`` is required) or distributions along the last
        axis.
    epsilon : float
        Smoothing strength in :math:`[0, 1]`.
    convention : {"uniform", "others"}, optional
        Where the mass :math:`\epsilon` goes (see above).
    num_classes : int, optional
        :math:`K` for integer labels; for distributions it must match the last axis if given.

    Returns
    -------
    ndarray
        Smoothed distributions along the last axis (float64 for integer labels).

    Raises
    ------
    TypeError
        If ``epsilon`` is not a number or ``num_classes`` not an integer.
    ValueError
        If ``epsilon`` is outside :math:`[0, 1]`, ``convention`` is unknown, ``num_classes`` is
        missing or inconsistent, float targets are not distributions, or ``"others"`` is asked of a
        single class.

    Notes
    -----
    The conventions are the same family: ``"uniform"`` with :math:`\epsilon_u` equals ``"others"``
    with :math:`\epsilon_o = \epsilon_u (K - 1) / K`.

    References
    ----------
    C. Szegedy, V. Vanhoucke, S. Ioffe, J. Shlens and Z. Wojna, "Rethinking the Inception
    Architecture for Computer Vision", CVPR 2016.

    Examples
    --------
    >>> from xent import smooth_labels
    >>> smooth_labels([0], 0.1, num_classes=4)
    array([[0.925, 0.025, 0.025, 0.025]])
    >>> smooth_labels([0], 0.1, convention="others", num_classes=4)
    array([[0.9       , 0.03333333, 0.03333333, 0.03333333]])
    """
    eps = check_unit_interval(epsilon, "epsilon")
    check_choice(convention, "convention", CONVENTIONS)
    t = np.asarray(targets)
    if t.dtype.kind in "iu":
        if num_classes is None:
            raise ValueError("num_classes: required when targets are integer class labels")
        y = one_hot(t, num_classes)
    else:
        y = as_float_array(targets, "targets")
        if y.ndim == 0:
            raise ValueError("targets: expected distributions along the last axis, got a scalar")
        if num_classes is not None and _num_classes(num_classes) != y.shape[-1]:
            raise ValueError(
                f"num_classes: {num_classes} does not match the {y.shape[-1]} classes of targets"
            )
        check_probabilities(y, "targets", axis=-1)
    k = y.shape[-1]
    if convention == "uniform":
        return (1 - eps) * y + eps / k
    if k == 1 and eps > 0:
        raise ValueError("convention: 'others' needs at least 2 classes to spread epsilon over")
    return (1 - eps) * y + (eps / max(k - 1, 1)) * (1 - y)

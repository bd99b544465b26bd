"""Entropy, cross-entropy and Kullback-Leibler divergence of discrete
distributions.

Distributions lie along ``axis`` (the last by default). By convention :math:`0
\\log 0 = 0`, and a ``q`` of 0 where ``p`` is positive gives ``inf``. Natural
logarithms (nats) unless ``base`` is given; ``base=2`` gives bits.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from xent._validation import (
    as_float_array,
    check_axis,
    check_base,
    check_probabilities,
    result_dtype,
)

__all__ = ["cross_entropy", "entropy", "kl_divergence"]


def _distributions(
    p: ArrayLike, q: ArrayLike | None = None, *, axis: int
) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Check ``p`` (and ``q``); return them with the outcome axis as a
    non-negative index into ``p`` (no ``q``) or a negative one that names the
    same axis of ``p``, ``q`` and their broadcast (with ``q``).

    With ``q``, ``axis`` counts in the broadcast shape of ``p`` and ``q``, as
    in ``np.sum(p * np.log(q), axis=axis)``: for ``p`` of shape (2, 3) and
    ``q`` of shape (3,), ``axis=1`` and ``axis=-1`` are the same axis.
    """
    p_arr = as_float_array(p, "p")
    if q is None:
        ax = check_axis(axis, p_arr.ndim)
        if p_arr.shape[ax] == 0:
            raise ValueError(
                f"p: expected at least one outcome along axis {axis}, "
                f"got shape {p_arr.shape}"
            )
        check_probabilities(p_arr, "p", axis=ax)
        return p_arr, None, ax
    q_arr = as_float_array(q, "q")
    # One negative index names the outcome axis of p, of q and of their
    # broadcast alike (broadcasting aligns shapes on the right).
    ndim = max(p_arr.ndim, q_arr.ndim)
    neg = check_axis(axis, max(ndim, 1)) - max(ndim, 1)
    if p_arr.ndim < -neg or p_arr.shape[neg] == 0:
        raise ValueError(
            f"p: expected at least one outcome along axis {axis}, "
            f"got shape {p_arr.shape}"
        )
    check_probabilities(p_arr, "p", axis=neg)
    if q_arr.ndim < -neg or q_arr.shape[neg] != p_arr.shape[neg]:
        raise ValueError(
            f"q: expected {p_arr.shape[neg]} outcomes along axis {axis} "
            f"(as p), got shape {q_arr.shape}"
        )
    try:
        np.broadcast_shapes(p_arr.shape, q_arr.shape)
    except ValueError:
        raise ValueError(
            f"q: shape {q_arr.shape} does not broadcast with the shape of p, "
            f"{p_arr.shape}"
        ) from None
    check_probabilities(q_arr, "q", axis=neg)
    return p_arr, q_arr, neg


_HINTS = {
    "cross_entropy": (
        "xent.cross_entropy(p, q) is H(p, q) of two distributions; for "
        "logits and class targets (torch.nn.functional.cross_entropy), did "
        "you mean xent.softmax_cross_entropy(logits, targets)?"
    ),
    "kl_divergence": (
        "xent.kl_divergence(p, q) takes two distributions, the true one "
        "first; torch.nn.functional.kl_div(input, target) takes log q first "
        "and p second"
    ),
}


def _pair(
    p: ArrayLike, q: ArrayLike, axis: int, function: str
) -> tuple[np.ndarray, np.ndarray, int]:
    """:func:`_distributions` of a pair, with a hint for users of PyTorch
    appended to the message where the inputs are not distributions."""
    try:
        p_arr, q_arr, ax = _distributions(p, q, axis=axis)
    except ValueError as exc:
        message = str(exc)
        integer_q = np.asarray(q).dtype.kind in "iu"
        if (
            integer_q
            or "probabilities must" in message
            or "sum to 1" in message
        ):
            raise ValueError(f"{message} ({_HINTS[function]})") from None
        raise
    assert q_arr is not None
    return p_arr, q_arr, ax


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x * log(y)`` with ``0 * log(y) = 0`` for every ``y``, also 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = x * np.log(y)
    return np.where(x == 0, 0.0, out)


def _finish(total: np.ndarray, base: float | None, dtype: np.dtype) -> Any:
    if base is not None:
        total = total / np.log(base)
    out = np.asarray(total, dtype=np.float64).astype(dtype)
    return out[()] if out.ndim == 0 else out


def entropy(
    p: ArrayLike, *, axis: int = -1, base: float | None = None
) -> np.ndarray | np.floating:
    r"""Shannon entropy of distributions along ``axis``.

    :math:`H(p) = -\sum_c p(c) \log p(c)`.

    Parameters
    ----------
    p : array_like
        Probabilities in :math:`[0, 1]` summing to 1 along ``axis`` (tolerance
        ``1e-6`` in float64, :math:`\sqrt{\epsilon}` in lower precisions).
    axis : int, optional
        The axis of outcomes (default: the last).
    base : float, optional
        Base of the logarithm: ``None`` for nats (natural log), ``2`` for bits.

    Returns
    -------
    ndarray or scalar
        The entropies, with ``axis`` removed.

    Raises
    ------
    ValueError
        If ``p`` is not a distribution along ``axis``, or ``base`` is not > 0
        and != 1.
    TypeError
        If ``p`` is not real.

    Notes
    -----
    Outcomes of probability 0 contribute 0 (the limit of :math:`x \log x` at
    0). The sum is accumulated in float64.

    References
    ----------
    C. E. Shannon, "A Mathematical Theory of Communication", Bell System
    Technical Journal, 1948.

    Examples
    --------
    >>> from xent import entropy
    >>> float(entropy([0.5, 0.5], base=2))       # one fair coin: one bit
    1.0
    >>> float(entropy([1.0, 0.0]))         # a certain outcome: no surprise
    0.0
    """
    base = check_base(base)
    try:
        p_arr, _, ax = _distributions(p, axis=axis)
    except ValueError as exc:
        if "sum to 1" not in str(exc) and "must lie in" not in str(exc):
            raise
        raise ValueError(
            f"{exc} (xent.entropy takes distributions; scipy.stats.entropy "
            "normalises its input and reduces over axis 0: pass "
            "p / p.sum(axis=-1, keepdims=True))"
        ) from None
    p64 = p_arr.astype(np.float64)
    total = -np.sum(_xlogy(p64, p64), axis=ax)
    return _finish(total + 0.0, base, result_dtype(p_arr))


def cross_entropy(
    p: ArrayLike,
    q: ArrayLike,
    *,
    axis: int = -1,
    base: float | None = None,
) -> np.ndarray | np.floating:
    r"""Cross-entropy :math:`H(p, q)` of two distributions along ``axis``.

    :math:`H(p, q) = -\sum_c p(c) \log q(c)`, of ``q`` relative to ``p``.

    The expected code length, in nats (or bits with ``base=2``), of outcomes
    drawn from ``p`` when coded with a code that is optimal for ``q``.

    Parameters
    ----------
    p : array_like
        The true distribution(s) along ``axis``.
    q : array_like
        The predicted distribution(s), broadcastable against ``p``.
    axis : int, optional
        The axis of outcomes (default: the last).
    base : float, optional
        Base of the logarithm: ``None`` for nats, ``2`` for bits.

    Returns
    -------
    ndarray or scalar
        The cross-entropies, with ``axis`` removed; ``inf`` where ``q`` is 0
        and ``p`` is not.

    Raises
    ------
    ValueError
        If ``p`` or ``q`` is not a distribution along ``axis``, the shapes do
        not match, or ``base`` is not > 0 and != 1.
    TypeError
        If an input is not real.

    Notes
    -----
    :math:`H(p, q) = H(p) + D_{KL}(p \| q) \ge H(p)` (Gibbs' inequality), with
    equality only for :math:`q = p`. It is not symmetric in ``p`` and ``q``.

    References
    ----------
    T. M. Cover and J. A. Thomas, "Elements of Information Theory", 2nd ed.,
    Wiley, 2006.

    Examples
    --------
    >>> from xent import cross_entropy
    >>> float(cross_entropy([0.5, 0.5], [0.5, 0.5], base=2))
    1.0
    >>> # coding with the wrong code costs more than one bit:
    >>> float(cross_entropy([0.5, 0.5], [0.9, 0.1], base=2))
    1.736965594166206
    >>> float(cross_entropy([1.0, 0.0], [0.0, 1.0]))
    inf
    """
    base = check_base(base)
    p_arr, q_arr, ax = _pair(p, q, axis, "cross_entropy")
    total = -np.sum(
        _xlogy(p_arr.astype(np.float64), q_arr.astype(np.float64)), axis=ax
    )
    return _finish(total + 0.0, base, result_dtype(p_arr, q_arr))


def kl_divergence(
    p: ArrayLike,
    q: ArrayLike,
    *,
    axis: int = -1,
    base: float | None = None,
) -> np.ndarray | np.floating:
    r"""Kullback-Leibler divergence of two distributions along ``axis``.

    :math:`D_{\mathrm{KL}}(p \| q) = \sum_c p(c) \log \frac{p(c)}{q(c)}`.

    Parameters
    ----------
    p : array_like
        The true distribution(s) along ``axis``.
    q : array_like
        The approximating distribution(s), broadcastable against ``p``.
    axis : int, optional
        The axis of outcomes (default: the last).
    base : float, optional
        Base of the logarithm: ``None`` for nats, ``2`` for bits.

    Returns
    -------
    ndarray or scalar
        Non-negative divergences, with ``axis`` removed; ``inf`` where ``q`` is
        0 and ``p`` is not.

    Raises
    ------
    ValueError
        If ``p`` or ``q`` is not a distribution along ``axis``, the shapes do
        not match, or ``base`` is not > 0 and != 1.
    TypeError
        If an input is not real.

    Notes
    -----
    Each term is computed as :math:`p \log(p / q)` (as
    ``scipy.special.rel_entr``; as :math:`p(\log p - \log q)` where the ratio
    overflows), not as the difference :math:`H(p, q) - H(p)`, which cancels
    when ``q`` is close to ``p``. Negative rounding residue is clipped to 0,
    since :math:`D_{KL} \ge 0` exactly.

    References
    ----------
    S. Kullback and R. A. Leibler, "On Information and Sufficiency", Annals of
    Mathematical Statistics, 1951.

    Examples
    --------
    >>> from xent import kl_divergence
    >>> float(kl_divergence([0.5, 0.5], [0.5, 0.5]))
    0.0
    >>> round(float(kl_divergence([0.5, 0.5], [0.9, 0.1], base=2)), 6)
    0.736966
    """
    base = check_base(base)
    p_arr, q_arr, ax = _pair(p, q, axis, "kl_divergence")
    p64, q64 = np.broadcast_arrays(
        p_arr.astype(np.float64), q_arr.astype(np.float64)
    )
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = p64 / q64
        # log(p/q) keeps the digits when p ~ q; where the ratio overflows (q
        # subnormal) or underflows, log p - log q is exact enough and finite.
        log_ratio = np.where(
            np.isfinite(ratio) & (ratio > 0),
            np.log(ratio),
            np.log(p64) - np.log(q64),
        )
        terms = np.where(p64 == 0, 0.0, p64 * log_ratio)
    total = np.maximum(np.sum(terms, axis=ax), 0.0)
    return _finish(total, base, result_dtype(p_arr, q_arr))

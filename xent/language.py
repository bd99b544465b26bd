r"""Language-model logits: the z-loss and logit soft-capping.

Two tools that large language models apply to their output logits around
the cross-entropy: the z-loss (PaLM) pulls the log-partition
:math:`\log Z = \operatorname{logsumexp}(z)` towards 0, soft-capping
(Gemma 2) squashes each logit smoothly into ``[-cap, cap]``. NumPy only;
:func:`xent.chunked.chunked_linear_cross_entropy` has both as options for
PyTorch.
"""

from __future__ import annotations

import numpy as np

from xent._options import check_positive
from xent._validation import (
    as_float_array,
    as_logits,
    check_reduction,
    reduce,
    result_dtype,
)
from xent.numerics import logsumexp

__all__ = ["softcap", "z_loss"]


def z_loss(logits, *, reduction="mean"):
    r"""The squared log-partition :math:`(\log Z)^2`, PaLM's auxiliary loss.

    .. math::

        \ell_i = \bigl(\log Z_i\bigr)^2, \qquad
        \log Z_i = \log \sum_{j=1}^{V} e^{z_{ij}},

    then reduced over the examples. This is the loss *without* its
    coefficient: a training loss adds :math:`\lambda\,\ell_i` to each
    token's cross-entropy, with :math:`\lambda = 10^{-4}` in PaLM and
    OLMo 2.

    Parameters
    ----------
    logits : array_like, shape (..., V)
        Logits, classes (the vocabulary) on the last axis.
    reduction : {"mean", "sum", "none"}, optional
        ``"mean"`` (default) averages over the examples (every position of
        the leading axes), ``"sum"`` adds them up, ``"none"`` returns one
        value per example, of shape ``logits.shape[:-1]``.

    Returns
    -------
    ndarray or scalar
        Of the logits' dtype (float64 for integer logits). ``nan`` for the
        mean over no example.

    Raises
    ------
    TypeError
        If ``logits`` are not real numbers.
    ValueError
        If ``logits`` have no class axis or no class, or ``reduction`` is
        unknown.

    Notes
    -----
    Cross-entropy is unchanged when every logit of a row is shifted by the
    same constant, so nothing in the loss keeps the logits near 0: they
    can drift to large values where bfloat16 has few digits (its spacing
    is 0.25 near 50) and the softmax loses precision. The z-loss removes
    that freedom: its gradient, :math:`2 \log Z \cdot
    \operatorname{softmax}(z)`, shifts every logit of a row by the same
    amount towards :math:`\log Z = 0`, where the logits are themselves
    normalised log-probabilities. With a small coefficient it costs
    nothing measurable in cross-entropy (Chowdhery et al.).

    :math:`\log Z` is computed by :func:`xent.logsumexp` in float64 (the
    largest logit factored out, so nothing overflows), squared, reduced in
    float64 and rounded once.

    References
    ----------
    .. [1] A. Chowdhery, S. Narang, J. Devlin et al., "PaLM: Scaling
       Language Modeling with Pathways", JMLR 24(240), 2023 (Section 5,
       "Loss function": ``z_loss = 1e-4 * log(Z)**2``).
    .. [2] B. Zoph, I. Bello, S. Kumar et al., "ST-MoE: Designing Stable
       and Transferable Sparse Expert Models", arXiv:2202.08906, 2022.
    .. [3] T. OLMo, P. Walsh, L. Soldaini et al., "2 OLMo 2 Furious",
       arXiv:2501.00656, 2024.

    Examples
    --------
    Uniform logits over 4 classes: :math:`\log Z = \log 4`, whatever the
    constant; at 0 it is :math:`(\log 4)^2`:

    >>> import numpy as np
    >>> float(z_loss(np.zeros((2, 4))))
    1.92181206
    >>> float(np.log(4.0) ** 2)
    1.92181206

    Logits that are already log-probabilities have :math:`\log Z = 0`:

    >>> z_loss(np.log([[0.5, 0.25, 0.25], [0.1, 0.2, 0.7]]), reduction="none")
    array([0., 0.])
    """
    z = as_logits(logits)
    reduction = check_reduction(reduction)
    lse = np.asarray(logsumexp(z.astype(np.float64, copy=False)))
    with np.errstate(over="ignore"):
        return reduce(lse * lse, reduction, result_dtype(z))


def softcap(logits, cap):
    r"""Logit soft-capping: :math:`c \tanh(z / c)`, elementwise (Gemma 2).

    .. math::

        \operatorname{softcap}(z) = c \tanh\!\left(\frac{z}{c}\right)
        \in (-c, c), \qquad
        \frac{d}{dz} \operatorname{softcap}(z)
        = 1 - \tanh^2\!\left(\frac{z}{c}\right).

    Parameters
    ----------
    logits : array_like
        Any shape; applied to each entry.
    cap : float
        :math:`c > 0`, the bound. Gemma 2 uses 30 for its final logits and
        50 for its attention logits.

    Returns
    -------
    ndarray or scalar
        The shape and floating dtype of ``logits`` (float64 for integers).

    Raises
    ------
    TypeError
        If ``logits`` are not real numbers or ``cap`` is not a number.
    ValueError
        If ``cap`` is not a finite number > 0.

    Notes
    -----
    For :math:`|z| \ll c` the function is the identity up to
    :math:`z^3 / (3 c^2)`, so ordinary logits pass nearly unchanged; large
    ones saturate at :math:`\pm c` instead of growing without bound. A
    cross-entropy computed on capped logits is therefore at most
    :math:`2c + \log V` for any input, and no logit can make the softmax
    exactly one-hot. Unlike clipping, the function is smooth and its
    gradient never exactly 0. It is applied *before* the cross-entropy and
    differentiated through (the gradient of the loss is multiplied by
    :math:`1 - \tanh^2`). Bello et al. used the same squashing (``C tanh``)
    on pointer-network logits in 2016.

    Computed in float64 and rounded once to the logits' dtype; ``±inf``
    map to ``±cap``.

    References
    ----------
    .. [1] Gemma Team, "Gemma 2: Improving Open Language Models at a
       Practical Size", arXiv:2408.00118, 2024 (Section 2, "Logit
       soft-capping").
    .. [2] I. Bello, H. Pham, Q. V. Le, M. Norouzi, S. Bengio, "Neural
       Combinatorial Optimization with Reinforcement Learning",
       arXiv:1611.09940, 2016.

    Examples
    --------
    >>> import numpy as np
    >>> softcap(np.array([1.0, 30.0, 1000.0, -np.inf]), 30.0)
    array([  0.99962979,  22.84782468,  30.        , -30.        ])

    Small logits pass almost unchanged (about :math:`1 - 1/2700` at 1),
    large ones saturate at the cap.
    """
    z = as_float_array(logits, "logits")
    cap = check_positive(cap, "cap")
    out = cap * np.tanh(z.astype(np.float64, copy=False) / cap)
    out = out.astype(z.dtype, copy=False)
    return out[()] if out.ndim == 0 else out

r"""Reinforcement learning on language models: group baselines and the loss.

A language model answers each prompt ``G`` times; a reward scores every
answer. The advantage of an answer is its reward compared with the other
answers to the same prompt (GRPO, Dr. GRPO, RLOO: no learned critic), and
the policy-gradient loss is the cross-entropy of the answer's own tokens,
weighted by that advantage. NumPy only.
"""

from __future__ import annotations

import numpy as np

from xent._options import check_bool, check_non_negative
from xent._validation import (
    as_class_indices,
    as_float_array,
    as_logits,
    check_choice,
    check_ignore_index,
    result_dtype,
)
from xent.losses import softmax_cross_entropy

__all__ = [
    "group_relative_advantages",
    "leave_one_out_advantages",
    "sequence_policy_gradient_loss",
]

NORMALIZATIONS = ("token", "sequence")


def _as_groups(rewards) -> np.ndarray:
    """Rewards with at least two members per group on the last axis."""
    r = as_float_array(rewards, "rewards")
    if r.ndim == 0 or r.shape[-1] < 2:
        raise ValueError(
            "rewards: expected groups of at least 2 rewards on the last "
            f"axis, shape (..., G) with G >= 2, got shape {r.shape}"
        )
    return r


def _rounded(out64: np.ndarray, dtype) -> np.ndarray:
    with np.errstate(over="ignore"):
        return out64.astype(dtype)


def group_relative_advantages(rewards, *, normalize=True, eps=1e-4):
    r"""GRPO's advantages: each reward against its group's mean (and std).

    For a group of ``G`` rewards :math:`r_1, \dots, r_G` (the answers to
    one prompt), with :math:`\bar r` their mean and
    :math:`s = \sqrt{\sum_j (r_j - \bar r)^2 / (G - 1)}` their sample
    standard deviation,

    .. math::

        A_i = \frac{r_i - \bar r}{s + \varepsilon}
        \quad\text{(GRPO)}, \qquad
        A_i = r_i - \bar r
        \quad\text{(Dr. GRPO, ``normalize=False``)}.

    Parameters
    ----------
    rewards : array_like, shape (..., G)
        Groups on the last axis: ``rewards[b, i]`` is the reward of answer
        ``i`` to prompt ``b``. At least 2 answers per group.
    normalize : bool, optional
        Divide by the group's standard deviation plus ``eps`` (GRPO,
        default ``True``), or only subtract the mean (``False``).
    eps : float, optional
        :math:`\varepsilon \ge 0`, added to the standard deviation (not to
        the variance). Default ``1e-4``, as TRL's ``GRPOTrainer``. Ignored
        when ``normalize=False``.

    Returns
    -------
    ndarray
        The shape of ``rewards``, of its floating dtype (float64 for
        integers).

    Raises
    ------
    TypeError
        If ``rewards`` are not real numbers, ``normalize`` is not a bool or
        ``eps`` not a number.
    ValueError
        If a group has fewer than 2 rewards (a 1-d array of ``B * G``
        rewards must be reshaped to ``(B, G)`` first), or ``eps`` is
        negative or not finite.

    Notes
    -----
    The group mean is a baseline: subtracting it leaves the expected
    policy gradient unchanged (it does not depend on the answer) and
    removes the part of the reward that is due to the prompt being easy
    or hard. The advantages of a group sum to zero, and a group whose
    answers all got the same reward gives zero advantages: it teaches
    nothing.

    The standard deviation is the sample one, corrected by :math:`G - 1`
    (``torch.Tensor.std``'s default, used by TRL's ``GRPOTrainer``:
    ``(rewards - mean) / (std + 1e-4)``), so with ``eps = 0`` the
    advantages of a group have sample standard deviation exactly 1.
    Liu et al. (Dr. GRPO) argue that this division is a bias: it gives the
    groups of nearly unanimous rewards (questions almost always or almost
    never solved) the same weight as the informative ones; they drop it
    (``normalize=False``).

    Computed in float64 and rounded once.

    References
    ----------
    .. [1] Z. Shao, P. Wang, Q. Zhu et al., "DeepSeekMath: Pushing the
       Limits of Mathematical Reasoning in Open Language Models" (GRPO),
       arXiv:2402.03300, 2024.
    .. [2] Z. Liu, C. Chen, W. Li et al., "Understanding R1-Zero-Like
       Training: A Critical Perspective" (Dr. GRPO), arXiv:2503.20783,
       2025.

    Examples
    --------
    Four answers to one prompt, two right (reward 1) and two wrong; the
    sample standard deviation is :math:`\sqrt{1/3}`:

    >>> import numpy as np
    >>> group_relative_advantages([[1.0, 0.0, 0.0, 1.0]], eps=0.0)
    array([[ 0.8660254, -0.8660254, -0.8660254,  0.8660254]])
    >>> group_relative_advantages([[1.0, 0.0, 0.0, 1.0]], normalize=False)
    array([[ 0.5, -0.5, -0.5,  0.5]])

    A group where every answer is right teaches nothing:

    >>> group_relative_advantages([[1.0, 1.0, 1.0, 1.0]])
    array([[0., 0., 0., 0.]])
    """
    r = _as_groups(rewards)
    normalize = check_bool(normalize, "normalize")
    eps = check_non_negative(eps, "eps")
    r64 = r.astype(np.float64, copy=False)
    centred = r64 - r64.mean(axis=-1, keepdims=True)
    if normalize:
        std = np.sqrt(
            np.sum(centred * centred, axis=-1, keepdims=True)
            / (r.shape[-1] - 1)
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            centred = centred / (std + eps)
    return _rounded(centred, result_dtype(r))


def leave_one_out_advantages(rewards):
    r"""RLOO's advantages: each reward minus the mean of the others.

    For a group of ``G`` rewards,

    .. math::

        A_i = r_i - \frac{1}{G - 1} \sum_{j \ne i} r_j
            = \frac{G}{G - 1}\,\bigl(r_i - \bar r\bigr).

    Parameters
    ----------
    rewards : array_like, shape (..., G)
        Groups on the last axis (answers to one prompt), at least 2 per
        group.

    Returns
    -------
    ndarray
        The shape of ``rewards``, of its floating dtype (float64 for
        integers).

    Raises
    ------
    TypeError
        If ``rewards`` are not real numbers.
    ValueError
        If a group has fewer than 2 rewards.

    Notes
    -----
    REINFORCE with a baseline needs a baseline that does not depend on the
    action whose gradient it scales; the group mean contains
    :math:`r_i` itself, the mean of the *other* ``G - 1`` rewards does
    not, so the RLOO estimate of the policy gradient is unbiased (Kool et
    al.). By the identity above it is the Dr. GRPO advantage
    (:func:`group_relative_advantages` with ``normalize=False``) scaled by
    :math:`G / (G - 1)`: the two differ only in step size. The advantages
    of a group sum to zero. Computed as the right-hand side in float64
    (one subtraction per reward) and rounded once.

    References
    ----------
    .. [1] W. Kool, H. van Hoof, M. Welling, "Buy 4 REINFORCE Samples, Get
       a Baseline for Free!", ICLR Workshop on Deep RL Meets Structured
       Prediction, 2019.
    .. [2] A. Ahmadian, C. Cremer, M. Gallé et al., "Back to Basics:
       Revisiting REINFORCE Style Optimization for Learning from Human
       Feedback in LLMs", ACL 2024 (arXiv:2402.14740).

    Examples
    --------
    >>> import numpy as np
    >>> leave_one_out_advantages([[1.0, 0.0, 0.0, 1.0]])
    array([[ 0.66666667, -0.66666667, -0.66666667,  0.66666667]])

    The first answer's baseline is the mean of ``0, 0, 1``, i.e. 1/3.
    """
    r = _as_groups(rewards)
    r64 = r.astype(np.float64, copy=False)
    g = r.shape[-1]
    centred = r64 - r64.mean(axis=-1, keepdims=True)
    return _rounded(centred * (g / (g - 1)), result_dtype(r))


def sequence_policy_gradient_loss(
    logits,
    targets,
    advantages,
    *,
    ignore_index=-100,
    normalization="token",
):
    r"""Token-level policy-gradient loss for sequences (RL on an LLM).

    Sequence ``b`` of a batch has advantage :math:`A_b` and response
    tokens :math:`\mathcal{T}_b` (the targets that are not
    ``ignore_index``); each token's loss is the advantage times its
    cross-entropy, :math:`\ell_{bt} = A_b \cdot (-\log
    \pi(y_{bt} \mid z_{bt}))`, and

    .. math::

        L_{\text{token}} = \frac{\sum_b \sum_{t \in \mathcal{T}_b}
        \ell_{bt}}{\sum_b |\mathcal{T}_b|},
        \qquad
        L_{\text{sequence}} = \frac{1}{B'} \sum_{b : \mathcal{T}_b \neq
        \varnothing} \frac{1}{|\mathcal{T}_b|}
        \sum_{t \in \mathcal{T}_b} \ell_{bt},

    where :math:`B'` counts the sequences with at least one response
    token. Gradient:
    :math:`\partial L / \partial z_{bt} = c_{bt}\, A_b\,
    (\operatorname{softmax}(z_{bt}) - e_{y_{bt}})`, with
    :math:`c_{bt} = 1 / \sum_b |\mathcal{T}_b|` ("token") or
    :math:`1 / (B' |\mathcal{T}_b|)` ("sequence"), 0 for ignored tokens.

    Parameters
    ----------
    logits : array_like, shape (B, T, V)
        The policy's logits, **aligned** with ``targets``: ``logits[b, t]``
        is the distribution that ``targets[b, t]`` was sampled from. For a
        causal model's raw outputs on ``tokens`` (prompt and response)
        that is ``logits[:, :-1]`` with ``targets = tokens[:, 1:]``: the
        shift is the caller's job here, as for :func:`xent.perplexity`
        (which also takes ``targets``), unlike
        :func:`xent.next_token_cross_entropy` (which takes the unshifted
        ``tokens`` and shifts them itself).
    targets : array_like of int, shape (B, T)
        The sampled tokens in ``0..V-1``, with the prompt and the padding
        set to ``ignore_index``.
    advantages : array_like, shape (B,)
        One advantage per sequence, e.g. from
        :func:`group_relative_advantages` (flattened to ``B = prompts x
        G``). Constants: no gradient flows through them.
    ignore_index : int, optional
        Targets left out (prompt, padding). Default ``-100``.
    normalization : {"token", "sequence"}, optional
        ``"token"`` (default): one mean over all response tokens of the
        batch. ``"sequence"``: each sequence's mean over its tokens, then
        the mean over sequences (the original GRPO objective). See Notes.

    Returns
    -------
    scalar
        Of the common floating dtype of ``logits`` and ``advantages``;
        ``nan`` if no target is a response token.

    Raises
    ------
    TypeError
        If ``logits`` or ``advantages`` are not real numbers, ``targets``
        not integers, or ``ignore_index`` not an integer.
    ValueError
        If ``logits`` are not 3-d, ``targets`` are not of shape
        ``(B, T)``, ``advantages`` not of shape ``(B,)``, a target is out
        of range, or ``normalization`` is unknown.

    Notes
    -----
    :math:`-\sum_{t} \log \pi(y_t)` is minus the log-probability of the
    whole response, so the gradient of :math:`A_b` times it is
    REINFORCE's for the response as one action. The two normalisations
    weigh tokens differently.

    *"sequence" has the length bias* (Liu et al., Dr. GRPO): a token of
    sequence ``b`` weighs :math:`1 / |\mathcal{T}_b|`. With a positive
    advantage, short responses get larger per-token updates than long
    ones, so among right answers the short are preferred; with a negative
    advantage, long responses are penalised less per token than short
    ones, so wrong answers are pushed to grow longer. The response length
    of a model trained so drifts for reasons unrelated to the reward.

    *"token"* gives every response token of the batch the same weight
    :math:`1 / \sum_b |\mathcal{T}_b|` (DAPO's token-level loss; also
    what ``next_token_cross_entropy`` does for ``A = 1``), which removes
    the per-sequence bias. Its normaliser still depends on the batch's
    total length; Dr. GRPO divides by a constant (e.g. the maximal
    generation length times ``B``) instead: multiply this loss by
    :math:`\sum_b |\mathcal{T}_b| / \text{const}` for that. Across
    micro-batches or ranks, sum the unnormalised losses and divide once by
    the global token count (see :mod:`xent.chunked`'s ``reduction="sum"``).

    A sequence without any response token has no token mean: under
    ``"sequence"`` it is left out of :math:`B'` (TRL's ``GRPOTrainer``
    instead counts it with a loss of 0, clamping its length to 1).

    Each cross-entropy is computed in float64 by
    :func:`xent.softmax_cross_entropy`, weighted and summed in float64,
    and rounded once. This is the on-policy loss, without PPO's ratio
    clipping or a KL penalty.

    References
    ----------
    .. [1] Z. Shao, P. Wang, Q. Zhu et al., "DeepSeekMath" (GRPO),
       arXiv:2402.03300, 2024.
    .. [2] Z. Liu, C. Chen, W. Li et al., "Understanding R1-Zero-Like
       Training: A Critical Perspective" (Dr. GRPO), arXiv:2503.20783,
       2025.
    .. [3] Q. Yu, Z. Zhang, R. Zhu et al., "DAPO: An Open-Source LLM
       Reinforcement Learning System at Scale", arXiv:2503.14476, 2025.
    .. [4] R. J. Williams, "Simple statistical gradient-following
       algorithms for connectionist reinforcement learning", Machine
       Learning 8, 1992.

    Examples
    --------
    Two sequences over a vocabulary of 2 with probabilities 0.8 and 0.2
    everywhere. The first has one prompt token (ignored) and one response
    token; the second has three response tokens. Their cross-entropies are
    :math:`-\log 0.8 = 0.223` (token 0) and :math:`-\log 0.2 = 1.609`
    (token 1):

    >>> import numpy as np
    >>> logits = np.log(np.full((2, 3, 2), [0.8, 0.2]))
    >>> targets = np.array([[-100, 1, -100], [0, 0, 1]])
    >>> advantages = np.array([1.0, -1.0])
    >>> float(sequence_policy_gradient_loss(logits, targets, advantages))
    -0.11157178
    >>> float(sequence_policy_gradient_loss(
    ...     logits, targets, advantages, normalization="sequence"))
    0.46209812

    "token": :math:`(1.609 - 0.223 - 0.223 - 1.609) / 4`; "sequence":
    :math:`(1.609 - (0.223 + 0.223 + 1.609) / 3) / 2`.
    """
    z = as_logits(logits)
    if z.ndim != 3:
        raise ValueError(
            f"logits: expected shape (B, T, V), got {z.shape} (one row of "
            "logits per sequence and position)"
        )
    ignore_index = check_ignore_index(ignore_index)
    t, valid = as_class_indices(targets, z.shape, ignore_index=ignore_index)
    a = as_float_array(advantages, "advantages")
    if a.shape != z.shape[:1]:
        raise ValueError(
            f"advantages: expected shape ({z.shape[0]},) (one per sequence "
            f"of logits), got {a.shape}"
        )
    normalization = check_choice(
        normalization, "normalization", NORMALIZATIONS
    )
    ce = softmax_cross_entropy(
        z.astype(np.float64, copy=False),
        t,
        ignore_index=ignore_index,
        reduction="none",
    )
    weighted = a.astype(np.float64)[:, None] * np.where(valid, ce, 0.0)
    counts = valid.sum(axis=1)
    has = counts > 0
    if not has.any():
        loss = np.nan  # a mean over no token, as F.cross_entropy's
    elif normalization == "token":
        loss = weighted.sum() / counts.sum()
    else:
        loss = np.mean(weighted.sum(axis=1)[has] / counts[has])
    with np.errstate(over="ignore"):
        return result_dtype(z, a).type(loss)

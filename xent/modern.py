"""Cross-entropy in modern models: language-model metrics, contrastive
learning, policy gradients.

Each function here is the cross-entropy of :func:`xent.softmax_cross_entropy`
seen from another angle: perplexity and bits per token are its exponential and
its base-2 form; next-token prediction is cross-entropy with the targets
shifted by one position; InfoNCE (CLIP) is cross-entropy whose classes are the
other examples of the batch; REINFORCE is cross-entropy weighted by an
advantage. NumPy only.

The losses of 2023-25 live in their own modules and are re-exported here:
:func:`z_loss` and :func:`softcap` (:mod:`xent.language`), :func:`dpo_loss`
(:mod:`xent.preference`), :func:`group_relative_advantages`,
:func:`leave_one_out_advantages` and :func:`sequence_policy_gradient_loss`
(:mod:`xent.reinforcement`), :func:`siglip_loss` (:mod:`xent.contrastive`).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from xent._validation import (
    as_class_indices,
    as_float_array,
    as_logits,
    check_ignore_index,
    check_reduction,
    reduce,
    result_dtype,
)
from xent.contrastive import siglip_loss
from xent.language import softcap, z_loss
from xent.losses import softmax_cross_entropy
from xent.preference import dpo_loss
from xent.reinforcement import (
    group_relative_advantages,
    leave_one_out_advantages,
    sequence_policy_gradient_loss,
)

# Part III's newer losses live in their own modules (language, preference,
# reinforcement, contrastive); xent.modern re-exports them, as the index of
# Part III.
__all__ = [
    "bits_per_token",
    "dpo_loss",
    "group_relative_advantages",
    "info_nce",
    "leave_one_out_advantages",
    "next_token_cross_entropy",
    "perplexity",
    "policy_gradient_loss",
    "sequence_policy_gradient_loss",
    "siglip_loss",
    "softcap",
    "z_loss",
]


def _mean_cross_entropy64(logits, targets, ignore_index):
    """Mean cross-entropy over non-ignored tokens, in float64, and the dtype to
    round the result to."""
    z = as_logits(logits)
    ignore_index = check_ignore_index(ignore_index)
    as_class_indices(
        targets, z.shape, ignore_index=ignore_index
    )  # class indices only: no soft targets
    ce = softmax_cross_entropy(
        z.astype(np.float64, copy=False), targets, ignore_index=ignore_index
    )
    return float(ce), result_dtype(z)


def _round(value: float, dtype):
    with np.errstate(over="ignore"):
        return np.dtype(dtype).type(value)


def perplexity(logits, targets, *, ignore_index=-100):
    r"""Perplexity: the exponential of the mean cross-entropy per token.

    .. math::

        \operatorname{PPL} = \exp\Bigl(\frac{1}{|\mathcal{T}|}
        \sum_{i \in \mathcal{T}} -\log \operatorname{softmax}(z_i)_{y_i}\Bigr),

    where :math:`\mathcal{T}` are the tokens whose target is not
    ``ignore_index``.

    Parameters
    ----------
    logits : array_like, shape (..., V)
        Logits, classes (the vocabulary) on the last axis.
    targets : array_like of int, shape (...)
        The token that actually came, in ``0..V-1``, or ``ignore_index``. (For
        a language model's raw outputs, where position ``t`` predicts token
        ``t+1``, shift first, or use ``exp(next_token_cross_entropy(...))``.)
    ignore_index : int, optional
        Targets to leave out (padding). Default ``-100``.

    Returns
    -------
    scalar
        A number of the logits' dtype (float64 for integer logits), at least 1;
        ``nan`` if every target is ignored, ``inf`` if the mean cross-entropy
        exceeds the dtype's range.

    Raises
    ------
    TypeError, ValueError
        As :func:`xent.softmax_cross_entropy` for bad logits or targets.

    Notes
    -----
    Perplexity is the effective number of equally likely choices the model
    hesitates between: a model that spreads its probability uniformly over
    ``V`` tokens has cross-entropy ``log V`` and perplexity exactly ``V``. It
    is the exponential of a *mean* of log-losses, i.e. the geometric mean of
    ``1 / p(y_i)``, not the mean of per-token perplexities. The mean
    cross-entropy is computed in float64 (see
    :func:`xent.softmax_cross_entropy` for its accuracy) and the exponential
    rounded once to the logits' dtype.

    References
    ----------
    .. [1] F. Jelinek, R. L. Mercer, L. R. Bahl, J. K. Baker, "Perplexity - a
       measure of the difficulty of speech recognition tasks", J. Acoust.
       Soc. Am. 62(S1), 1977.

    Examples
    --------
    >>> import numpy as np
    >>> # uniform over 50 tokens
    >>> float(perplexity(np.zeros((3, 50)), np.array([4, 8, 15])))
    50.0
    >>> logits = np.log([[0.5, 0.25, 0.25], [0.25, 0.5, 0.25]])
    >>> # exp(mean(-log .5, -log .25)) = sqrt(8)
    >>> float(perplexity(logits, np.array([0, 2])))
    2.82842712
    """
    ce, dtype = _mean_cross_entropy64(logits, targets, ignore_index)
    with np.errstate(over="ignore"):
        return _round(np.exp(ce), dtype)


def bits_per_token(logits, targets, *, ignore_index=-100):
    r"""The mean cross-entropy per token in bits: :math:`\mathrm{CE} / \ln 2`.

    .. math::

        \mathrm{bpt} = \frac{1}{|\mathcal{T}|}\sum_{i \in \mathcal{T}}
        -\log_2 \operatorname{softmax}(z_i)_{y_i} = \log_2 \operatorname{PPL}.

    Parameters
    ----------
    logits : array_like, shape (..., V)
        Logits, classes on the last axis.
    targets : array_like of int, shape (...)
        Class indices in ``0..V-1`` or ``ignore_index``.
    ignore_index : int, optional
        Targets to leave out. Default ``-100``.

    Returns
    -------
    scalar
        A number of the logits' dtype; ``nan`` if every target is ignored.

    Raises
    ------
    TypeError, ValueError
        As :func:`xent.softmax_cross_entropy` for bad logits or targets.

    Notes
    -----
    By Shannon's source-coding theorem, an arithmetic coder driven by the
    model's probabilities spends (up to a couple of bits per message) ``-log2
    p(y)`` bits on each token, so this is the compressed size of the text per
    token. Divide by the mean number of bytes (or characters) per token to get
    bits per byte (or per character), the unit that compares models with
    different tokenisers. Computed in float64 and rounded once.

    References
    ----------
    .. [1] C. E. Shannon, "A Mathematical Theory of Communication", Bell System
       Technical Journal 27, 1948.

    Examples
    --------
    >>> import numpy as np
    >>> # uniform over 2^8 symbols
    >>> float(bits_per_token(np.zeros((2, 256)), np.array([65, 66])))
    8.0
    >>> logits = np.log([[0.5, 0.25, 0.25], [0.25, 0.5, 0.25]])
    >>> float(bits_per_token(logits, np.array([0, 2])))   # mean(1 bit, 2 bits)
    1.5
    """
    ce, dtype = _mean_cross_entropy64(logits, targets, ignore_index)
    return _round(ce / math.log(2.0), dtype)


def next_token_cross_entropy(logits, tokens, *, ignore_index=-100):
    r"""The language-modelling loss: each position predicts the *next* token.

    .. math::

        L = \frac{1}{|\mathcal{T}|} \sum_{t=0}^{T-2}
        [x_{t+1} \ne \text{ignore}]\,
        \bigl(-\log \operatorname{softmax}(z_t)_{x_{t+1}}\bigr),

    i.e. ``softmax_cross_entropy(logits[..., :-1, :], tokens[..., 1:],
    ignore_index=...)``: the logits at position ``t`` are scored against the
    token at ``t + 1``; the last position's logits and the first token are not
    used as a prediction and a target.

    Parameters
    ----------
    logits : array_like, shape (..., T, V)
        The model's outputs for a sequence (or a batch of sequences) of ``T``
        tokens.
    tokens : array_like of int, shape (..., T)
        The sequence itself, the model's *input* (not shifted), each in
        ``0..V-1`` or ``ignore_index`` (padding).
    ignore_index : int, optional
        Tokens to leave out as targets. Default ``-100``.

    Returns
    -------
    scalar
        The mean over the ``(T - 1)`` predicted positions of every sequence
        whose target is not ignored, of the logits' dtype; ``nan`` if there are
        none (``T = 1`` or all ignored).

    Raises
    ------
    TypeError
        If ``logits`` are not real or ``tokens`` not integers.
    ValueError
        If ``logits`` have fewer than two axes, ``tokens`` is not of shape
        ``logits.shape[:-1]``, or a token is out of range.

    Notes
    -----
    A causal (decoder-only) model reads ``x_0 .. x_t`` and outputs at position
    ``t`` a distribution for ``x_{t+1}``. The shift is the usual source of
    off-by-one bugs: scoring ``logits`` against unshifted ``tokens`` rewards a
    model for copying its input. Hugging Face's causal-LM loss does the same
    shift (``logits[..., :-1, :]`` against ``labels[..., 1:]``) and also
    ignores ``-100``; a single mean is taken over all sequences' non-ignored
    targets, so long sequences weigh more than short ones. ``exp`` of this is
    the perplexity of the text.

    References
    ----------
    .. [1] Y. Bengio, R. Ducharme, P. Vincent, C. Jauvin, "A Neural
       Probabilistic Language Model", JMLR 3, 2003.
    .. [2] A. Radford, K. Narasimhan, T. Salimans, I. Sutskever, "Improving
       Language Understanding by Generative Pre-Training", OpenAI, 2018.

    Examples
    --------
    A vocabulary of 4 tokens and a sequence of 3, ``tokens = [2, 0, 3]``. The
    logits at position 0 are scored against token 0 (the second token), those
    at position 1 against token 3; the logits at position 2 would predict a
    fourth token that is not there:

    >>> import numpy as np
    >>> logits = np.log([[0.1, 0.1, 0.1, 0.7],  # position 0: x_1 = 0, p = 0.1
    ...                  [0.1, 0.1, 0.1, 0.7],  # position 1: x_2 = 3, p = 0.7
    ...                  [0.25, 0.25, 0.25, 0.25]])   # position 2: unused
    >>> tokens = np.array([2, 0, 3])
    >>> loss = next_token_cross_entropy(logits, tokens)
    >>> bool(np.isclose(loss, (-np.log(0.1) - np.log(0.7)) / 2))
    True
    >>> float(loss)
    1.32963002
    """
    z = as_logits(logits)
    if z.ndim < 2:
        raise ValueError(
            f"logits: expected shape (..., T, V) with a time axis, got "
            f"{z.shape}"
        )
    ignore_index = check_ignore_index(ignore_index)
    t, _ = as_class_indices(
        tokens, z.shape, name="tokens", ignore_index=ignore_index
    )
    ce = softmax_cross_entropy(
        z[..., :-1, :].astype(np.float64, copy=False),
        t[..., 1:],
        ignore_index=ignore_index,
    )
    return _round(float(ce), result_dtype(z))


def _check_bool(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {value!r}")
    return bool(value)


def _check_temperature(temperature) -> float:
    if isinstance(temperature, (bool, np.bool_)) or not isinstance(
        temperature, numbers.Real
    ):
        raise TypeError(
            f"temperature: expected a number > 0, got {temperature!r}"
        )
    temperature = float(temperature)
    if not (temperature > 0 and math.isfinite(temperature)):
        raise ValueError(
            f"temperature: expected a finite number > 0, got {temperature!r}"
        )
    return temperature


def info_nce(
    queries, keys, *, temperature=0.07, symmetric=False, normalize=True
):
    r"""InfoNCE: cross-entropy of picking each query's own key out of the batch
    (CLIP loss).

    With :math:`\hat q_i = q_i / \lVert q_i \rVert`,
    :math:`\hat k_j = k_j / \lVert k_j \rVert` and temperature :math:`\tau`,
    the similarities :math:`S_{ij} = \hat q_i \cdot \hat k_j / \tau` are the
    logits of an ``N``-way classification whose correct class for query ``i``
    is key ``i``:

    .. math::

        L_{q \to k} = -\frac{1}{N} \sum_{i=1}^{N}
        \log \frac{e^{S_{ii}}}{\sum_{j=1}^{N} e^{S_{ij}}},
        \qquad
        L = \tfrac{1}{2}\,(L_{q \to k} + L_{k \to q}) \text{ if symmetric,}

    where :math:`L_{k \to q}` is the same with :math:`S^\top` (each key picks
    its query).

    Parameters
    ----------
    queries : array_like, shape (N, D)
        One embedding per example (e.g. images).
    keys : array_like, shape (N, D)
        The matching embeddings, in the same order (e.g. their captions): row
        ``i`` of ``keys`` is the positive for row ``i`` of ``queries``, every
        other row a negative.
    temperature : float, optional
        :math:`\tau > 0`. Default ``0.07`` (CLIP's initial value, MoCo's
        choice).
    symmetric : bool, optional
        Average the query-to-key and key-to-query losses, as CLIP does. Default
        ``False``.
    normalize : bool, optional
        L2-normalise the rows first, so that similarities are cosines in ``[-1,
        1]``. Default ``True``. A zero row stays zero (its norm is floored at
        ``1e-12``, as in ``torch.nn.functional.normalize``).

    Returns
    -------
    scalar
        The loss, of the inputs' dtype (float64 for integers).

    Raises
    ------
    TypeError
        If the embeddings are not real numbers, ``temperature`` is not a
        number, or ``symmetric`` / ``normalize`` are not booleans.
    ValueError
        If the embeddings are not 2-d, differ in shape, or are empty; or
        ``temperature`` is not a finite number > 0.

    Notes
    -----
    *Why "NCE".* The loss is the cross-entropy of recognising the one positive
    pair among ``N`` candidates. Its minimum over all critics is reached by a
    critic proportional to the density ratio :math:`p(k \mid q) / p(k)`, which
    gives the bound :math:`I(Q; K) \ge \log N - L` (van den Oord et al.): a
    batch of ``N`` can certify at most :math:`\log N` nats of mutual
    information. Unrelated embeddings give about :math:`\log N`; indeed
    :math:`|L - \log N| \le 2 / \tau` for any normalised embeddings, since all
    logits then lie in :math:`[-1/\tau, 1/\tau]`.

    *Temperature.* With cosines in ``[-1, 1]`` the logits span only ``2 / τ``;
    a small ``τ`` (0.07: a span of about 29) lets the softmax become confident,
    and makes the loss concentrate on the hardest negatives. Large logits are
    harmless: the cross-entropy is computed from log-sum-exp with the maximum
    factored out (:func:`xent.softmax_cross_entropy`).

    The similarities and the loss are computed in float64 and the result
    rounded once.

    References
    ----------
    .. [1] A. van den Oord, Y. Li, O. Vinyals, "Representation Learning with
       Contrastive Predictive Coding", arXiv:1807.03748, 2018.
    .. [2] A. Radford, J. W. Kim, C. Hallacy et al., "Learning Transferable
       Visual Models From Natural Language Supervision" (CLIP), ICML 2021.
    .. [3] M. Gutmann, A. Hyvärinen, "Noise-contrastive estimation: A new
       estimation principle for unnormalized statistical models", AISTATS
       2010.

    Examples
    --------
    Orthogonal, perfectly matched embeddings: the diagonal logits are ``1/τ``
    and the others 0, so the loss is ``log(1 + (N - 1) e^{-1/τ})``:

    >>> import numpy as np
    >>> q = np.eye(3)
    >>> float(info_nce(q, q, temperature=0.5))
    0.23954477
    >>> float(np.log1p(2 * np.exp(-2.0)))
    0.23954477

    Keys in the wrong order: every query's positive is less similar than a
    negative.

    >>> float(info_nce(q, q[[1, 2, 0]], temperature=0.5))
    2.23954477
    >>> float(info_nce(q, q[[1, 2, 0]], temperature=0.5, symmetric=True))
    2.23954477
    """
    q = as_float_array(queries, "queries")
    k = as_float_array(keys, "keys")
    if q.ndim != 2 or q.shape[0] == 0 or q.shape[1] == 0:
        raise ValueError(
            f"queries: expected a non-empty array of shape (N, D), got shape "
            f"{q.shape}"
        )
    if k.shape != q.shape:
        raise ValueError(
            f"keys: expected shape {q.shape} (the shape of queries), got "
            f"{k.shape}"
        )
    temperature = _check_temperature(temperature)
    symmetric = _check_bool(symmetric, "symmetric")
    normalize = _check_bool(normalize, "normalize")
    dtype = result_dtype(q, k)
    q64, k64 = q.astype(np.float64), k.astype(np.float64)
    if normalize:
        q64 = q64 / np.maximum(
            np.linalg.norm(q64, axis=1, keepdims=True), 1e-12
        )
        k64 = k64 / np.maximum(
            np.linalg.norm(k64, axis=1, keepdims=True), 1e-12
        )
    similarities = (q64 @ k64.T) / temperature
    labels = np.arange(q.shape[0])
    loss = float(softmax_cross_entropy(similarities, labels))
    if symmetric:
        loss = 0.5 * (
            loss + float(softmax_cross_entropy(similarities.T, labels))
        )
    return _round(loss, dtype)


def policy_gradient_loss(logits, actions, advantages, *, reduction="mean"):
    r"""REINFORCE surrogate loss: the cross-entropy of the actions taken,
    weighted by their advantage.

    .. math::

        \ell_i = A_i \cdot \bigl(-\log \pi(a_i \mid s_i)\bigr)
               = A_i \cdot \mathrm{CE}(z_i, a_i), \qquad
        \frac{\partial \ell_i}{\partial z_i}
        = A_i\,(\operatorname{softmax}(z_i) - e_{a_i}),

    with :math:`\pi(\cdot \mid s_i) = \operatorname{softmax}(z_i)`, then
    reduced (mean over samples by default). The advantages are constants: no
    gradient flows through them.

    Parameters
    ----------
    logits : array_like, shape (..., K)
        The policy's logits over ``K`` actions, one row per sampled step.
    actions : array_like of int, shape (...)
        The actions taken, in ``0..K-1``.
    advantages : array_like, shape (...)
        :math:`A_i`, e.g. the return minus a baseline; the shape of
        ``actions``.
    reduction : {"mean", "sum", "none"}, optional
        ``"mean"`` (default) divides the sum by the number of samples.

    Returns
    -------
    ndarray or scalar
        The reduced loss, or for ``"none"`` one value per sample; of the common
        floating dtype of ``logits`` and ``advantages``.

    Raises
    ------
    TypeError
        If ``logits`` or ``advantages`` are not real numbers or ``actions`` are
        not integers.
    ValueError
        If ``logits`` have no class axis, the shapes disagree, an action is out
        of range, or the reduction is unknown.

    Notes
    -----
    The policy-gradient theorem gives :math:`\nabla_\theta J =
    \mathbb{E}[A \nabla_\theta \log \pi_\theta(a \mid s)]`. Minimising this
    loss with gradient descent therefore *ascends* the expected return: it is
    supervised cross-entropy on the agent's own actions,
    pushed up where :math:`A > 0` and down where :math:`A < 0`. Its value is
    not an objective to monitor (it can be negative and its scale follows the
    advantages); only its gradient matters. Subtracting a baseline from the
    returns leaves the expected gradient unchanged and lowers its variance.

    Each cross-entropy is computed in float64 by
    :func:`xent.softmax_cross_entropy`, multiplied and summed in float64, and
    rounded once.

    References
    ----------
    .. [1] R. J. Williams, "Simple statistical gradient-following algorithms
       for connectionist reinforcement learning", Machine Learning 8, 1992.
    .. [2] R. S. Sutton, D. McAllester, S. Singh, Y. Mansour, "Policy Gradient
       Methods for Reinforcement Learning with Function Approximation",
       NeurIPS 1999.

    Examples
    --------
    Two actions with probabilities 0.8 and 0.2; the first step took action 0
    (advantage +1), the second took action 1 (advantage -0.5):

    >>> import numpy as np
    >>> logits = np.log([[0.8, 0.2], [0.8, 0.2]])
    >>> actions, advantages = np.array([0, 1]), np.array([1.0, -0.5])
    >>> policy_gradient_loss(logits, actions, advantages, reduction="none")
    array([ 0.22314355, -0.80471896])
    >>> float(policy_gradient_loss(logits, actions, advantages))
    -0.29078770

    The gradient with respect to the logits is ``A * (softmax - onehot)`` (here
    divided by the 2 samples of the mean): the first row pushes action 0 up,
    the second pushes action 1 down.
    """
    z = as_logits(logits)
    reduction = check_reduction(reduction)
    t, _ = as_class_indices(actions, z.shape, name="actions")
    a = as_float_array(advantages, "advantages")
    if a.shape != t.shape:
        raise ValueError(
            f"advantages: expected shape {t.shape} (the shape of actions), "
            f"got {a.shape}"
        )
    dtype = result_dtype(z, a)
    ce = softmax_cross_entropy(
        z.astype(np.float64, copy=False), t, reduction="none"
    )
    loss = a.astype(np.float64) * ce
    return reduce(loss, reduction, dtype)

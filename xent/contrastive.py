r"""Contrastive learning with a sigmoid: the SigLIP loss.

InfoNCE (:func:`xent.info_nce`, CLIP) is an ``N``-way cross-entropy per
row of the similarity matrix. SigLIP replaces it by ``N^2`` independent
binary cross-entropies, one per pair: "do these two belong together?".
NumPy only.
"""

from __future__ import annotations

import numpy as np

from xent._options import check_bool, check_positive, check_real
from xent._validation import as_float_array, result_dtype
from xent.numerics import softplus

__all__ = ["siglip_loss"]


def siglip_loss(queries, keys, *, scale=10.0, bias=-10.0, normalize=True):
    r"""The SigLIP loss: a binary cross-entropy for every pair of the batch.

    With :math:`\hat q_i, \hat k_j` the (L2-normalised) embeddings, the
    logit of pair :math:`(i, j)` is :math:`s_{ij} = t\, \hat q_i \cdot \hat
    k_j + b`, its label :math:`\ell_{ij} = +1` if :math:`i = j` (a matching
    pair) and :math:`-1` otherwise, and

    .. math::

        L = -\frac{1}{N} \sum_{i=1}^{N} \sum_{j=1}^{N}
        \log \sigma(\ell_{ij}\, s_{ij})
          = \frac{1}{N} \sum_{i,j} \log\bigl(1 + e^{-\ell_{ij} s_{ij}}\bigr).

    Parameters
    ----------
    queries : array_like, shape (N, D)
        One embedding per example (e.g. images).
    keys : array_like, shape (N, D)
        The matching embeddings in the same order (e.g. their captions):
        row ``i`` is the positive of query ``i``, the other rows are
        negatives.
    scale : float, optional
        :math:`t > 0`, the temperature as a multiplier (SigLIP learns
        :math:`t = e^{t'}`; pass :math:`e^{t'}`). Default ``10.0``, the
        paper's initial value.
    bias : float, optional
        :math:`b`, a finite number. Default ``-10.0``, the paper's initial
        value.
    normalize : bool, optional
        L2-normalise the rows first (default ``True``), so that
        :math:`\hat q_i \cdot \hat k_j` is a cosine. A zero row stays zero
        (its norm is floored at ``1e-12``, as in
        ``torch.nn.functional.normalize``).

    Returns
    -------
    scalar
        Of the inputs' floating dtype (float64 for integers).

    Raises
    ------
    TypeError
        If the embeddings are not real numbers, ``scale`` or ``bias`` are
        not numbers, or ``normalize`` is not a bool.
    ValueError
        If the embeddings are not 2-d and non-empty or differ in shape, or
        ``scale`` / ``bias`` are not finite (``scale`` > 0).

    Notes
    -----
    *Why a sigmoid.* The softmax of InfoNCE normalises each row over the
    whole batch, which needs every similarity of the row (an all-gather of
    all embeddings across devices, twice for the symmetric loss). Each
    term here depends on one pair only, so the loss can be computed in
    blocks of pairs, and it stays meaningful at any batch size. The sum is
    divided by ``N``, not ``N^2``, as in the paper: it is a sum over each
    query's ``N`` pairs, averaged over queries.

    *Why the bias.* Of the ``N^2`` pairs only ``N`` are positive, so at
    the start the loss is dominated by the ``N^2 - N`` negatives. With
    :math:`b = -10` every pair starts predicted negative (probability
    :math:`\sigma(-10) \approx 4.5 \cdot 10^{-5}` of a match), close to
    the prior, and the first steps do not have to correct a large
    imbalance.

    Each term :math:`-\log \sigma(x)` is computed as
    :func:`xent.softplus` of :math:`-x`, exact for any logit; the sum is
    taken in float64 and rounded once.

    References
    ----------
    .. [1] X. Zhai, B. Mustafa, A. Kolesnikov, L. Beyer, "Sigmoid Loss for
       Language Image Pre-Training" (SigLIP), ICCV 2023.
    .. [2] M. Tschannen, A. Gritsenko, X. Wang et al., "SigLIP 2:
       Multilingual Vision-Language Encoders with Improved Semantic
       Understanding, Localization, and Dense Features",
       arXiv:2502.14786, 2025.

    Examples
    --------
    Orthogonal, perfectly matched embeddings: the diagonal logits are
    :math:`t + b` and the others :math:`b`, so the loss is
    :math:`\log(1 + e^{-(t + b)}) + (N - 1) \log(1 + e^{b})`:

    >>> import numpy as np
    >>> q = np.eye(3)
    >>> float(siglip_loss(q, q, scale=10.0, bias=-5.0))
    0.02014605
    >>> float(np.log1p(np.exp(-5.0)) + 2 * np.log1p(np.exp(-5.0)))
    0.02014605

    Keys in the wrong order: each query now has two misclassified pairs
    (its own key, a cosine of 0, and the mismatched one, a cosine of 1),
    each costing about 5.

    >>> float(siglip_loss(q, q[[1, 2, 0]], scale=10.0, bias=-5.0))
    10.02014605
    """
    q = as_float_array(queries, "queries")
    k = as_float_array(keys, "keys")
    if q.ndim != 2 or q.shape[0] == 0 or q.shape[1] == 0:
        raise ValueError(
            "queries: expected a non-empty array of shape (N, D), got "
            f"shape {q.shape}"
        )
    if k.shape != q.shape:
        raise ValueError(
            f"keys: expected shape {q.shape} (the shape of queries), got "
            f"{k.shape}"
        )
    scale = check_positive(scale, "scale")
    bias = check_real(bias, "bias", what="a finite number")
    normalize = check_bool(normalize, "normalize")
    q64, k64 = q.astype(np.float64), k.astype(np.float64)
    if normalize:
        q64 /= np.maximum(np.linalg.norm(q64, axis=1, keepdims=True), 1e-12)
        k64 /= np.maximum(np.linalg.norm(k64, axis=1, keepdims=True), 1e-12)
    logits = scale * (q64 @ k64.T) + bias
    signs = 2.0 * np.eye(q.shape[0]) - 1.0
    total = float(np.sum(softplus(-signs * logits)))
    with np.errstate(over="ignore"):
        return result_dtype(q, k).type(total / q.shape[0])

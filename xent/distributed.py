"""Vocabulary-parallel cross-entropy (PyTorch, ``torch.distributed``).

In tensor-parallel training (Megatron-LM) the output layer is split by rows:
rank ``r`` holds the rows ``vocab_start .. vocab_start + V_r - 1`` of the ``(V,
H)`` weight and so computes only those columns of the logits. The cross-entropy
needs all ``V`` logits of a token, but not all at one place: a maximum, a sum
of exponentials and the target's logit are enough, and each is a reduction that
can be done piece by piece. :func:`vocab_parallel_cross_entropy` computes the
exact loss with three all-reduces of ``N`` numbers each, instead of gathering
``N x V`` logits.

This module needs PyTorch and is not imported by ``import xent``::

    from xent.distributed import vocab_parallel_cross_entropy
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch.autograd.function import once_differentiable

from xent._validation import (
    check_class_targets_tensor,
    check_ignore_index,
    check_reduction,
)

__all__ = [
    "vocab_parallel_cross_entropy",
    "vocab_parallel_linear_cross_entropy",
]

_HALF_TYPES = (torch.float16, torch.bfloat16)


def vocab_parallel_cross_entropy(
    logits_shard,
    targets,
    *,
    vocab_start,
    group=None,
    ignore_index=-100,
    reduction="mean",
):
    """Cross-entropy of logits whose class axis is split across the ranks of a
    process group.

    Rank ``r`` holds the logits of classes ``[a_r, a_r + V_r)`` (``a_r =
    vocab_start``); together the slices cover ``0 .. V-1`` once. With three
    all-reduces over the ranks,

    .. math::

        m_i = \\max_r \\max_{j \\in \\text{slice}_r} z_{ij}, \\qquad
        s_i = \\sum_r \\sum_{j \\in \\text{slice}_r} e^{z_{ij} - m_i}, \\qquad
        t_i = \\sum_r [y_i \\in \\text{slice}_r]\\, z_{i y_i},

    every rank gets the exact loss :math:`\\ell_i = \\log s_i + m_i - t_i`,
    and the backward pass gives rank ``r`` the gradient of its own slice,
    :math:`c_i(\\operatorname{softmax}(z_i) - e_{y_i})` restricted to that
    slice, with no communication.

    Parameters
    ----------
    logits_shard : torch.Tensor, shape (N, V_r) or (..., V_r)
        This rank's slice of the logits, floating point, ``V_r >= 1`` (slices
        may differ in width).
    targets : torch.Tensor of integers, shape (N,) or (...)
        Global class indices in ``0..V-1`` or ``ignore_index``, *the same on
        every rank*.
    vocab_start : int
        The global index of this rank's first class.
    group : torch.distributed.ProcessGroup, optional
        The ranks that share the vocabulary. Default ``None``: the default
        group, or, when ``torch.distributed`` is not initialised, this process
        alone (then the slice must be the whole vocabulary and ``vocab_start``
        0).
    ignore_index : int, optional
        Targets equal to this contribute neither loss nor gradient. Default
        ``-100``.
    reduction : {"mean", "sum", "none"}, optional
        As in ``F.cross_entropy``: mean over non-ignored tokens (``nan`` if
        there are none), sum, or one loss per token (0 where ignored) in the
        shape of ``targets``. Default ``"mean"``.

    Returns
    -------
    torch.Tensor
        The loss, identical on every rank, in the dtype of ``logits_shard``.

    Raises
    ------
    TypeError
        If ``logits_shard`` or ``targets`` is not a tensor of the right kind,
        or ``vocab_start`` / ``ignore_index`` is not an integer.
    ValueError
        If the shapes disagree, ``vocab_start < 0``, the reduction is unknown,
        or a non-ignored target lies in no rank's slice (out of range, or the
        slices leave a gap) or in more than one (the slices overlap). This
        check uses the third all-reduce, so every rank raises together.

    Notes
    -----
    *Why three all-reduces suffice.* ``log Σ_j exp z_j`` is computed as ``m +
    log Σ_j exp(z_j - m)`` with ``m`` the largest logit, which keeps every
    exponential in ``(0, 1]``. The largest logit is the largest of the ranks'
    local maxima (all-reduce with ``MAX``); each rank then sums the
    exponentials of its own slice shifted by that common ``m``, and the sums
    add up (``SUM``). The target's logit lives on exactly one rank; the others
    contribute 0 (``SUM``). Each all-reduce moves ``N`` numbers (the third
    ``2N``: it also counts, per token, how many ranks hold the target, which
    detects out-of-range targets and badly laid-out slices at no extra
    latency). The second and third could be fused into one all-reduce of ``3N``
    numbers; they are kept apart here to mirror the formula.

    *Backward.* When a gradient will be needed, the forward pass turns this
    rank's ``softmax`` slice, ``exp(z - m) / s``, into the slice's gradient in
    place: minus the one-hot slice (non-zero only on the rank that holds the
    target), times ``1 / (number of non-ignored tokens)`` or 1. The backward
    pass multiplies it by the incoming gradient (a scalar, or one number per
    token for ``"none"``); no communication is needed. The memory kept is one
    ``(N, V_r)`` tensor, the size of the shard itself. If the logits came from
    a replicated input (``hidden @ W_r.T``), the input's gradient must be
    summed over the ranks; :func:`vocab_parallel_linear_cross_entropy` does
    that.

    float16 and bfloat16 logits are reduced in float32. The targets must be
    identical on all ranks; the hit count catches most, but not all,
    violations.

    References
    ----------
    .. [1] M. Shoeybi, M. Patwary, R. Puri, P. LeGresley, J. Casper, B.
       Catanzaro, "Megatron-LM: Training Multi-Billion Parameter Language
       Models Using Model Parallelism", arXiv:1909.08053, 2019 (section 3,
       the parallel output embedding and cross-entropy).

    Examples
    --------
    Without ``torch.distributed`` initialised the process is a group of one,
    and the function is plain cross-entropy:

    >>> import torch
    >>> import torch.nn.functional as F
    >>> logits = torch.tensor([[2.0, 1.0, 0.1], [0.5, 2.5, -1.0]],
    ...                       dtype=torch.float64)
    >>> targets = torch.tensor([0, 2])
    >>> loss = vocab_parallel_cross_entropy(logits, targets, vocab_start=0)
    >>> reference = F.cross_entropy(logits, targets)
    >>> round(loss.item(), 6), round(reference.item(), 6)
    (2.035104, 2.035104)

    With two ranks, rank 0 would pass ``logits[:, :2]`` with ``vocab_start=0``
    and rank 1 ``logits[:, 2:]`` with ``vocab_start=2``, and both would get the
    same loss (see ``tests/test_distributed.py``, which runs this with two
    processes).
    """
    x, t = _check_inputs(logits_shard, targets, vocab_start, ignore_index)
    reduction = check_reduction(reduction)
    lead_shape = t.shape
    need_grad = torch.is_grad_enabled() and x.requires_grad
    loss = _VocabParallelCrossEntropy.apply(
        x.reshape(-1, x.shape[-1]),
        t.reshape(-1).long(),
        vocab_start,
        group,
        ignore_index,
        reduction,
        need_grad,
    )
    return loss.reshape(lead_shape) if reduction == "none" else loss


def vocab_parallel_linear_cross_entropy(
    hidden,
    weight_shard,
    targets,
    *,
    vocab_start,
    bias_shard=None,
    group=None,
    ignore_index=-100,
    reduction="mean",
):
    """Cross-entropy of a linear output layer whose weight rows are split
    across ranks.

    .. math::

        z^{(r)} = h W_r^\\top + b_r, \\qquad
        \\ell = \\texttt{vocab\\_parallel\\_cross\\_entropy}(z^{(r)}, y)

    where rank ``r`` holds rows ``[a_r, a_r + V_r)`` of the full ``(V, H)``
    weight (and bias) and every rank holds the same ``hidden``.

    Parameters
    ----------
    hidden : torch.Tensor, shape (N, H) or (..., H)
        Hidden states, the same on every rank.
    weight_shard : torch.Tensor, shape (V_r, H)
        This rank's rows of the output weight.
    targets : torch.Tensor of integers
        Global class indices, shape of ``hidden`` without its last axis, the
        same on every rank.
    vocab_start : int
        The global index of this rank's first row.
    bias_shard : torch.Tensor, shape (V_r,), optional
        This rank's entries of the bias. Default ``None``.
    group, ignore_index, reduction
        As in :func:`vocab_parallel_cross_entropy`.

    Returns
    -------
    torch.Tensor
        The loss, identical on every rank.

    Notes
    -----
    The gradients of ``weight_shard`` and ``bias_shard`` are local (this rank's
    rows of the full gradient). The gradient of ``hidden`` is a sum over all
    ``V`` classes, so each rank holds only a part; ``hidden`` passes through an
    identity whose backward all-reduces (``SUM``) its gradient, as
    Megatron-LM's ``copy_to_tensor_model_parallel_region`` does, and every rank
    ends with the full gradient of ``hidden``. Shape and dtype checks are those
    of ``torch.matmul`` and of :func:`vocab_parallel_cross_entropy`.

    References
    ----------
    .. [1] M. Shoeybi et al., "Megatron-LM: Training Multi-Billion Parameter
       Language Models Using Model Parallelism", arXiv:1909.08053, 2019.

    Examples
    --------
    >>> import torch
    >>> import torch.nn.functional as F
    >>> g = torch.Generator().manual_seed(0)
    >>> hidden = torch.randn(4, 3, dtype=torch.float64, generator=g)
    >>> weight = torch.randn(5, 3, dtype=torch.float64, generator=g)
    >>> targets = torch.tensor([4, 0, 2, 2])
    >>> loss = vocab_parallel_linear_cross_entropy(
    ...     hidden, weight, targets, vocab_start=0)
    >>> reference = F.cross_entropy(hidden @ weight.T, targets)
    >>> torch.allclose(loss, reference, rtol=1e-15, atol=0)
    True
    """
    if not isinstance(hidden, torch.Tensor):
        raise TypeError(
            f"hidden: expected a torch.Tensor, got {type(hidden).__name__}"
        )
    if not isinstance(weight_shard, torch.Tensor):
        raise TypeError(
            f"weight_shard: expected a torch.Tensor, got "
            f"{type(weight_shard).__name__}"
        )
    if weight_shard.ndim != 2 or weight_shard.shape[1] != hidden.shape[-1]:
        raise ValueError(
            f"weight_shard: expected shape (V_r, {hidden.shape[-1]}) (H = "
            f"hidden.shape[-1]), "
            f"got {tuple(weight_shard.shape)}"
        )
    replicated = _CopyToVocabParallel.apply(hidden, group)
    logits = torch.nn.functional.linear(replicated, weight_shard, bias_shard)
    return vocab_parallel_cross_entropy(
        logits,
        targets,
        vocab_start=vocab_start,
        group=group,
        ignore_index=ignore_index,
        reduction=reduction,
    )


# -----------------------------------------------------------------------------


def _check_inputs(logits_shard, targets, vocab_start, ignore_index):
    if not isinstance(logits_shard, torch.Tensor):
        raise TypeError(
            f"logits_shard: expected a torch.Tensor, got "
            f"{type(logits_shard).__name__}"
        )
    if not isinstance(targets, torch.Tensor):
        raise TypeError(
            f"targets: expected a torch.Tensor, got {type(targets).__name__}"
        )
    if not logits_shard.is_floating_point():
        raise TypeError(
            f"logits_shard: expected a floating-point tensor, got dtype "
            f"{logits_shard.dtype}"
        )
    if logits_shard.ndim == 0 or logits_shard.shape[-1] == 0:
        raise ValueError(
            f"logits_shard: expected shape (N, V_r) or (..., V_r) with V_r "
            f">= 1, got {tuple(logits_shard.shape)}"
        )
    check_class_targets_tensor(
        targets, logits_shard.shape[:-1], "logits_shard without the class axis"
    )
    if targets.device != logits_shard.device:
        raise ValueError(
            f"targets: expected device {logits_shard.device} (the device of "
            f"logits_shard), got {targets.device}"
        )
    if isinstance(vocab_start, bool) or not isinstance(vocab_start, int):
        raise TypeError(
            f"vocab_start: expected a non-negative integer, got "
            f"{vocab_start!r}"
        )
    if vocab_start < 0:
        raise ValueError(
            f"vocab_start: expected a non-negative integer, got {vocab_start}"
        )
    check_ignore_index(ignore_index)
    return logits_shard, targets


def _all_reduce(tensor, op, group):
    """In-place all-reduce; a no-op for a process alone (``torch.distributed``
    not initialised)."""
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(tensor, op=op, group=group)
    elif group is not None:
        raise ValueError(
            "group: a process group was given but torch.distributed is not "
            "initialised"
        )
    return tensor


def _reduce_op(name):
    return getattr(dist.ReduceOp, name) if dist.is_available() else None


class _VocabParallelCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx,
        logits,
        targets,
        vocab_start,
        group,
        ignore_index,
        reduction,
        need_grad,
    ):
        dtype = logits.dtype
        cdtype = torch.float32 if dtype in _HALF_TYPES else dtype
        z = logits.to(cdtype)
        width = z.shape[1]
        valid = targets != ignore_index
        local = targets - vocab_start
        here = valid & (local >= 0) & (local < width)
        local = torch.where(here, local, torch.zeros_like(local))

        # 1. the largest logit of each token, over all ranks
        m = _all_reduce(z.amax(dim=1), _reduce_op("MAX"), group)
        # 2. the sum of exponentials, shifted by that common maximum
        e = (z - m[:, None]).exp_()
        s = _all_reduce(e.sum(dim=1), _reduce_op("SUM"), group)
        # 3. the target's logit (from the one rank that holds it), and how many
        # ranks hold it
        target_logit = torch.where(
            here, z.gather(1, local[:, None]).squeeze(1), z.new_zeros(())
        )
        stats = _all_reduce(
            torch.stack([target_logit, here.to(cdtype)]),
            _reduce_op("SUM"),
            group,
        )
        target_logit, hits = stats[0], stats[1]
        _check_hits(targets, valid, hits, ignore_index)

        losses = torch.where(
            valid, (m - target_logit) + s.log(), z.new_zeros(())
        )
        n_valid = valid.sum()
        if reduction == "none":
            loss = losses
        elif reduction == "sum":
            loss = losses.sum()
        else:
            loss = losses.sum() / n_valid.to(
                cdtype
            )  # 0 / 0 = nan when all are ignored, like PyTorch

        ctx.reduction, ctx.dtype = reduction, dtype
        if not need_grad:
            return loss.to(dtype)
        # softmax - onehot on this slice, times 1/n_valid (mean) or 1; ignored
        # rows zeroed
        grad = e.div_(s[:, None])
        grad.scatter_add_(1, local[:, None], -here.to(cdtype)[:, None])
        row_scale = valid.to(cdtype)
        if reduction == "mean":
            row_scale = row_scale / n_valid.clamp(min=1).to(cdtype)
        grad.mul_(row_scale[:, None])
        ctx.save_for_backward(grad)
        return loss.to(dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        (grad,) = ctx.saved_tensors
        scale = grad_output.to(grad.dtype)
        grad = grad * (scale[:, None] if ctx.reduction == "none" else scale)
        return grad.to(ctx.dtype), None, None, None, None, None, None


def _check_hits(targets, valid, hits, ignore_index):
    bad = valid & (hits != 1)
    if bool(bad.any()):
        i = int(bad.nonzero()[0, 0])
        value, count = int(targets[i]), int(hits[i])
        if count == 0:
            raise ValueError(
                f"targets: class index {value} lies in no rank's slice of "
                f"the vocabulary (out of range, "
                f"or the slices given by vocab_start leave a gap; expected a "
                f"class index or "
                f"ignore_index={ignore_index})"
            )
        raise ValueError(
            f"vocab_start: class {value} lies in the slices of {count} ranks "
            f"(the slices overlap)"
        )


class _CopyToVocabParallel(torch.autograd.Function):
    """Identity forward; all-reduce (SUM) of the gradient backward."""

    @staticmethod
    def forward(ctx, x, group):
        ctx.group = group
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return _all_reduce(
            grad.clone(memory_format=torch.contiguous_format),
            _reduce_op("SUM"),
            ctx.group,
        ), None

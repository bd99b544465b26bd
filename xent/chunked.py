"""Cross-entropy of a linear output layer, computed chunk by chunk (PyTorch).

A language model's last layer turns ``N`` hidden states of width ``H`` into ``N`` rows of ``V``
logits, and ``V`` is large (32 000 to 256 000). Written naively, ``F.cross_entropy(hidden @ W.T,
targets)`` materialises the ``(N, V)`` logits, then their log-softmax, then their gradient: at 16 384
tokens and a 128 256-word vocabulary each of those is 8 GiB in float32, far more than the model's own
weights. :func:`chunked_linear_cross_entropy` gives the same loss and the same gradients while holding
the logits of only a few rows at a time.

This module needs PyTorch and is not imported by ``import xent``::

    from xent.chunked import chunked_linear_cross_entropy
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from xent._validation import check_class_targets_tensor, check_ignore_index, check_reduction

__all__ = ["chunked_linear_cross_entropy", "default_chunk_size"]

# How many bytes one chunk's logits may take. On a CPU, 24 MiB (192 rows of a 32 000-word vocabulary
# in float32) matched the naive computation's speed with two threads in benchmarks/llm_loss.py, at
# under 100 MB of extra memory in all. Smaller chunks lose with several threads, since each of a
# chunk's dozen parallel operations waits for the slowest thread (128 rows: 10-15% slower than
# naive with two threads, though 15% faster with one; 64 rows: up to twice as slow on a busy
# machine). On a GPU each chunk re-reads the whole weight matrix, so a chunk must hold a few
# hundred rows for the matrix products to stay compute-bound: 256 MiB (about 512 rows of a
# 128 256-word vocabulary), close to Liger-Kernel's rule of thumb of chunks about the size of the
# hidden states. (Not measured here: no GPU.)
_CHUNK_BYTES = {"cpu": 24 * 2**20, "cuda": 256 * 2**20}
_HALF_TYPES = (torch.float16, torch.bfloat16)


def default_chunk_size(num_tokens: int, vocab_size: int, dtype=torch.float32, device="cpu") -> int:
    """The number of tokens per chunk that :func:`chunked_linear_cross_entropy` uses by default.

    .. math::

        C = \\min\\left(N, \\max\\left(1, \\left\\lfloor \\frac{B}{V \\cdot s} \\right\\rfloor\\right)\\right)

    where ``B`` is a byte budget for one chunk's logits (24 MiB on a CPU, 256 MiB on a GPU) and ``s``
    the size of one logit in the compute dtype (float32 for float16 and bfloat16 inputs).

    Parameters
    ----------
    num_tokens : int
        ``N``, the number of rows of hidden states.
    vocab_size : int
        ``V``, the number of classes.
    dtype : torch.dtype, optional
        The dtype of the hidden states. Default ``torch.float32``.
    device : str or torch.device, optional
        Where the computation runs. Default ``"cpu"``.

    Returns
    -------
    int
        The chunk size, between 1 and ``max(N, 1)``.

    Notes
    -----
    The budget trades memory against speed. A chunk of ``C`` rows costs three matrix products,
    ``6 C H V`` floating-point operations, and streams the ``(V, H)`` weight and its gradient
    through memory (about ``20 H V`` bytes in float32): some ``C / 3`` operations per byte. A CPU
    core is compute-bound above a few per byte, so about a hundred rows suffice there (the rest of
    the budget pays for the fixed cost of each chunk's dozen parallel operations); a GPU needs
    hundreds of rows. Chunks above 8 rows are rounded down to a multiple of 8, which suits vectorised matrix
    kernels.

    Examples
    --------
    >>> import torch
    >>> default_chunk_size(4096, 32000)
    192
    >>> default_chunk_size(16384, 128256, torch.bfloat16, "cuda")
    520
    >>> default_chunk_size(10, 32000)
    10
    """
    itemsize = 4 if dtype in _HALF_TYPES else torch.empty((), dtype=dtype).element_size()
    kind = torch.device(device).type
    budget = _CHUNK_BYTES["cpu"] if kind == "cpu" else _CHUNK_BYTES["cuda"]
    rows = max(1, budget // (max(vocab_size, 1) * itemsize))
    if rows > 8:
        rows -= rows % 8
    return int(min(max(num_tokens, 1), rows))


def chunked_linear_cross_entropy(
    hidden, weight, targets, *, bias=None, chunk_size=None, ignore_index=-100, reduction="mean"
):
    """Cross-entropy of ``hidden @ weight.T + bias`` without materialising the logits.

    .. math::

        z_i = W h_i + b, \\qquad
        \\ell_i = \\log \\sum_{j=1}^{V} e^{z_{ij}} - z_{i y_i},

    the same numbers as ``F.cross_entropy(hidden @ weight.T + bias, targets, ...)``, and, through
    autograd, the same gradients

    .. math::

        \\frac{\\partial L}{\\partial z_i} = c_i\\,(\\operatorname{softmax}(z_i) - e_{y_i}), \\quad
        \\frac{\\partial L}{\\partial h_i} = W^\\top \\frac{\\partial L}{\\partial z_i}, \\quad
        \\frac{\\partial L}{\\partial W} = \\sum_i \\frac{\\partial L}{\\partial z_i} h_i^\\top, \\quad
        \\frac{\\partial L}{\\partial b} = \\sum_i \\frac{\\partial L}{\\partial z_i},

    where ``c_i`` is ``1 / (number of non-ignored tokens)`` for ``reduction="mean"``, 1 for
    ``"sum"`` and the incoming gradient of ``ℓ_i`` for ``"none"`` (0 for ignored tokens).

    Parameters
    ----------
    hidden : torch.Tensor, shape (N, H) or (..., H)
        Hidden states, floating point (float16, bfloat16, float32 or float64).
    weight : torch.Tensor, shape (V, H)
        The output layer's weight (``nn.Linear(H, V).weight``), same dtype and device as ``hidden``.
    targets : torch.Tensor of integers, shape (N,) or (...)
        Class indices in ``0..V-1``, or ``ignore_index``; the shape of ``hidden`` without its last
        axis.
    bias : torch.Tensor, shape (V,), optional
        The output layer's bias. Default ``None`` (no bias).
    chunk_size : int, optional
        Tokens per chunk. Default ``None``: :func:`default_chunk_size`, about 24 MiB of logits per
        chunk on a CPU and 256 MiB on a GPU. Any positive value gives the same result up to rounding.
    ignore_index : int, optional
        Targets equal to this contribute neither loss nor gradient. Default ``-100``.
    reduction : {"mean", "sum", "none"}, optional
        ``"mean"`` (default) averages over the non-ignored tokens (``nan`` if there are none, like
        PyTorch), ``"sum"`` adds them up, ``"none"`` returns one loss per token (0 where ignored)
        in the shape of ``targets``.

    Returns
    -------
    torch.Tensor
        A scalar, or for ``reduction="none"`` a tensor shaped like ``targets``, in the dtype of
        ``hidden``.

    Raises
    ------
    TypeError
        If an argument is not a tensor, a floating dtype is mixed or missing, ``targets`` are not
        integers, or ``chunk_size`` / ``ignore_index`` are not integers.
    ValueError
        If the shapes or devices disagree, a target is out of range, ``chunk_size < 1``, or the
        reduction is unknown.

    Notes
    -----
    *Gradients in the forward pass.* Each chunk of ``C`` tokens computes its ``(C, V)`` logits, their
    maximum ``m`` and ``s = Σ exp(z - m)`` (so ``log Σ exp z = m + log s`` cannot overflow), the loss
    ``(m - z_y) + log s``, and at once overwrites the same buffer with
    ``g = c · (softmax - onehot)``. From that the chunk's share of every gradient follows:
    ``grad_hidden[chunk] = g @ W``, ``grad_weight += g.T @ h_chunk``, ``grad_bias += g.sum(0)``.
    The next chunk reuses the buffer. The backward pass only multiplies the stored gradients by the
    incoming scalar (and returns them untouched when it is 1, the usual case, which costs one
    comparison, a device synchronisation on a GPU). This is the trick of Liger-Kernel's fused linear
    cross-entropy (Hsu et al., 2024). The extra memory is one chunk's logits, since
    ``grad_hidden`` and ``grad_weight`` have to exist anyway (they are handed to ``.grad`` without
    a copy). The arithmetic is the naive one's: three matrix products per token.

    *reduction="none".* The incoming gradient is then a vector that is unknown during the forward
    pass, so the gradients cannot be accumulated in advance. The forward pass computes the losses
    chunk by chunk and keeps only each token's ``log Σ exp z`` (``N`` numbers); the backward pass
    recomputes each chunk's logits, turns them into ``softmax - onehot`` with the stored
    log-sum-exp, scales row ``i`` by the incoming ``∂/∂ℓ_i`` and accumulates as above. Memory stays at
    one chunk; the price is a fourth matrix product per token.

    *Precision.* float32 and float64 inputs are computed in their own dtype. float16 and bfloat16
    inputs have their matrix products done in their own dtype, but the logits, the softmax and the
    accumulated ``grad_weight`` and ``grad_bias`` are held in float32, and the results are rounded
    back at the end. This costs a float32 ``(V, H)`` accumulator plus one ``(V, H)`` product per
    chunk in the input dtype (about three times the weight's size in all), and an extra pass over
    ``(V, H)`` per chunk; Liger-Kernel instead accumulates in the input dtype, cheaper and less
    accurate.

    Ignored tokens are masked, not skipped, so every chunk has the same shape. Target values are
    checked against ``V``, which reads them once (a synchronisation on a GPU). The function supports
    ``loss.backward()`` and ``torch.autograd.grad`` but not double differentiation.

    Recent PyTorch versions (2.13 here) ship the same idea as
    ``torch.nn.functional.linear_cross_entropy(..., options=torch.nn.LinearCrossEntropyOptions())``;
    ``benchmarks/llm_loss.py`` compares the two.

    References
    ----------
    .. [1] P.-L. Hsu, Y. Dai, V. Kothapalli et al., "Liger Kernel: Efficient Triton Kernels for LLM
       Training", arXiv:2410.10989, 2024.
    .. [2] E. Wijmans, B. Huval, A. Hertzberg, V. Koltun, P. Krähenbühl, "Cut Your Losses in
       Large-Vocabulary Language Models", arXiv:2411.09009, 2024.

    Examples
    --------
    >>> import torch
    >>> import torch.nn.functional as F
    >>> g = torch.Generator().manual_seed(0)
    >>> hidden = torch.randn(6, 4, dtype=torch.float64, generator=g, requires_grad=True)
    >>> weight = torch.randn(10, 4, dtype=torch.float64, generator=g, requires_grad=True)
    >>> targets = torch.tensor([3, 1, -100, 9, 0, 3])
    >>> loss = chunked_linear_cross_entropy(hidden, weight, targets, chunk_size=4)
    >>> reference = F.cross_entropy(hidden @ weight.T, targets)
    >>> torch.allclose(loss, reference, rtol=1e-15, atol=0)
    True
    >>> loss.backward()
    >>> g_hidden, g_weight = torch.autograd.grad(reference, (hidden, weight))
    >>> torch.allclose(hidden.grad, g_hidden, rtol=1e-13, atol=1e-16)
    True
    >>> torch.allclose(weight.grad, g_weight, rtol=1e-13, atol=1e-16)
    True

    One loss per token, in the shape of ``targets`` (here a batch of 2 sequences of 3 tokens):

    >>> per_token = chunked_linear_cross_entropy(
    ...     hidden.reshape(2, 3, 4), weight, targets.reshape(2, 3), reduction="none")
    >>> per_token.shape
    torch.Size([2, 3])
    >>> per_token[0, 2].item()  # the ignored token
    0.0
    """
    hidden, weight, bias, targets = _check_inputs(hidden, weight, bias, targets, ignore_index)
    reduction = check_reduction(reduction)
    lead_shape = hidden.shape[:-1]
    h2 = hidden.reshape(-1, hidden.shape[-1])
    t1 = targets.reshape(-1).long()
    if chunk_size is None:
        chunk_size = default_chunk_size(h2.shape[0], weight.shape[0], hidden.dtype, hidden.device)
    else:
        chunk_size = _check_chunk_size(chunk_size)

    tensors = (hidden, weight) if bias is None else (hidden, weight, bias)
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        loss = _ChunkedLinearCrossEntropy.apply(h2, weight, bias, t1, ignore_index, reduction, chunk_size)
    else:
        loss = _forward(h2, weight, bias, t1, ignore_index, reduction, chunk_size, (False, False, False))[0]
    if reduction == "none":
        loss = loss.reshape(lead_shape)
    return loss


# --------------------------------------------------------------------------------------------------
# Input checks


def _check_tensor(x, name: str):
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    return x


def _check_inputs(hidden, weight, bias, targets, ignore_index):
    _check_tensor(hidden, "hidden")
    _check_tensor(weight, "weight")
    _check_tensor(targets, "targets")
    if not hidden.is_floating_point():
        raise TypeError(f"hidden: expected a floating-point tensor, got dtype {hidden.dtype}")
    if hidden.ndim == 0:
        raise ValueError("hidden: expected shape (N, H) or (..., H), got a scalar")
    if weight.dtype != hidden.dtype:
        raise TypeError(f"weight: expected dtype {hidden.dtype} (the dtype of hidden), got {weight.dtype}")
    if weight.ndim != 2 or weight.shape[1] != hidden.shape[-1] or weight.shape[0] == 0:
        raise ValueError(
            f"weight: expected shape (V, {hidden.shape[-1]}) with V >= 1 (H = hidden.shape[-1]), "
            f"got {tuple(weight.shape)}"
        )
    num_classes = weight.shape[0]
    if bias is not None:
        _check_tensor(bias, "bias")
        if bias.dtype != hidden.dtype:
            raise TypeError(f"bias: expected dtype {hidden.dtype} (the dtype of hidden), got {bias.dtype}")
        if tuple(bias.shape) != (num_classes,):
            raise ValueError(f"bias: expected shape ({num_classes},) (one per row of weight), got {tuple(bias.shape)}")
    check_class_targets_tensor(targets, hidden.shape[:-1], "hidden without its last axis")
    ignore_index = check_ignore_index(ignore_index)
    for name, x in (("weight", weight), ("targets", targets), ("bias", bias)):
        if x is not None and x.device != hidden.device:
            raise ValueError(f"{name}: expected device {hidden.device} (the device of hidden), got {x.device}")
    valid = targets != ignore_index
    bad = valid & ((targets < 0) | (targets >= num_classes))
    if bool(bad.any()):
        value = int(targets[bad].reshape(-1)[0])
        kind = "negative class index" if value < 0 else "class index"
        raise ValueError(
            f"targets: {kind} {value} out of range for {num_classes} classes "
            f"(expected 0..{num_classes - 1} or ignore_index={ignore_index})"
        )
    return hidden, weight, bias, targets


def _check_chunk_size(chunk_size) -> int:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
        raise TypeError(f"chunk_size: expected None or a positive integer, got {chunk_size!r}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size: expected None or a positive integer, got {chunk_size}")
    return chunk_size


# --------------------------------------------------------------------------------------------------
# The computation


def _compute_dtype(dtype):
    return torch.float32 if dtype in _HALF_TYPES else dtype


class _Workspace:
    """One chunk's buffers, allocated once and reused by every chunk (the last may use fewer rows).

    ``logits`` holds the chunk's logits, then its softmax, then ``g`` (compute dtype); for float16
    and bfloat16 inputs ``low`` holds the matrix product in the input dtype and ``g`` rounded back
    to it for the gradient products, and ``grad_w_low`` each chunk's ``g.T @ h`` before it is added
    to the float32 accumulator. Reusing them keeps the allocator out of the loop: no page
    faults for fresh memory on a CPU, no fragmentation on a GPU.
    """

    def __init__(self, rows, weight, compute_dtype):
        v = weight.shape[0]
        self.logits = torch.empty((rows, v), dtype=compute_dtype, device=weight.device)
        half = weight.dtype != compute_dtype
        self.low = torch.empty((rows, v), dtype=weight.dtype, device=weight.device) if half else None
        self.grad_w_low = None  # (V, H) in the input dtype, for the float32 accumulation of grad_w


def _chunk_logits(h_chunk, weight, bias, ws):
    """``h_chunk @ weight.T + bias`` in the compute dtype, written into the workspace."""
    rows = h_chunk.shape[0]
    z = ws.logits[:rows]
    out = z if ws.low is None else ws.low[:rows]
    if bias is None:
        torch.mm(h_chunk, weight.t(), out=out)
    else:
        torch.addmm(bias, h_chunk, weight.t(), out=out)
    if ws.low is not None:
        z.copy_(out)
    return z


def _accumulate(g, t_chunk, w_chunk, h_chunk, weight, grads, start, stop, ws, s=None):
    """Turn ``g`` into ``w · (softmax - onehot)`` and add its gradients.

    ``g`` holds the softmax probabilities, or, when ``s`` is given, ``exp(z - m)`` whose row sums are
    ``s`` (the division is then folded into the scaling: one pass over the chunk instead of two).
    """
    grad_h, grad_w, grad_b = grads
    g.mul_((w_chunk if s is None else w_chunk / s.squeeze(1))[:, None])
    g.scatter_add_(1, t_chunk[:, None], -w_chunk[:, None])
    if grad_b is not None:
        grad_b.add_(g.sum(0))
    g_low = g if ws.low is None else ws.low[: g.shape[0]].copy_(g)
    if grad_h is not None:
        torch.mm(g_low, weight, out=grad_h[start:stop])
    if grad_w is not None:
        if grad_w.dtype == g_low.dtype:
            grad_w.addmm_(g_low.t(), h_chunk)
        else:  # half-precision product, float32 accumulator
            if ws.grad_w_low is None:
                ws.grad_w_low = torch.empty(grad_w.shape, dtype=g_low.dtype, device=g_low.device)
            grad_w.add_(torch.mm(g_low.t(), h_chunk, out=ws.grad_w_low))


def _forward(hidden, weight, bias, targets, ignore_index, reduction, chunk_size, needs):
    """Loss and, for ``"mean"``/``"sum"``, the gradients; for ``"none"`` the per-token log-sum-exp.

    Returns ``(loss, grads, lse)``; ``grads`` is ``None`` for ``"none"`` or when nothing needs one,
    ``lse`` is ``None`` unless ``"none"`` with gradients to come.
    """
    n, h = hidden.shape
    v = weight.shape[0]
    dtype, device = hidden.dtype, hidden.device
    cdtype = _compute_dtype(dtype)
    need_grads = any(needs)
    valid = targets != ignore_index
    safe_targets = torch.where(valid, targets, torch.zeros_like(targets))
    losses = torch.empty(n, dtype=cdtype, device=device)
    lse_all = torch.empty(n, dtype=cdtype, device=device) if need_grads and reduction == "none" else None
    grads = None
    if need_grads and reduction != "none":
        w = valid.to(cdtype)
        if reduction == "mean":
            n_valid = valid.sum()
            w = w / n_valid.clamp(min=1).to(cdtype)  # all ignored: zero gradients, like PyTorch
        need_h, need_w, need_b = needs
        grads = (
            torch.empty((n, h), dtype=dtype, device=device) if need_h else None,
            torch.zeros((v, h), dtype=cdtype, device=device) if need_w else None,
            torch.zeros(v, dtype=cdtype, device=device) if need_b and bias is not None else None,
        )
    ws = _Workspace(min(chunk_size, n), weight, cdtype) if n else None
    for start in range(0, n, chunk_size):
        stop = min(n, start + chunk_size)
        h_chunk, t_chunk = hidden[start:stop], safe_targets[start:stop]
        z = _chunk_logits(h_chunk, weight, bias, ws)
        target_logit = z.gather(1, t_chunk[:, None])
        m = z.amax(dim=1, keepdim=True)
        z.sub_(m).exp_()
        s = z.sum(dim=1, keepdim=True)
        log_s = s.log()
        losses[start:stop] = ((m - target_logit) + log_s).squeeze(1)
        if lse_all is not None:
            lse_all[start:stop] = (m + log_s).squeeze(1)
        if grads is not None:
            _accumulate(z, t_chunk, w[start:stop], h_chunk, weight, grads, start, stop, ws, s)
    del ws  # free the chunk buffers before the gradients are rounded to the input dtype
    losses = losses.masked_fill(~valid, 0.0)
    if reduction == "none":
        loss = losses
    elif reduction == "sum":
        loss = losses.sum()
    else:
        loss = losses.sum() / valid.sum().to(cdtype)  # 0 / 0 = nan when all are ignored, like PyTorch
    if grads is not None:
        grads = tuple(None if g is None else g.to(dtype) for g in grads)
    return loss.to(dtype), grads, lse_all


class _ChunkedLinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, ignore_index, reduction, chunk_size):
        needs = tuple(ctx.needs_input_grad[:3])
        loss, grads, lse = _forward(hidden, weight, bias, targets, ignore_index, reduction, chunk_size, needs)
        ctx.reduction = reduction
        if reduction == "none":
            ctx.ignore_index, ctx.chunk_size, ctx.needs = ignore_index, chunk_size, needs
            ctx.save_for_backward(hidden, weight, bias, targets, lse)
        else:
            # Saved, not kept as attributes, so autograd releases them after backward and can hand
            # them to .grad without a copy.
            ctx.save_for_backward(*grads)
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        if ctx.reduction != "none":
            grads = ctx.saved_tensors
            if not torch.equal(grad_output, torch.ones_like(grad_output)):
                grads = tuple(None if g is None else g * grad_output for g in grads)
            return (*grads, None, None, None, None)
        hidden, weight, bias, targets, lse = ctx.saved_tensors
        return (*_backward_none(hidden, weight, bias, targets, lse, grad_output, ctx), None, None, None, None)


def _backward_none(hidden, weight, bias, targets, lse, grad_output, ctx):
    """Gradients for ``reduction="none"``: recompute each chunk's softmax from the saved log-sum-exp."""
    n, h = hidden.shape
    v = weight.shape[0]
    dtype, device = hidden.dtype, hidden.device
    cdtype = _compute_dtype(dtype)
    need_h, need_w, need_b = ctx.needs
    valid = targets != ctx.ignore_index
    safe_targets = torch.where(valid, targets, torch.zeros_like(targets))
    w = torch.where(valid, grad_output.reshape(-1).to(cdtype), torch.zeros((), dtype=cdtype, device=device))
    grads = (
        torch.empty((n, h), dtype=dtype, device=device) if need_h else None,
        torch.zeros((v, h), dtype=cdtype, device=device) if need_w else None,
        torch.zeros(v, dtype=cdtype, device=device) if need_b and bias is not None else None,
    )
    ws = _Workspace(min(ctx.chunk_size, n), weight, cdtype) if n else None
    for start in range(0, n, ctx.chunk_size):
        stop = min(n, start + ctx.chunk_size)
        h_chunk = hidden[start:stop]
        z = _chunk_logits(h_chunk, weight, bias, ws)
        z.sub_(lse[start:stop, None]).exp_()
        _accumulate(z, safe_targets[start:stop], w[start:stop], h_chunk, weight, grads, start, stop, ws)
    del ws
    return tuple(None if g is None else g.to(dtype) for g in grads)

"""Cross-entropy of a linear output layer, computed chunk by chunk (PyTorch).

A language model's last layer turns ``N`` hidden states of width ``H`` into
``N`` rows of ``V`` logits, and ``V`` is large (32 000 to 256 000). Written
naively, ``F.cross_entropy(hidden @ W.T, targets)`` materialises the
``(N, V)`` logits, then their log-softmax, then their gradient: at 16 384
tokens and a 128 256-word vocabulary each of those is 8 GiB in float32, far
more than the model's own weights. :func:`chunked_linear_cross_entropy`
gives the same loss and the same gradients while holding the logits of only
a few rows at a time, with the options of a language model's training loss
(label smoothing, logit soft-capping, z-loss, mixed precision).

This module needs PyTorch and is not imported by ``import xent``::

    from xent.chunked import chunked_linear_cross_entropy
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch.autograd.function import once_differentiable

from xent._options import check_bool, check_non_negative, check_positive
from xent._validation import (
    check_class_targets_tensor,
    check_ignore_index,
    check_reduction,
    check_unit_interval,
)

__all__ = ["chunked_linear_cross_entropy", "default_chunk_size"]

# How many bytes one chunk's logits may take. On a CPU, 24 MiB (192 rows of
# a 32 000-word vocabulary in float32) matched the naive computation's speed
# with two threads in benchmarks/llm_loss.py, at under 100 MB of extra
# memory in all. Smaller chunks lose with several threads, since each of a
# chunk's dozen parallel operations waits for the slowest thread (128 rows:
# 10-15% slower than naive with two threads, though 15% faster with one;
# 64 rows: up to twice as slow on a busy machine). On a GPU each chunk
# re-reads the whole weight matrix, so a chunk must hold a few hundred rows
# for the matrix products to stay compute-bound: 256 MiB (about 512 rows of
# a 128 256-word vocabulary), close to Liger-Kernel's rule of thumb of
# chunks about the size of the hidden states. (Not measured here: no GPU.)
_CHUNK_BYTES = {"cpu": 24 * 2**20, "cuda": 256 * 2**20}
_HALF_TYPES = (torch.float16, torch.bfloat16)
# The floating dtypes that torch.autocast casts to its own dtype (float64
# is left alone, as autocast does).
_AUTOCAST_ELIGIBLE = (torch.float32, torch.float16, torch.bfloat16)


def default_chunk_size(
    num_tokens: int, vocab_size: int, dtype=torch.float32, device="cpu"
) -> int:
    """The number of tokens per chunk used by default.

    .. math::

        C = \\min\\left(N, \\max\\left(1, \\left\\lfloor
        \\frac{B}{V \\cdot s} \\right\\rfloor\\right)\\right)

    where ``B`` is a byte budget for one chunk's logits (24 MiB on a CPU,
    256 MiB on a GPU) and ``s`` the size of one logit in the compute dtype
    (float32 for float16 and bfloat16 inputs).

    Parameters
    ----------
    num_tokens : int
        ``N``, the number of rows of hidden states.
    vocab_size : int
        ``V``, the number of classes.
    dtype : torch.dtype, optional
        The dtype of the matrix products (the hidden states' dtype, or the
        autocast dtype). Default ``torch.float32``.
    device : str or torch.device, optional
        Where the computation runs. Default ``"cpu"``.

    Returns
    -------
    int
        The chunk size, between 1 and ``max(N, 1)``.

    Notes
    -----
    The budget trades memory against speed. A chunk of ``C`` rows costs
    three matrix products, ``6 C H V`` floating-point operations, and
    streams the ``(V, H)`` weight and its gradient through memory (about
    ``20 H V`` bytes in float32): some ``C / 3`` operations per byte. A CPU
    core is compute-bound above a few per byte, so about a hundred rows
    suffice there (the rest of the budget pays for the fixed cost of each
    chunk's dozen parallel operations); a GPU needs hundreds of rows.
    Chunks above 8 rows are rounded down to a multiple of 8, which suits
    vectorised matrix kernels.

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
    if dtype in _HALF_TYPES:
        itemsize = 4
    else:
        itemsize = torch.empty((), dtype=dtype).element_size()
    kind = torch.device(device).type
    budget = _CHUNK_BYTES["cpu"] if kind == "cpu" else _CHUNK_BYTES["cuda"]
    rows = max(1, budget // (max(vocab_size, 1) * itemsize))
    if rows > 8:
        rows -= rows % 8
    return int(min(max(num_tokens, 1), rows))


class _Options(NamedTuple):
    """The non-tensor arguments, checked, as the autograd function sees
    them."""

    ignore_index: int
    reduction: str
    chunk_size: int
    label_smoothing: float
    softcap: float | None
    z_loss: float
    mm_dtype: torch.dtype  # dtype of the matrix products
    out_dtype: torch.dtype  # dtype of the returned loss


def chunked_linear_cross_entropy(
    hidden,
    weight,
    targets,
    *,
    bias=None,
    chunk_size=None,
    ignore_index=-100,
    reduction="mean",
    label_smoothing=0.0,
    softcap=None,
    z_loss=0.0,
    validate=True,
):
    """Cross-entropy of ``hidden @ weight.T + bias`` without materialising
    the logits.

    .. math::

        u_i = W h_i + b, \\qquad
        z_i = c \\tanh(u_i / c) \\ \\text{(if softcap } c\\text{, else }
        z_i = u_i), \\qquad
        \\log Z_i = \\log \\sum_{j=1}^{V} e^{z_{ij}},

    .. math::

        \\ell_i = (1 - \\varepsilon)(\\log Z_i - z_{i y_i})
        + \\varepsilon \\Bigl(\\log Z_i - \\frac{1}{V} \\sum_{j=1}^{V}
        z_{ij}\\Bigr) + \\lambda (\\log Z_i)^2,

    with :math:`\\varepsilon` = ``label_smoothing`` and :math:`\\lambda` =
    ``z_loss``: the numbers of ``F.cross_entropy(z, targets,
    label_smoothing=ε)`` plus ``λ`` times the mean (or sum) over the same
    tokens of :math:`(\\log Z_i)^2`. Through autograd, the gradients

    .. math::

        \\frac{\\partial \\ell_i}{\\partial z_i} = (1 + 2 \\lambda \\log Z_i)
        \\operatorname{softmax}(z_i) - (1 - \\varepsilon) e_{y_i}
        - \\frac{\\varepsilon}{V}, \\qquad
        \\frac{\\partial z_i}{\\partial u_i} = 1 - \\tanh^2(u_i / c),

    then :math:`\\partial L / \\partial h_i = W^\\top g_i`,
    :math:`\\partial L / \\partial W = \\sum_i g_i h_i^\\top`,
    :math:`\\partial L / \\partial b = \\sum_i g_i`, where :math:`g_i` is
    :math:`\\partial \\ell_i / \\partial u_i` times ``1 / (number of
    non-ignored tokens)`` for ``reduction="mean"``, 1 for ``"sum"`` and the
    incoming gradient of :math:`\\ell_i` for ``"none"`` (0 for ignored
    tokens).

    Parameters
    ----------
    hidden : torch.Tensor, shape (N, H) or (..., H)
        Hidden states, floating point (float16, bfloat16, float32 or
        float64).
    weight : torch.Tensor, shape (V, H)
        The output layer's weight (``nn.Linear(H, V).weight``), on the
        device of ``hidden``; of its dtype too, except under
        ``torch.autocast`` (see Notes).
    targets : torch.Tensor of integers, shape (N,) or (...)
        Class indices in ``0..V-1``, or ``ignore_index``; the shape of
        ``hidden`` without its last axis.
    bias : torch.Tensor, shape (V,), optional
        The output layer's bias. Default ``None`` (no bias).
    chunk_size : int, optional
        Tokens per chunk. Default ``None``: :func:`default_chunk_size`,
        about 24 MiB of logits per chunk on a CPU and 256 MiB on a GPU. Any
        positive value gives the same result up to rounding.
    ignore_index : int, optional
        Targets equal to this contribute neither loss nor gradient (nor
        z-loss). Default ``-100``.
    reduction : {"mean", "sum", "none"}, optional
        ``"mean"`` (default) averages over the non-ignored tokens (``nan``
        if there are none, like PyTorch), ``"sum"`` adds them up, ``"none"``
        returns one loss per token (0 where ignored) in the shape of
        ``targets``.
    label_smoothing : float, optional
        :math:`\\varepsilon \\in [0, 1]`, as in ``F.cross_entropy``: the
        target is :math:`(1 - \\varepsilon) e_y + \\varepsilon / V` (the
        uniform convention, :math:`\\varepsilon / V` on every class
        including the true one). Default ``0.0``.
    softcap : float, optional
        :math:`c > 0`: the logits are soft-capped, :math:`z = c \\tanh(u /
        c)` (Gemma 2, :func:`xent.softcap`), before everything else, and
        differentiated through. Default ``None`` (no cap).
    z_loss : float, optional
        :math:`\\lambda \\ge 0`, the coefficient of the z-loss
        :math:`(\\log Z)^2` (PaLM, :func:`xent.z_loss`; Liger-Kernel's
        ``lse_square_scale``), of the soft-capped logits. It is added to
        each non-ignored token's loss, so it is averaged with the
        cross-entropy for ``"mean"`` (over the non-ignored tokens), summed
        for ``"sum"`` and part of each token's value for ``"none"``.
        Default ``0.0``. PaLM used ``1e-4``.
    validate : bool, optional
        Check that every target is in range (default ``True``). That
        check reads the targets' values, which needs a host-device
        synchronisation on a GPU and breaks ``torch.compile(fullgraph=True)``;
        ``validate=False`` skips it (shapes, dtypes and devices are still
        checked). An out-of-range target then gives wrong results or a
        device-side error instead of a ``ValueError``.

    Returns
    -------
    torch.Tensor
        A scalar, or for ``reduction="none"`` a tensor shaped like
        ``targets``; in the dtype of ``hidden``, or float32 under autocast.

    Raises
    ------
    TypeError
        If an argument is not a tensor, a floating dtype is mixed (outside
        autocast) or missing, ``targets`` are not integers, or an option
        has the wrong type.
    ValueError
        If the shapes or devices disagree, a target is out of range,
        ``chunk_size < 1``, the reduction is unknown, or an option is out
        of its range.

    Notes
    -----
    *Gradients in the forward pass.* Each chunk of ``C`` tokens computes
    its ``(C, V)`` logits, their maximum ``m`` and ``s = Σ exp(z - m)``
    (so :math:`\\log Z = m + \\log s` cannot overflow), the loss, and at
    once overwrites the same buffer with ``g`` above. From that the chunk's
    share of every gradient follows: ``grad_hidden[chunk] = g @ W``,
    ``grad_weight += g.T @ h_chunk``, ``grad_bias += g.sum(0)``. The next
    chunk reuses the buffer. The backward pass only multiplies the stored
    gradients by the incoming scalar (and returns them untouched when it is
    1, the usual case, which costs one comparison, a device
    synchronisation on a GPU; under ``torch.compile`` it always
    multiplies). This is the trick of Liger-Kernel's fused linear
    cross-entropy (Hsu et al., 2024). The extra memory is one chunk's
    logits (two with ``softcap``, whose derivative needs the
    :math:`\\tanh`), since ``grad_hidden`` and ``grad_weight`` have to exist
    anyway (they are handed to ``.grad`` without a copy). The arithmetic is
    the naive one's: three matrix products per token.

    *reduction="none".* The incoming gradient is then a vector that is
    unknown during the forward pass, so the gradients cannot be accumulated
    in advance. The forward pass computes the losses chunk by chunk and
    keeps only each token's :math:`\\log Z` (``N`` numbers); the backward
    pass recomputes each chunk's logits, turns them into the gradient above
    with the stored :math:`\\log Z`, scales row ``i`` by the incoming
    :math:`\\partial / \\partial \\ell_i` and accumulates as above. Memory
    stays at one chunk; the price is a fourth matrix product per token.

    *The options.* Label smoothing adds :math:`\\varepsilon (\\log Z -
    \\bar z)` per token: one more sum over the chunk's logits. The z-loss
    only rescales the softmax part of the gradient by :math:`1 + 2 \\lambda
    \\log Z`, a number per row that the forward pass has anyway. The
    soft-cap costs two passes over the chunk (the ``tanh`` and its
    derivative :math:`1 - \\tanh^2`). Computing ``(1 - ε)(m - z_y) + ε(m -
    mean z) + log s`` keeps every term non-negative, so nothing cancels.

    *Precision and autocast.* float32 and float64 inputs are computed in
    their own dtype. float16 and bfloat16 inputs have their matrix products
    done in their own dtype, but the logits, the softmax and the
    accumulated ``grad_weight`` and ``grad_bias`` are float32: each chunk's
    ``g.T @ h`` is a float32 product added to a float32 accumulator, so
    that a weight gradient summed over many chunks does not lose the
    half-precision rounding of every chunk (PyTorch's CPU build has no
    half-precision product with a float32 output; cuBLAS has one,
    ``torch.mm(..., out_dtype=torch.float32)``, which would be faster on a
    GPU but cannot be tested here). The results are rounded back at the
    end. Under ``torch.autocast`` the matrix products run in the autocast
    dtype whatever the dtypes of ``hidden``, ``weight`` and ``bias``
    (float32 master weights are cast once per call, as autocast casts them
    for ``F.linear``), the loss is returned in float32 (as autocast's
    ``F.cross_entropy``) and each gradient in the dtype of its input: a
    float32 weight receives the float32 accumulator without a rounding to
    bfloat16.

    Ignored tokens are masked, not skipped, so every chunk has the same
    shape. The function supports ``loss.backward()`` and
    ``torch.autograd.grad`` but not double differentiation.

    Recent PyTorch versions (2.13 here) ship the same idea as
    ``torch.nn.functional.linear_cross_entropy(...,
    options=torch.nn.LinearCrossEntropyOptions())``;
    ``benchmarks/llm_loss.py`` compares the two.

    References
    ----------
    .. [1] P.-L. Hsu, Y. Dai, V. Kothapalli et al., "Liger Kernel:
       Efficient Triton Kernels for LLM Training", arXiv:2410.10989, 2024.
    .. [2] E. Wijmans, B. Huval, A. Hertzberg, V. Koltun, P. Krähenbühl,
       "Cut Your Losses in Large-Vocabulary Language Models",
       arXiv:2411.09009, 2024.
    .. [3] A. Chowdhery, S. Narang, J. Devlin et al., "PaLM: Scaling
       Language Modeling with Pathways", JMLR 24(240), 2023 (z-loss).
    .. [4] Gemma Team, "Gemma 2: Improving Open Language Models at a
       Practical Size", arXiv:2408.00118, 2024 (soft-capping).
    .. [5] C. Szegedy, V. Vanhoucke, S. Ioffe, J. Shlens, Z. Wojna,
       "Rethinking the Inception Architecture for Computer Vision", CVPR
       2016 (label smoothing).

    Examples
    --------
    >>> import torch
    >>> import torch.nn.functional as F
    >>> g = torch.Generator().manual_seed(0)
    >>> hidden = torch.randn(6, 4, dtype=torch.float64, generator=g,
    ...                      requires_grad=True)
    >>> weight = torch.randn(10, 4, dtype=torch.float64, generator=g,
    ...                      requires_grad=True)
    >>> targets = torch.tensor([3, 1, -100, 9, 0, 3])
    >>> loss = chunked_linear_cross_entropy(hidden, weight, targets,
    ...                                     chunk_size=4)
    >>> reference = F.cross_entropy(hidden @ weight.T, targets)
    >>> torch.allclose(loss, reference, rtol=1e-15, atol=0)
    True
    >>> loss.backward()
    >>> g_hidden, g_weight = torch.autograd.grad(reference, (hidden, weight))
    >>> torch.allclose(hidden.grad, g_hidden, rtol=1e-13, atol=1e-16)
    True
    >>> torch.allclose(weight.grad, g_weight, rtol=1e-13, atol=1e-16)
    True

    The options of a language model's loss: soft-capped logits, label
    smoothing and a z-loss, against the same three written out:

    >>> z = 3.0 * torch.tanh(hidden @ weight.T / 3.0)
    >>> valid = targets != -100
    >>> reference = (
    ...     F.cross_entropy(z, targets, label_smoothing=0.1)
    ...     + 1e-4 * (torch.logsumexp(z, -1)[valid] ** 2).mean())
    >>> loss = chunked_linear_cross_entropy(
    ...     hidden, weight, targets, label_smoothing=0.1, softcap=3.0,
    ...     z_loss=1e-4, chunk_size=4)
    >>> torch.allclose(loss, reference, rtol=1e-14, atol=0)
    True

    One loss per token, in the shape of ``targets`` (here a batch of 2
    sequences of 3 tokens):

    >>> per_token = chunked_linear_cross_entropy(
    ...     hidden.reshape(2, 3, 4), weight, targets.reshape(2, 3),
    ...     reduction="none")
    >>> per_token.shape
    torch.Size([2, 3])
    >>> per_token[0, 2].item()  # the ignored token
    0.0
    """
    validate = check_bool(validate, "validate")
    hidden, weight, bias, targets = _check_inputs(
        hidden, weight, bias, targets, ignore_index, validate
    )
    ignore_index = check_ignore_index(ignore_index)
    reduction = check_reduction(reduction)
    label_smoothing = check_unit_interval(label_smoothing, "label_smoothing")
    if softcap is not None:
        softcap = check_positive(softcap, "softcap")
    z_loss = check_non_negative(z_loss, "z_loss")
    mm_dtype, out_dtype = _dtypes(hidden, weight, bias)
    lead_shape = hidden.shape[:-1]
    h2 = hidden.reshape(-1, hidden.shape[-1])
    t1 = targets.reshape(-1).long()
    if chunk_size is None:
        chunk_size = default_chunk_size(
            h2.shape[0], weight.shape[0], mm_dtype, hidden.device
        )
    else:
        chunk_size = _check_chunk_size(chunk_size)
    opts = _Options(
        ignore_index,
        reduction,
        chunk_size,
        label_smoothing,
        softcap,
        z_loss,
        mm_dtype,
        out_dtype,
    )

    tensors = (hidden, weight) if bias is None else (hidden, weight, bias)
    # The computation chooses its own dtypes: autocast stays out of it.
    with torch.autocast(hidden.device.type, enabled=False):
        if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
            loss = _ChunkedLinearCrossEntropy.apply(h2, weight, bias, t1, opts)
        else:
            needs = (False, False, False)
            loss = _forward(h2, weight, bias, t1, opts, needs)[0]
    if reduction == "none":
        loss = loss.reshape(lead_shape)
    return loss


# ---------------------------------------------------------------------------
# Input checks


def _check_tensor(x, name: str):
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name}: expected a torch.Tensor, got {type(x).__name__}"
        )
    return x


def _check_float(x, name: str, hidden) -> None:
    """Same dtype as ``hidden``, or any floating dtype under autocast."""
    if x.dtype == hidden.dtype:
        return
    if _autocast_dtype(hidden) is not None and x.is_floating_point():
        return
    raise TypeError(
        f"{name}: expected dtype {hidden.dtype} (the dtype of hidden), "
        f"got {x.dtype}"
    )


def _check_inputs(hidden, weight, bias, targets, ignore_index, validate):
    _check_tensor(hidden, "hidden")
    _check_tensor(weight, "weight")
    _check_tensor(targets, "targets")
    if not hidden.is_floating_point():
        raise TypeError(
            "hidden: expected a floating-point tensor, got dtype "
            f"{hidden.dtype}"
        )
    if hidden.ndim == 0:
        raise ValueError(
            "hidden: expected shape (N, H) or (..., H), got a scalar"
        )
    _check_float(weight, "weight", hidden)
    if (
        weight.ndim != 2
        or weight.shape[1] != hidden.shape[-1]
        or weight.shape[0] == 0
    ):
        raise ValueError(
            f"weight: expected shape (V, {hidden.shape[-1]}) with V >= 1 "
            f"(H = hidden.shape[-1]), got {tuple(weight.shape)}"
        )
    num_classes = weight.shape[0]
    if bias is not None:
        _check_tensor(bias, "bias")
        _check_float(bias, "bias", hidden)
        if tuple(bias.shape) != (num_classes,):
            raise ValueError(
                f"bias: expected shape ({num_classes},) (one per row of "
                f"weight), got {tuple(bias.shape)}"
            )
    check_class_targets_tensor(
        targets, hidden.shape[:-1], "hidden without its last axis"
    )
    ignore_index = check_ignore_index(ignore_index)
    for name, x in (("weight", weight), ("targets", targets), ("bias", bias)):
        if x is not None and x.device != hidden.device:
            raise ValueError(
                f"{name}: expected device {hidden.device} (the device of "
                f"hidden), got {x.device}"
            )
    if validate:
        _check_target_range(targets, num_classes, ignore_index)
    return hidden, weight, bias, targets


def _check_target_range(targets, num_classes, ignore_index) -> None:
    """The data-dependent check: reads the targets (a device sync)."""
    valid = targets != ignore_index
    bad = valid & ((targets < 0) | (targets >= num_classes))
    if bool(bad.any()):
        value = int(targets[bad].reshape(-1)[0])
        kind = "negative class index" if value < 0 else "class index"
        raise ValueError(
            f"targets: {kind} {value} out of range for {num_classes} classes "
            f"(expected 0..{num_classes - 1} or ignore_index={ignore_index})"
        )


def _check_chunk_size(chunk_size) -> int:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
        raise TypeError(
            "chunk_size: expected None or a positive integer, got "
            f"{chunk_size!r}"
        )
    if chunk_size < 1:
        raise ValueError(
            "chunk_size: expected None or a positive integer, got "
            f"{chunk_size}"
        )
    return chunk_size


def _autocast_dtype(hidden):
    """The autocast dtype that applies to ``hidden``'s device, or None."""
    kind = hidden.device.type
    if not torch.is_autocast_enabled(kind):
        return None
    return torch.get_autocast_dtype(kind)


def _dtypes(hidden, weight, bias):
    """The dtype of the matrix products and the dtype of the loss."""
    amp = _autocast_dtype(hidden)
    inputs = (hidden, weight) if bias is None else (hidden, weight, bias)
    if amp is None or any(x.dtype not in _AUTOCAST_ELIGIBLE for x in inputs):
        # Outside autocast the dtypes agree (checked). float64 under
        # autocast: autocast leaves it alone, and so do we.
        dtype = hidden.dtype if amp is None else torch.float64
        return dtype, dtype
    return amp, torch.float32


# ---------------------------------------------------------------------------
# The computation


def _compute_dtype(dtype):
    return torch.float32 if dtype in _HALF_TYPES else dtype


class _Workspace:
    """One chunk's buffers, allocated once and reused by every chunk (the
    last may use fewer rows).

    ``logits`` holds the chunk's logits, then its softmax, then ``g``
    (compute dtype); for float16 and bfloat16 products ``low`` holds the
    matrix product in that dtype and ``g`` rounded back to it for the
    ``grad_hidden`` product; ``tanh`` holds ``tanh(u / c)`` and then
    ``1 - tanh^2`` when the logits are soft-capped. Reusing them keeps the
    allocator out of the loop: no page faults for fresh memory on a CPU, no
    fragmentation on a GPU.
    """

    def __init__(self, rows, weight, compute_dtype, softcap):
        v = weight.shape[0]
        kw = dict(dtype=compute_dtype, device=weight.device)
        self.logits = torch.empty((rows, v), **kw)
        half = weight.dtype != compute_dtype
        self.low = (
            torch.empty((rows, v), dtype=weight.dtype, device=weight.device)
            if half
            else None
        )
        self.tanh = torch.empty((rows, v), **kw) if softcap else None


def _chunks(n, weight, cdtype, opts):
    """``(start, stop, workspace)`` for each chunk of ``n`` rows.

    Eagerly, one workspace serves every chunk (the last uses its first
    rows), and it is freed when the loop ends, before the gradients are
    rounded. Under ``torch.compile`` each chunk gets fresh buffers: the
    compiler plans the memory itself, and inductor (torch 2.13, CPU)
    miscompiled the reuse of a workspace by a shorter last chunk in the
    backward pass of ``reduction="none"``.
    """
    compiling = torch.compiler.is_compiling()
    ws = None
    for start in range(0, n, opts.chunk_size):
        stop = min(n, start + opts.chunk_size)
        if ws is None or compiling:
            rows = stop - start if compiling else min(opts.chunk_size, n)
            ws = _Workspace(rows, weight, cdtype, opts.softcap)
        yield start, stop, ws


def _chunk_logits(h_chunk, weight, bias, ws, softcap):
    """The chunk's logits in the compute dtype, soft-capped if asked,
    written into the workspace (``ws.tanh`` keeps ``tanh(u / c)``)."""
    rows = h_chunk.shape[0]
    z = ws.logits[:rows]
    out = z if ws.low is None else ws.low[:rows]
    if bias is None:
        torch.mm(h_chunk, weight.t(), out=out)
    else:
        torch.addmm(bias, h_chunk, weight.t(), out=out)
    if ws.low is not None:
        z.copy_(out)
    if softcap is not None:
        tanh = ws.tanh[:rows]
        torch.tanh(z.div_(softcap), out=tanh)
        torch.mul(tanh, softcap, out=z)
    return z


def _accumulate(
    g, t_chunk, w_chunk, lse, h_chunk, weight, grads, span, ws, opts, s=None
):
    """Turn ``g`` into ``w * dl/du`` and add its gradients.

    ``g`` holds the softmax probabilities, or, when ``s`` is given,
    ``exp(z - m)`` whose row sums are ``s`` (the division is then folded
    into the scaling: one pass over the chunk instead of two).
    """
    grad_h, grad_w, grad_b = grads
    eps, lam = opts.label_smoothing, opts.z_loss
    scale = w_chunk if lam == 0 else w_chunk * (1 + 2 * lam * lse)
    g.mul_((scale if s is None else scale / s)[:, None])
    if eps:
        g.sub_((w_chunk * (eps / g.shape[1]))[:, None])
    g.scatter_add_(1, t_chunk[:, None], -(w_chunk * (1 - eps))[:, None])
    if opts.softcap is not None:
        tanh = ws.tanh[: g.shape[0]]
        g.mul_(tanh.mul_(tanh).neg_().add_(1))  # dz/du = 1 - tanh^2
    if grad_b is not None:
        grad_b.add_(g.sum(0))
    g_low = g if ws.low is None else ws.low[: g.shape[0]].copy_(g)
    if grad_h is not None:
        torch.mm(g_low, weight, out=grad_h[span[0] : span[1]])
    if grad_w is not None:
        # g is in the compute dtype (float32 for half inputs): a float32
        # product added to the float32 accumulator.
        grad_w.addmm_(g.t(), h_chunk.to(g.dtype))


def _chunk_loss(z, target_logit, opts):
    """Per-token loss of a chunk from its logits ``z`` (before the
    exponential); leaves ``exp(z - m)`` in ``z``. Returns ``(loss, lse,
    s)``, each of shape ``(C, 1)``."""
    eps = opts.label_smoothing
    mean_logit = z.mean(dim=1, keepdim=True) if eps else None
    m = z.amax(dim=1, keepdim=True)
    z.sub_(m).exp_()
    s = z.sum(dim=1, keepdim=True)
    log_s = s.log()
    # every term >= 0: nothing cancels
    loss = (
        (m - target_logit)
        if not eps
        else ((1 - eps) * (m - target_logit) + eps * (m - mean_logit))
    )
    loss = loss + log_s
    lse = m + log_s
    if opts.z_loss:
        loss = loss + opts.z_loss * lse * lse
    return loss, lse, s


def _forward(hidden, weight, bias, targets, opts, needs):
    """Loss and, for ``"mean"``/``"sum"``, the gradients; for ``"none"``
    the per-token log-sum-exp.

    Returns ``(loss, grads, lse)``: ``grads`` (in the dtypes of
    ``hidden``, ``weight``, ``bias``) is ``None`` for ``"none"`` or when
    nothing needs one, ``lse`` is ``None`` unless ``"none"`` with gradients
    to come.
    """
    n, h = hidden.shape
    v = weight.shape[0]
    device = hidden.device
    grad_dtypes = (
        hidden.dtype,
        weight.dtype,
        None if bias is None else bias.dtype,
    )
    hidden, weight, bias = _cast(hidden, weight, bias, opts.mm_dtype)
    cdtype = _compute_dtype(opts.mm_dtype)
    need_grads = any(needs)
    valid = targets != opts.ignore_index
    safe_targets = torch.where(valid, targets, torch.zeros_like(targets))
    losses = torch.empty(n, dtype=cdtype, device=device)
    keep_lse = need_grads and opts.reduction == "none"
    lse_all = torch.empty(n, dtype=cdtype, device=device) if keep_lse else None
    grads = None
    if need_grads and opts.reduction != "none":
        w = valid.to(cdtype)
        if opts.reduction == "mean":
            # all ignored: zero gradients, like PyTorch
            w = w / valid.sum().clamp(min=1).to(cdtype)
        grads = _new_grads(n, h, v, bias, needs, hidden.dtype, cdtype, device)
    for start, stop, ws in _chunks(n, weight, cdtype, opts):
        h_chunk, t_chunk = hidden[start:stop], safe_targets[start:stop]
        z = _chunk_logits(h_chunk, weight, bias, ws, opts.softcap)
        target_logit = z.gather(1, t_chunk[:, None])
        loss, lse, s = _chunk_loss(z, target_logit, opts)
        losses[start:stop] = loss.squeeze(1)
        if lse_all is not None:
            lse_all[start:stop] = lse.squeeze(1)
        if grads is not None:
            _accumulate(
                z,
                t_chunk,
                w[start:stop],
                lse.squeeze(1),
                h_chunk,
                weight,
                grads,
                (start, stop),
                ws,
                opts,
                s.squeeze(1),
            )
    ws = None  # free the chunk buffers before the gradients are rounded
    losses = losses.masked_fill(~valid, 0.0)
    if opts.reduction == "none":
        loss = losses
    elif opts.reduction == "sum":
        loss = losses.sum()
    else:
        # 0 / 0 = nan when all are ignored, like PyTorch
        loss = losses.sum() / valid.sum().to(cdtype)
    if grads is not None:
        grads = _rounded(grads, grad_dtypes)
    return loss.to(opts.out_dtype), grads, lse_all


def _cast(hidden, weight, bias, dtype):
    """The inputs in the dtype of the matrix products (no copy if already
    so)."""
    return (
        hidden.to(dtype),
        weight.to(dtype),
        None if bias is None else bias.to(dtype),
    )


def _new_grads(n, h, v, bias, needs, dtype, cdtype, device):
    need_h, need_w, need_b = needs
    return (
        torch.empty((n, h), dtype=dtype, device=device) if need_h else None,
        torch.zeros((v, h), dtype=cdtype, device=device) if need_w else None,
        torch.zeros(v, dtype=cdtype, device=device)
        if need_b and bias is not None
        else None,
    )


def _rounded(grads, dtypes):
    return tuple(
        None if g is None else g.to(d)
        for g, d in zip(grads, dtypes, strict=True)
    )


class _ChunkedLinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, opts):
        needs = tuple(ctx.needs_input_grad[:3])
        loss, grads, lse = _forward(hidden, weight, bias, targets, opts, needs)
        ctx.opts = opts
        if opts.reduction == "none":
            ctx.needs = needs
            ctx.save_for_backward(hidden, weight, bias, targets, lse)
        else:
            # Saved, not kept as attributes, so autograd releases them after
            # backward and can hand them to .grad without a copy.
            ctx.save_for_backward(*grads)
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        if ctx.opts.reduction != "none":
            grads = ctx.saved_tensors
            # Skip the multiplication by 1 (the usual loss.backward()); the
            # comparison reads a value, which torch.compile cannot trace.
            if torch.compiler.is_compiling() or not torch.equal(
                grad_output, torch.ones_like(grad_output)
            ):
                grads = tuple(
                    None if g is None else g * grad_output.to(g.dtype)
                    for g in grads
                )
            return (*grads, None, None)
        hidden, weight, bias, targets, lse = ctx.saved_tensors
        with torch.autocast(hidden.device.type, enabled=False):
            grads = _backward_none(
                hidden, weight, bias, targets, lse, grad_output, ctx
            )
        return (*grads, None, None)


def _backward_none(hidden, weight, bias, targets, lse, grad_output, ctx):
    """Gradients for ``reduction="none"``: recompute each chunk's softmax
    from the saved log-sum-exp."""
    opts = ctx.opts
    n, h = hidden.shape
    v = weight.shape[0]
    device = hidden.device
    grad_dtypes = (
        hidden.dtype,
        weight.dtype,
        None if bias is None else bias.dtype,
    )
    hidden, weight, bias = _cast(hidden, weight, bias, opts.mm_dtype)
    cdtype = _compute_dtype(opts.mm_dtype)
    valid = targets != opts.ignore_index
    safe_targets = torch.where(valid, targets, torch.zeros_like(targets))
    zero = torch.zeros((), dtype=cdtype, device=device)
    w = torch.where(valid, grad_output.reshape(-1).to(cdtype), zero)
    grads = _new_grads(n, h, v, bias, ctx.needs, hidden.dtype, cdtype, device)
    for start, stop, ws in _chunks(n, weight, cdtype, opts):
        h_chunk = hidden[start:stop]
        z = _chunk_logits(h_chunk, weight, bias, ws, opts.softcap)
        lse_chunk = lse[start:stop]
        z.sub_(lse_chunk[:, None]).exp_()
        _accumulate(
            z,
            safe_targets[start:stop],
            w[start:stop],
            lse_chunk,
            h_chunk,
            weight,
            grads,
            (start, stop),
            ws,
            opts,
        )
    ws = None
    return _rounded(grads, grad_dtypes)

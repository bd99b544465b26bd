"""Tests for xent/chunked.py: chunked_linear_cross_entropy against
F.cross_entropy on full logits.

float64 throughout unless said otherwise. The chunked and the naive
computations do the same arithmetic in a different order (per-chunk sums
instead of one sum over all tokens), so they agree to a few ulps: rtol 1e-12
leaves a margin of about 10^3 over that, and atol 1e-14 only covers gradient
entries that are sums cancelling to about zero.
"""

import math
import os

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from xent.chunked import chunked_linear_cross_entropy, default_chunk_size

RTOL, ATOL = 1e-12, 1e-14
F64 = torch.float64


def make_problem(
    n=10,
    h=5,
    v=7,
    *,
    bias=True,
    ignore=(2, 7),
    seed=0,
    dtype=F64,
    device="cpu",
    scale=1.0,
):
    g = torch.Generator().manual_seed(seed)
    hidden = (
        (scale * torch.randn(n, h, generator=g, dtype=F64))
        .to(dtype)
        .to(device)
        .requires_grad_()
    )
    weight = (
        torch.randn(v, h, generator=g, dtype=F64)
        .to(dtype)
        .to(device)
        .requires_grad_()
    )
    b = (
        torch.randn(v, generator=g, dtype=F64)
        .to(dtype)
        .to(device)
        .requires_grad_()
        if bias
        else None
    )
    targets = torch.randint(0, v, (n,), generator=g)
    for i in ignore:
        if i < n:
            targets[i] = -100
    return hidden, weight, b, targets.to(device)


def reference(
    hidden, weight, bias, targets, *, softcap=None, z_loss=0.0, **kwargs
):
    """The naive computation: full logits, F.cross_entropy (its own label
    smoothing and reductions), the soft-cap and the z-loss written out."""
    logits = hidden @ weight.T
    if bias is not None:
        logits = logits + bias
    logits = logits.reshape(-1, weight.shape[0])
    if softcap is not None:
        logits = softcap * torch.tanh(logits / softcap)
    t = targets.reshape(-1)
    reduction = kwargs.get("reduction", "mean")
    loss = F.cross_entropy(logits, t, **kwargs)
    if z_loss:
        valid = t != kwargs.get("ignore_index", -100)
        lse2 = torch.logsumexp(logits, dim=-1) ** 2
        if reduction == "none":
            loss = loss + z_loss * torch.where(valid, lse2, 0.0)
        elif reduction == "sum":
            loss = loss + z_loss * lse2[valid].sum()
        else:
            loss = loss + z_loss * lse2[valid].mean()
    return loss.reshape(targets.shape if reduction == "none" else ())


def grads(loss, params, grad_output=None):
    params = [p for p in params if p is not None]
    return torch.autograd.grad(loss, params, grad_outputs=grad_output)


def assert_close(actual, expected, rtol=RTOL, atol=ATOL):
    torch.testing.assert_close(
        actual, expected, rtol=rtol, atol=atol, equal_nan=True
    )


# -----------------------------------------------------------------------------
# Oracle: every reduction, with and without bias, ignored tokens, chunk sizes
# that do and do not divide N, chunk_size=1 and chunk_size > N.


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("chunk_size", [1, 3, 5, 10, 64, None])
def test_matches_cross_entropy_on_full_logits(
    reduction, with_bias, chunk_size
):
    hidden, weight, bias, targets = make_problem(bias=with_bias)
    loss = chunked_linear_cross_entropy(
        hidden,
        weight,
        targets,
        bias=bias,
        chunk_size=chunk_size,
        reduction=reduction,
    )
    expected = reference(hidden, weight, bias, targets, reduction=reduction)
    assert loss.dtype == F64 and loss.shape == expected.shape
    assert_close(loss, expected)
    # a non-trivial incoming gradient: a random vector for "none", a scalar
    # other than 1 otherwise
    g = torch.Generator().manual_seed(1)
    upstream = (
        torch.randn(expected.shape, generator=g, dtype=F64)
        if reduction == "none"
        else torch.tensor(-2.5, dtype=F64)
    )
    params = (hidden, weight, bias)
    for a, e in zip(
        grads(loss, params, upstream),
        grads(expected, params, upstream),
        strict=True,
    ):
        assert_close(a, e)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_backward_with_unit_upstream_gradient(reduction):
    """loss.backward() (the usual call): .grad receives the gradients computed
    in the forward pass."""
    hidden, weight, bias, targets = make_problem(n=9, v=11, seed=3)
    loss = chunked_linear_cross_entropy(
        hidden, weight, targets, bias=bias, chunk_size=4, reduction=reduction
    )
    loss.sum().backward()
    got = [p.grad.clone() for p in (hidden, weight, bias)]
    for p in (hidden, weight, bias):
        p.grad = None
    reference(
        hidden, weight, bias, targets, reduction=reduction
    ).sum().backward()
    for a, p in zip(got, (hidden, weight, bias), strict=True):
        assert_close(a, p.grad)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_leading_dimensions_are_flattened(reduction):
    hidden, weight, bias, targets = make_problem(n=12, seed=4)
    h3, t3 = hidden.reshape(3, 4, -1), targets.reshape(3, 4)
    loss = chunked_linear_cross_entropy(
        h3, weight, t3, bias=bias, chunk_size=5, reduction=reduction
    )
    expected = reference(h3, weight, bias, t3, reduction=reduction)
    assert (
        loss.shape == expected.shape == ((3, 4) if reduction == "none" else ())
    )
    assert_close(loss, expected)
    upstream = torch.ones_like(expected) if reduction == "none" else None
    for a, e in zip(
        grads(loss, (hidden, weight, bias), upstream),
        grads(expected, (hidden, weight, bias), upstream),
        strict=True,
    ):
        assert_close(a, e)


def test_single_token_without_batch_axis():
    """hidden (H,) with a scalar target, like F.cross_entropy on 1-d input."""
    hidden, weight, bias, targets = make_problem(n=1, ignore=())
    loss = chunked_linear_cross_entropy(
        hidden[0], weight, targets[0], bias=bias
    )
    expected = F.cross_entropy(hidden[0] @ weight.T + bias, targets[0])
    assert_close(loss, expected)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_int32_targets_and_other_ignore_index(reduction):
    hidden, weight, bias, targets = make_problem(ignore=())
    targets[[1, 4]] = 3
    targets32 = targets.to(torch.int32)
    loss = chunked_linear_cross_entropy(
        hidden,
        weight,
        targets32,
        bias=bias,
        ignore_index=3,
        reduction=reduction,
    )
    expected = reference(
        hidden, weight, bias, targets, reduction=reduction, ignore_index=3
    )
    assert_close(loss, expected)


@pytest.mark.parametrize("with_bias", [True, False])
def test_only_some_inputs_need_gradients(with_bias):
    """A frozen output layer (weight, bias without requires_grad) still gives
    the right hidden grad."""
    hidden, weight, bias, targets = make_problem(bias=with_bias, seed=5)
    weight = weight.detach()
    bias = None if bias is None else bias.detach()
    loss = chunked_linear_cross_entropy(
        hidden, weight, targets, bias=bias, chunk_size=3
    )
    (g_hidden,) = torch.autograd.grad(loss, hidden)
    (e_hidden,) = torch.autograd.grad(
        reference(hidden, weight, bias, targets), hidden
    )
    assert_close(g_hidden, e_hidden)
    # and the other way round: frozen hidden states, trainable layer
    hidden2 = hidden.detach()
    w2 = weight.clone().requires_grad_()
    loss = chunked_linear_cross_entropy(
        hidden2, w2, targets, bias=bias, chunk_size=3, reduction="none"
    )
    (g_w,) = torch.autograd.grad(loss.sum(), w2)
    (e_w,) = torch.autograd.grad(
        reference(hidden2, w2, bias, targets, reduction="none").sum(), w2
    )
    assert_close(g_w, e_w)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_without_gradients_gives_the_same_loss(reduction):
    hidden, weight, bias, targets = make_problem(seed=6)
    with torch.no_grad():
        loss = chunked_linear_cross_entropy(
            hidden,
            weight,
            targets,
            bias=bias,
            chunk_size=4,
            reduction=reduction,
        )
        expected = reference(
            hidden, weight, bias, targets, reduction=reduction
        )
    assert not loss.requires_grad
    assert_close(loss, expected)


# -----------------------------------------------------------------------------
# Edge cases: all tokens ignored, no tokens at all, extreme logits


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_all_tokens_ignored(reduction):
    """PyTorch: mean over zero tokens is nan, sum is 0, none is all zeros; the
    gradients are 0."""
    hidden, weight, bias, targets = make_problem(n=6, ignore=range(6))
    loss = chunked_linear_cross_entropy(
        hidden, weight, targets, bias=bias, chunk_size=4, reduction=reduction
    )
    expected = reference(hidden, weight, bias, targets, reduction=reduction)
    if reduction == "mean":
        assert math.isnan(loss.item()) and math.isnan(expected.item())
    else:
        assert torch.equal(loss, torch.zeros_like(loss))
    for a in grads(loss.sum(), (hidden, weight, bias)):
        assert torch.equal(a, torch.zeros_like(a))


@pytest.mark.parametrize(
    "reduction, value", [("mean", math.nan), ("sum", 0.0)]
)
def test_no_tokens(reduction, value):
    hidden, weight, bias, targets = make_problem(n=0)
    loss = chunked_linear_cross_entropy(
        hidden, weight, targets, bias=bias, reduction=reduction
    )
    expected = reference(hidden, weight, bias, targets, reduction=reduction)
    assert_close(loss, torch.tensor(value, dtype=F64))
    assert_close(loss, expected)


def test_large_logits_do_not_overflow():
    """Logits around 1e4 overflow exp() in float64; the max is factored out as
    in F.cross_entropy."""
    hidden, weight, bias, targets = make_problem(seed=7, scale=3000.0)
    loss = chunked_linear_cross_entropy(
        hidden, weight, targets, bias=bias, chunk_size=3, reduction="none"
    )
    expected = reference(hidden, weight, bias, targets, reduction="none")
    assert (hidden @ weight.T).abs().max() > 1000  # exp(1000) = inf
    assert torch.isfinite(loss).all()
    assert_close(loss, expected)


# -----------------------------------------------------------------------------
# Properties


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 12),
    v=st.integers(1, 9),
    chunk=st.integers(1, 14),
    seed=st.integers(0, 2**16),
    reduction=st.sampled_from(["mean", "sum", "none"]),
)
def test_property_chunking_changes_nothing(n, v, chunk, seed, reduction):
    hidden, weight, bias, targets = make_problem(
        n=n, h=3, v=v, ignore=(0,), seed=seed
    )
    loss = chunked_linear_cross_entropy(
        hidden,
        weight,
        targets,
        bias=bias,
        chunk_size=chunk,
        reduction=reduction,
    )
    assert_close(
        loss, reference(hidden, weight, bias, targets, reduction=reduction)
    )
    _g_hidden, g_weight, g_bias = grads(loss.sum(), (hidden, weight, bias))
    # Each row of softmax - onehot sums to zero, so the bias and weight
    # gradients sum to zero over the vocabulary.
    scale = max(1.0, g_bias.abs().max().item())
    assert abs(g_bias.sum().item()) <= 1e-13 * v * scale
    assert g_weight.sum(0).abs().max().item() <= 1e-13 * v * max(
        1.0, g_weight.abs().max().item()
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradcheck(reduction):
    hidden, weight, bias, targets = make_problem(
        n=4, h=3, v=5, ignore=(1,), seed=8
    )

    def f(h, w, b):
        return chunked_linear_cross_entropy(
            h, w, targets, bias=b, chunk_size=3, reduction=reduction
        )

    assert torch.autograd.gradcheck(f, (hidden, weight, bias))


def test_bfloat16_within_rounding_of_float64():
    """bfloat16 inputs: the logits come out of a bfloat16 matrix product, with
    an error e_ij that this test measures (the same addmm); everything after it
    is float32. So each token's loss moves by at most d_i = 2 max_j e_ij
    (log-softmax moves by twice the logits' error) and each probability by a
    relative expm1(d_i); g = c (p - y) then moves by that times c p;
    grad_weight = sum_i g_i h_i (float32, one final rounding of 2^-8),
    grad_hidden = g_low @ W (g rounded to bfloat16 first, then one rounding).
    Anything the function added to the logits' own error would break these."""
    hidden, weight, bias, targets = make_problem(
        n=40, h=16, v=50, seed=9, dtype=torch.bfloat16
    )
    loss = chunked_linear_cross_entropy(
        hidden, weight, targets, bias=bias, chunk_size=7
    )
    assert loss.dtype == torch.bfloat16
    h64, w64, b64 = (
        x.detach().double().requires_grad_() for x in (hidden, weight, bias)
    )
    exact = reference(h64, w64, b64, targets)
    e_hidden, e_weight, e_bias = grads(exact, (h64, w64, b64))  # float64
    h64, w64 = h64.detach(), w64.detach()
    z = h64 @ w64.T + b64.detach()
    with torch.no_grad():
        e = (torch.addmm(bias, hidden, weight.t()).double() - z).abs()
    d = 2 * e.amax(dim=1)
    valid = targets != -100
    c = valid.double() / valid.sum()
    u = (
        2**-8
    )  # bfloat16's unit roundoff (8 significant bits): half an ulp, relative
    err = abs(loss.double().item() - exact.item())
    assert err <= (c * d).sum().item() + u * abs(loss.double().item())
    g_hidden, g_weight, g_bias = grads(loss, (hidden, weight, bias))
    assert g_hidden.dtype == g_weight.dtype == g_bias.dtype == torch.bfloat16
    p = torch.softmax(z, dim=-1)
    g = c[:, None] * (
        p - F.one_hot(torch.where(valid, targets, 0), 50).double()
    )
    dg = (
        (1.01 * torch.expm1(d) + 1e-6)[:, None] * c[:, None] * p
    )  # + float32 rounding of p
    bound_b = dg.sum(0) + u * g_bias.double().abs()
    assert ((g_bias.double() - e_bias).abs() <= bound_b).all()
    bound_w = dg.T @ h64.abs() + u * g_weight.double().abs()
    assert ((g_weight.double() - e_weight).abs() <= bound_w).all()
    bound_h = (dg + u * g.abs()) @ w64.abs() + u * g_hidden.double().abs()
    assert ((g_hidden.double() - e_hidden).abs() <= bound_h).all()


def test_bfloat16_weight_gradient_accumulates_in_float32():
    """Each chunk's g.T @ h is added to a float32 accumulator as a float32
    product, so the bfloat16 weight gradient does not depend on the chunking
    beyond float32 rounding and the final rounding to bfloat16: chunks of 1
    token and one chunk of 256 agree to 1 bfloat16 ulp. (Rounding every chunk's
    product to bfloat16 before adding it, 256 roundings of 2^-9, would not.)"""
    hidden, weight, bias, targets = make_problem(
        n=256, h=8, v=16, seed=14, dtype=torch.bfloat16
    )
    by_one = grads(
        chunked_linear_cross_entropy(
            hidden, weight, targets, bias=bias, chunk_size=1
        ),
        (hidden, weight, bias),
    )
    at_once = grads(
        chunked_linear_cross_entropy(
            hidden, weight, targets, bias=bias, chunk_size=256
        ),
        (hidden, weight, bias),
    )
    for a, b in zip(by_one[1:], at_once[1:], strict=True):
        ulp = 2**-7 * torch.maximum(a.double().abs(), b.double().abs())
        assert ((a.double() - b.double()).abs() <= ulp).all()
    # hidden's gradient rows are computed once each: identical
    assert torch.equal(by_one[0], at_once[0])


def test_float32_close_to_float64():
    """float32 loss within a few ulps (times max|z|) of the float64 loss on the
    same inputs."""
    hidden, weight, bias, targets = make_problem(
        n=50, h=32, v=100, seed=10, dtype=torch.float32
    )
    loss = chunked_linear_cross_entropy(
        hidden, weight, targets, bias=bias, chunk_size=8
    )
    exact = reference(hidden.double(), weight.double(), bias.double(), targets)
    zmax = (
        (hidden.double() @ weight.double().T + bias.double())
        .abs()
        .max()
        .item()
    )
    eps = torch.finfo(torch.float32).eps
    assert abs(loss.item() - exact.item()) <= 32 * eps * (zmax + exact.item())


class LargestTensor(torch.overrides.TorchFunctionMode):
    """Records the largest tensor returned by any torch function called from
    Python."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for o in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(o, torch.Tensor):
                self.largest = max(self.largest, o.numel())
        return out


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_never_materialises_the_logits(reduction):
    """N = 96 tokens, V = 50 classes, H = 4, chunks of 16: no tensor bigger
    than a chunk's logits (16 x 50 = 800 numbers) or the gradient of the weight
    (50 x 4) or of hidden (96 x 4); the naive computation makes a 96 x 50 =
    4800 one."""
    hidden, weight, bias, targets = make_problem(n=96, h=4, v=50, seed=12)
    with LargestTensor() as mode:
        loss = chunked_linear_cross_entropy(
            hidden,
            weight,
            targets,
            bias=bias,
            chunk_size=16,
            reduction=reduction,
        )
        loss.sum().backward()
    assert mode.largest == 16 * 50
    with LargestTensor() as naive:
        reference(
            hidden, weight, bias, targets, reduction=reduction
        ).sum().backward()
    assert naive.largest == 96 * 50


# -----------------------------------------------------------------------------
# The default chunk size


@pytest.mark.parametrize(
    "n, v, dtype, device, expected",
    [
        (
            4096,
            32000,
            torch.float32,
            "cpu",
            192,
        ),  # 24 MiB / (32000 * 4 B) = 196.6 -> 192
        (
            4096,
            32000,
            torch.float64,
            "cpu",
            96,
        ),  # 24 MiB / (32000 * 8 B) = 98.3 -> 96
        (4096, 32000, torch.bfloat16, "cpu", 192),  # logits held in float32
        (
            16384,
            128256,
            torch.bfloat16,
            "cuda",
            520,
        ),  # 256 MiB / (128256 * 4 B) = 523.2 -> 520
        (10, 32000, torch.float32, "cpu", 10),  # never more than N
        (0, 32000, torch.float32, "cpu", 1),  # never less than 1
        (4096, 10**7, torch.float32, "cpu", 1),  # 0.63 -> 1
        (
            4096,
            10**6,
            torch.float32,
            "cpu",
            6,
        ),  # 6.29 -> 6, not rounded to a multiple of 8
        (4096, 600000, torch.float32, "cpu", 8),  # 10.5 -> 10 -> 8
    ],
)
def test_default_chunk_size(n, v, dtype, device, expected):
    assert default_chunk_size(n, v, dtype, device) == expected


# -----------------------------------------------------------------------------
# Bad input


def bad_call(**overrides):
    hidden, weight, bias, targets = make_problem()
    kwargs = dict(hidden=hidden, weight=weight, targets=targets, bias=bias)
    kwargs.update(overrides)
    return chunked_linear_cross_entropy(
        kwargs.pop("hidden"),
        kwargs.pop("weight"),
        kwargs.pop("targets"),
        **kwargs,
    )


@pytest.mark.parametrize(
    "overrides, error, message",
    [
        (
            dict(hidden=[[1.0, 2.0]]),
            TypeError,
            "hidden: expected a torch.Tensor, got list",
        ),
        (
            dict(hidden=torch.ones(10, 5, dtype=torch.long)),
            TypeError,
            "hidden: expected a floating-point tensor",
        ),
        (
            dict(hidden=torch.tensor(1.0, dtype=F64)),
            ValueError,
            "hidden: expected shape (N, H) or (..., H), got a scalar",
        ),
        (
            dict(weight=torch.ones(7, 5).numpy()),
            TypeError,
            "weight: expected a torch.Tensor, got ndarray",
        ),
        (
            dict(weight=torch.ones(7, 5)),
            TypeError,
            "weight: expected dtype torch.float64 (the dtype of hidden), got "
            "torch.float32",
        ),
        (
            dict(weight=torch.ones(7, 4, dtype=F64)),
            ValueError,
            "weight: expected shape (V, 5) with V >= 1",
        ),
        (dict(weight=torch.ones(0, 5, dtype=F64)), ValueError, "got (0, 5)"),
        (
            dict(weight=torch.ones(7, 5, 1, dtype=F64)),
            ValueError,
            "weight: expected shape (V, 5)",
        ),
        (
            dict(bias=torch.ones(6, dtype=F64)),
            ValueError,
            "bias: expected shape (7,) (one per row of weight), got (6,)",
        ),
        (
            dict(bias=torch.ones(7)),
            TypeError,
            "bias: expected dtype torch.float64",
        ),
        (
            dict(bias=[0.0] * 7),
            TypeError,
            "bias: expected a torch.Tensor, got list",
        ),
        (
            dict(targets=[0] * 10),
            TypeError,
            "targets: expected a torch.Tensor, got list",
        ),
        (
            dict(targets=torch.zeros(10)),
            TypeError,
            "targets: expected integer class indices, got dtype torch.float32",
        ),
        (
            dict(targets=torch.zeros(10, dtype=torch.bool)),
            TypeError,
            "targets: expected integer class indices, got dtype torch.bool",
        ),
        (
            dict(targets=torch.zeros(9, dtype=torch.long)),
            ValueError,
            "targets: expected shape (10,) (hidden without its last axis), "
            "got (9,)",
        ),
        (
            dict(targets=torch.tensor([7] + [0] * 9)),
            ValueError,
            "targets: class index 7 out of range for 7 classes (expected "
            "0..6 or ignore_index=-100)",
        ),
        (
            dict(targets=torch.tensor([0, -1] + [0] * 8)),
            ValueError,
            "targets: negative class index -1 out of range for 7 classes",
        ),
        (
            dict(chunk_size=0),
            ValueError,
            "chunk_size: expected None or a positive integer, got 0",
        ),
        (
            dict(chunk_size=2.0),
            TypeError,
            "chunk_size: expected None or a positive integer, got 2.0",
        ),
        (dict(chunk_size=True), TypeError, "chunk_size"),
        (
            dict(reduction="avg"),
            ValueError,
            "reduction: expected one of 'mean', 'sum', 'none', got 'avg'",
        ),
        (
            dict(ignore_index=-100.0),
            TypeError,
            "ignore_index: expected an integer, got -100.0",
        ),
        (
            dict(label_smoothing=-0.1),
            ValueError,
            "label_smoothing: expected a number in [0, 1], got -0.1",
        ),
        (
            dict(label_smoothing=1.5),
            ValueError,
            "label_smoothing: expected a number in [0, 1], got 1.5",
        ),
        (
            dict(label_smoothing="0.1"),
            TypeError,
            "label_smoothing: expected a number in [0, 1], got '0.1'",
        ),
        (
            dict(softcap=0.0),
            ValueError,
            "softcap: expected a finite number > 0, got 0.0",
        ),
        (
            dict(softcap=-30.0),
            ValueError,
            "softcap: expected a finite number > 0, got -30.0",
        ),
        (
            dict(softcap=math.inf),
            ValueError,
            "softcap: expected a finite number > 0, got inf",
        ),
        (
            dict(softcap="30"),
            TypeError,
            "softcap: expected a finite number > 0, got '30'",
        ),
        (
            dict(z_loss=-1e-4),
            ValueError,
            "z_loss: expected a finite number >= 0, got -0.0001",
        ),
        (
            dict(z_loss=math.nan),
            ValueError,
            "z_loss: expected a finite number >= 0, got nan",
        ),
        (
            dict(z_loss=None),
            TypeError,
            "z_loss: expected a finite number >= 0, got None",
        ),
        (
            dict(validate="no"),
            TypeError,
            "validate: expected True or False, got 'no'",
        ),
        (
            dict(targets=torch.full((10,), -1), ignore_index=-1),
            None,
            None,
        ),  # valid: all ignored
    ],
)
def test_bad_input(overrides, error, message):
    if error is None:
        assert math.isnan(bad_call(**overrides).item())
        return
    with pytest.raises(error) as info:
        bad_call(**overrides)
    assert message in str(info.value)


def test_wrong_device_is_refused():
    hidden, _weight, _bias, targets = make_problem()
    meta = torch.empty(7, 5, dtype=F64, device="meta")
    with pytest.raises(
        ValueError,
        match=r"weight: expected device cpu \(the device of hidden\)",
    ):
        chunked_linear_cross_entropy(hidden, meta, targets)


# -----------------------------------------------------------------------------
# CUDA


@pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device"
)
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_cuda_matches_cpu_and_saves_memory(reduction):
    hidden, weight, bias, targets = make_problem(
        n=1024, h=64, v=4096, seed=11, device="cuda"
    )
    chunk = 128
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    loss = chunked_linear_cross_entropy(
        hidden,
        weight,
        targets,
        bias=bias,
        chunk_size=chunk,
        reduction=reduction,
    )
    got = grads(loss.sum(), (hidden, weight, bias))
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() - base
    logits_bytes = 1024 * 4096 * 8
    # the gradients (as large as the inputs) plus a few chunks of logits, far
    # below one (N, V) tensor
    assert peak < logits_bytes / 4
    expected = reference(hidden, weight, bias, targets, reduction=reduction)
    assert_close(loss, expected)
    for a, e in zip(
        got, grads(expected.sum(), (hidden, weight, bias)), strict=True
    ):
        assert a.device.type == "cuda"
        assert_close(a, e)


# -----------------------------------------------------------------------------
# Options: label smoothing, soft-capping, z-loss; alone and combined, every
# reduction, with ignored tokens and a chunk size that does not divide N. The
# naive computation is `reference` above (F.cross_entropy with its own
# label_smoothing and reductions, the soft-cap and the z-loss written out), in
# float64: rtol 1e-12 as for the plain loss.

OPTIONS = [
    dict(label_smoothing=0.1),
    dict(label_smoothing=1.0),
    dict(softcap=2.0),
    dict(z_loss=0.05),
    dict(label_smoothing=0.2, softcap=1.5),
    dict(label_smoothing=0.1, z_loss=0.05),
    dict(softcap=2.0, z_loss=0.05),
    dict(label_smoothing=0.1, softcap=2.0, z_loss=0.05),
]


@pytest.mark.parametrize(
    "options",
    OPTIONS,
    ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()),
)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("with_bias", [True, False])
def test_options_match_the_naive_computation(options, reduction, with_bias):
    hidden, weight, bias, targets = make_problem(
        n=11, v=9, bias=with_bias, seed=20, scale=2.0
    )
    loss = chunked_linear_cross_entropy(
        hidden,
        weight,
        targets,
        bias=bias,
        chunk_size=4,
        reduction=reduction,
        **options,
    )
    expected = reference(
        hidden, weight, bias, targets, reduction=reduction, **options
    )
    assert loss.shape == expected.shape
    assert_close(loss, expected)
    g = torch.Generator().manual_seed(2)
    upstream = (
        torch.randn(expected.shape, generator=g, dtype=F64)
        if reduction == "none"
        else torch.tensor(0.7, dtype=F64)
    )
    params = (hidden, weight, bias)
    for a, e in zip(
        grads(loss, params, upstream),
        grads(expected, params, upstream),
        strict=True,
    ):
        assert_close(a, e)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_options_with_another_ignore_index_and_leading_axes(reduction):
    hidden, weight, bias, targets = make_problem(n=12, seed=21, ignore=())
    targets[[0, 5, 6]] = 4
    h3, t3 = hidden.reshape(3, 4, -1), targets.reshape(3, 4)
    options = dict(
        label_smoothing=0.15, softcap=2.5, z_loss=0.02, ignore_index=4
    )
    loss = chunked_linear_cross_entropy(
        h3, weight, t3, bias=bias, chunk_size=5, reduction=reduction, **options
    )
    expected = reference(h3, weight, bias, t3, reduction=reduction, **options)
    assert_close(loss, expected)
    params = (hidden, weight, bias)
    for a, e in zip(
        grads(loss.sum(), params), grads(expected.sum(), params), strict=True
    ):
        assert_close(a, e)


def test_option_formulas_by_hand():
    """Values that do not rely on F.cross_entropy: label_smoothing=1 is log Z -
    mean(z) whatever the target; z_loss adds lambda * (log Z)^2; a huge
    soft-cap changes nothing; a tiny one makes the logits almost equal, so the
    loss tends to log V."""
    hidden, weight, bias, targets = make_problem(n=6, v=7, seed=22, ignore=())
    z = hidden @ weight.T + bias
    lse = torch.logsumexp(z, dim=-1)
    one = chunked_linear_cross_entropy(
        hidden,
        weight,
        targets,
        bias=bias,
        label_smoothing=1.0,
        reduction="none",
    )
    assert_close(one, lse - z.mean(dim=-1))
    plain = chunked_linear_cross_entropy(
        hidden, weight, targets, bias=bias, reduction="none"
    )
    with_z = chunked_linear_cross_entropy(
        hidden, weight, targets, bias=bias, z_loss=0.3, reduction="none"
    )
    assert_close(with_z - plain, 0.3 * lse**2)
    big = chunked_linear_cross_entropy(
        hidden, weight, targets, bias=bias, softcap=1e8, reduction="none"
    )
    assert_close(big, plain)
    tiny = chunked_linear_cross_entropy(
        hidden, weight, targets, bias=bias, softcap=1e-9, reduction="none"
    )
    assert (
        (tiny - math.log(7)).abs() <= 2e-9
    ).all()  # |z| <= c: |loss - log V| <= 2c


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradcheck_with_options(reduction):
    hidden, weight, bias, targets = make_problem(
        n=4, h=3, v=5, ignore=(1,), seed=23
    )

    def f(h, w, b):
        return chunked_linear_cross_entropy(
            h,
            w,
            targets,
            bias=b,
            chunk_size=3,
            reduction=reduction,
            label_smoothing=0.1,
            softcap=1.5,
            z_loss=0.1,
        )

    assert torch.autograd.gradcheck(f, (hidden, weight, bias))


@pytest.mark.parametrize(
    "options", [{}, dict(label_smoothing=0.1, softcap=2.0, z_loss=1e-4)]
)
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_options_never_materialise_the_logits(options, reduction):
    """The soft-cap's tanh buffer is one more chunk-sized tensor, not a bigger
    one."""
    hidden, weight, bias, targets = make_problem(n=96, h=4, v=50, seed=12)
    with LargestTensor() as mode:
        loss = chunked_linear_cross_entropy(
            hidden,
            weight,
            targets,
            bias=bias,
            chunk_size=16,
            reduction=reduction,
            **options,
        )
        loss.sum().backward()
    assert mode.largest == 16 * 50


# -----------------------------------------------------------------------------
# Autocast: float32 master weights, products in bfloat16


def autocast_problem(seed=30, hidden_dtype=torch.float32):
    hidden, weight, bias, targets = make_problem(
        n=48, h=16, v=40, seed=seed, dtype=torch.float32
    )
    hidden = hidden.detach().to(hidden_dtype).requires_grad_()
    return hidden, weight, bias, targets


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("hidden_dtype", [torch.float32, torch.bfloat16])
def test_autocast_with_float32_weights(reduction, hidden_dtype):
    """Under torch.autocast(bfloat16): no dtype error; the loss in float32 like
    autocast's F.cross_entropy, and equal, within float32 rounding, to the
    naive computation under the same autocast (both round the same bfloat16
    product); gradients in each input's dtype. The products are those of
    bfloat16 inputs: rounded to bfloat16, the loss and every gradient are
    *exactly* those of the same call on inputs cast to bfloat16 (whose accuracy
    against float64 is tested above); the float32 gradients are that
    computation before its final rounding."""
    hidden, weight, bias, targets = autocast_problem(hidden_dtype=hidden_dtype)
    options = dict(
        label_smoothing=0.1, z_loss=1e-3, chunk_size=7, reduction=reduction
    )
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = chunked_linear_cross_entropy(
            hidden, weight, targets, bias=bias, **options
        )
        logits = F.linear(hidden, weight, bias)
        assert logits.dtype == torch.bfloat16
        expected = reference_from_logits(
            logits.float(),
            targets,
            reduction=reduction,
            label_smoothing=0.1,
            z_loss=1e-3,
        )
    assert loss.dtype == torch.float32 and expected.dtype == torch.float32
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)
    params = (hidden, weight, bias)
    got = grads(loss.sum(), params)
    assert [g.dtype for g in got] == [
        hidden_dtype,
        torch.float32,
        torch.float32,
    ]
    low = [x.detach().bfloat16().requires_grad_() for x in params]
    low_loss = chunked_linear_cross_entropy(
        low[0], low[1], targets, bias=low[2], **options
    )
    assert torch.equal(loss.bfloat16(), low_loss)
    for a, e in zip(got, grads(low_loss.sum(), low), strict=True):
        assert torch.equal(a.bfloat16(), e)


def reference_from_logits(
    logits, targets, *, reduction="mean", label_smoothing=0.0, z_loss=0.0
):
    loss = F.cross_entropy(
        logits, targets, reduction=reduction, label_smoothing=label_smoothing
    )
    valid = targets != -100
    lse2 = torch.logsumexp(logits, dim=-1) ** 2
    if reduction == "none":
        return loss + z_loss * torch.where(valid, lse2, 0.0)
    if reduction == "sum":
        return loss + z_loss * lse2[valid].sum()
    return loss + z_loss * lse2[valid].mean()


def test_autocast_weight_gradient_keeps_float32_digits():
    """The float32 weight receives the float32 accumulator itself: most of its
    entries are not bfloat16 numbers (a gradient rounded to bfloat16 and cast
    back would be), and it is closer to the float64 gradient of the same
    bfloat16 products than the naive autocast gradient is."""
    hidden, weight, bias, targets = autocast_problem(seed=31)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = chunked_linear_cross_entropy(
            hidden, weight, targets, bias=bias, chunk_size=5
        )
        naive = F.cross_entropy(F.linear(hidden, weight, bias), targets)
    (g_w,) = torch.autograd.grad(loss, weight)
    (n_w,) = torch.autograd.grad(naive, weight)
    assert torch.equal(n_w, n_w.bfloat16().float())  # the naive one is rounded
    assert (g_w != g_w.bfloat16().float()).float().mean() > 0.9
    # float64 oracle on the same bfloat16-rounded inputs of the products
    hb, wb, bb = (
        x.detach().bfloat16().double().requires_grad_()
        for x in (hidden, weight, bias)
    )
    (e_w,) = torch.autograd.grad(reference(hb, wb, bb, targets), wb)
    assert (g_w.double() - e_w).abs().max() < (n_w.double() - e_w).abs().max()


def test_autocast_float64_is_left_alone():
    hidden, weight, bias, targets = make_problem(seed=32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = chunked_linear_cross_entropy(
            hidden, weight, targets, bias=bias, chunk_size=3
        )
    assert loss.dtype == F64
    assert_close(loss, reference(hidden, weight, bias, targets))


def test_mixed_dtypes_outside_autocast_are_refused():
    hidden, weight, _bias, targets = autocast_problem(
        hidden_dtype=torch.bfloat16
    )
    with pytest.raises(
        TypeError,
        match=r"weight: expected dtype torch.bfloat16 \(the dtype of hidden\)",
    ):
        chunked_linear_cross_entropy(hidden, weight, targets)


# -----------------------------------------------------------------------------
# validate=False and torch.compile(fullgraph=True)


def test_validate_false_skips_only_the_range_check():
    hidden, weight, bias, targets = make_problem(seed=33)
    a = chunked_linear_cross_entropy(
        hidden, weight, targets, bias=bias, validate=False
    )
    assert_close(a, reference(hidden, weight, bias, targets))
    bad = targets.clone()
    bad[0] = 7
    with pytest.raises(ValueError, match="class index 7 out of range"):
        chunked_linear_cross_entropy(hidden, weight, bad, bias=bias)
    with pytest.raises(
        RuntimeError
    ):  # no ValueError: gather's own index check on a CPU
        chunked_linear_cross_entropy(
            hidden, weight, bad, bias=bias, validate=False
        )
    with pytest.raises(
        ValueError, match="targets: expected shape"
    ):  # static checks stay
        chunked_linear_cross_entropy(
            hidden, weight, bad[:5], bias=bias, validate=False
        )


COMPILE_BACKEND = os.environ.get("XENT_TEST_COMPILE_BACKEND", "aot_eager")


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_compiles_with_fullgraph(reduction):
    """validate=False: one graph, forward and backward (aot_eager traces the
    autograd graph as inductor does, without compiling C++;
    XENT_TEST_COMPILE_BACKEND=inductor runs the real thing, about two minutes
    here). Same values and gradients as eager."""
    torch._dynamo.reset()
    hidden, weight, bias, targets = make_problem(n=20, h=8, v=30, seed=34)
    options = dict(
        chunk_size=7,
        reduction=reduction,
        label_smoothing=0.1,
        softcap=5.0,
        z_loss=1e-3,
    )

    def f(h, w, t, b):
        return chunked_linear_cross_entropy(
            h, w, t, bias=b, validate=False, **options
        )

    compiled = torch.compile(f, fullgraph=True, backend=COMPILE_BACKEND)
    loss = compiled(hidden, weight, targets, bias)
    expected = f(hidden, weight, targets, bias)
    assert_close(loss, expected)
    params = (hidden, weight, bias)
    upstream = (
        torch.ones_like(expected)
        if reduction == "none"
        else torch.tensor(1.5, dtype=F64)
    )
    for a, e in zip(
        grads(loss, params, upstream),
        grads(expected, params, upstream),
        strict=True,
    ):
        assert_close(a, e)


def test_validation_breaks_fullgraph():
    """Why validate=False exists: the range check reads the targets' values."""
    torch._dynamo.reset()
    hidden, weight, _bias, targets = make_problem(n=20, h=8, v=30, seed=35)

    def f(h, w, t):
        return chunked_linear_cross_entropy(h, w, t, chunk_size=7)

    with pytest.raises(
        torch._dynamo.exc.TorchDynamoException, match="data-dependent"
    ):
        torch.compile(f, fullgraph=True, backend="eager")(
            hidden, weight, targets
        )

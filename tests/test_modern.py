"""Tests of xent/modern.py: perplexity, bits per token, next-token loss,
InfoNCE, policy gradient.

Oracles are PyTorch (F.cross_entropy on shifted logits, a CLIP loss written in
torch, autograd for the policy gradient). Every function computes in float64
and rounds once; against torch in float64 the differences are summation-order
rounding, a few ulps: rtol 1e-13 keeps a margin of about 100.
"""

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import xent
from xent.modern import (
    bits_per_token,
    info_nce,
    next_token_cross_entropy,
    perplexity,
    policy_gradient_loss,
)

torch = pytest.importorskip("torch")
F = torch.nn.functional

RTOL = 1e-13


def t(x):
    return torch.from_numpy(np.asarray(x))


# -----------------------------------------------------------------------------
# perplexity and bits per token


@pytest.mark.parametrize("vocab", [1, 2, 50, 50257])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_perplexity_of_uniform_logits_is_the_vocabulary_size(vocab, dtype):
    """CE = log V, exp(log V) = V: exact up to the rounding of log V (relative
    error <= eps * log V)."""
    logits = np.full((4, vocab), 3.25, dtype=dtype)
    targets = np.array([0, vocab - 1, vocab // 2, -100])
    ppl = perplexity(logits, targets)
    assert ppl.dtype == dtype
    eps = np.finfo(dtype).eps
    assert abs(float(ppl) - vocab) <= 4 * eps * (1 + math.log(vocab)) * vocab


def test_perplexity_fixed_value():
    """p(y) = 1/2 and 1/4: exp((log 2 + log 4) / 2) = sqrt(8)."""
    logits = np.log([[0.5, 0.25, 0.25], [0.25, 0.5, 0.25], [0.1, 0.1, 0.8]])
    assert perplexity(logits, np.array([0, 2, -100])) == pytest.approx(
        math.sqrt(8), rel=RTOL
    )
    assert perplexity(
        logits, np.array([0, 2, 1]), ignore_index=1
    ) == pytest.approx(math.sqrt(8), rel=RTOL)


@pytest.mark.parametrize("shape", [(7,), (3, 5)])
def test_perplexity_and_bits_against_torch(rng, shape):
    logits = rng.standard_normal((*shape, 11)) * 2
    targets = rng.integers(0, 11, shape)
    targets.reshape(-1)[::3] = -100
    ce = F.cross_entropy(
        t(logits).reshape(-1, 11), t(targets).reshape(-1)
    ).item()
    assert float(perplexity(logits, targets)) == pytest.approx(
        math.exp(ce), rel=RTOL
    )
    assert float(bits_per_token(logits, targets)) == pytest.approx(
        ce / math.log(2), rel=RTOL
    )


@pytest.mark.parametrize("k", [1, 3, 8, 16])
def test_bits_per_token_of_uniform_logits(k):
    """Uniform over 2^k symbols: exactly k bits (log(2^k) / log 2, up to an ulp
    or two)."""
    bits = bits_per_token(np.zeros((3, 2**k)), np.array([0, 1, 0]))
    assert bits == pytest.approx(k, rel=4e-16)


def test_bits_fixed_value():
    logits = np.log([[0.5, 0.25, 0.25], [0.25, 0.5, 0.25]])
    assert bits_per_token(logits, np.array([0, 2])) == pytest.approx(
        1.5, rel=RTOL
    )  # (1 + 2) / 2


@given(
    logits=arrays(np.float64, (6, 5), elements=st.floats(-30, 30)),
    targets=arrays(np.int64, (6,), elements=st.integers(0, 4)),
    shift=st.floats(-100, 100),
)
def test_property_perplexity(logits, targets, shift):
    ppl = float(perplexity(logits, targets))
    bits = float(bits_per_token(logits, targets))
    assert ppl >= 1.0  # cross-entropy >= 0
    assert bits == pytest.approx(
        math.log2(ppl), rel=1e-12, abs=1e-15
    )  # bpt = log2(PPL)
    # softmax is shift invariant per row, so is every metric of it
    shifted = logits + shift
    assert float(perplexity(shifted, targets)) == pytest.approx(ppl, rel=1e-11)


def test_perplexity_special_values():
    assert math.isnan(perplexity(np.zeros((2, 3)), np.array([-100, -100])))
    assert math.isnan(bits_per_token(np.zeros((2, 3)), np.array([-100, -100])))
    # CE = 1000 nats: the perplexity overflows to inf, without a warning
    # (RuntimeWarnings are errors)
    assert perplexity(np.array([[0.0, 1000.0]]), np.array([0])) == np.inf
    # float32: exp(100) = 2.7e43 > float32 max
    p32 = perplexity(np.array([[0.0, 100.0]], dtype=np.float32), np.array([0]))
    assert p32.dtype == np.float32 and p32 == np.inf
    # integer logits are promoted to float64
    assert (
        perplexity(np.zeros((1, 4), dtype=np.int64), np.array([2])).dtype
        == np.float64
    )


@pytest.mark.parametrize("fn", [perplexity, bits_per_token])
@pytest.mark.parametrize(
    "logits, targets, kwargs, error, message",
    [
        (
            np.zeros((2, 3)),
            np.array([0, 3]),
            {},
            ValueError,
            "targets: class index 3 out of range for 3 classes (expected "
            "0..2 or ignore_index=-100)",
        ),
        (
            np.zeros((2, 3)),
            np.array([0.0, 1.0]),
            {},
            TypeError,
            "targets: expected integer class indices, got dtype float64",
        ),
        (
            np.zeros((2, 3)),
            np.array([0, 1, 2]),
            {},
            ValueError,
            "targets: expected shape (2,) (logits without the class axis), "
            "got (3,)",
        ),
        (
            np.float64(1.0),
            np.array(0),
            {},
            ValueError,
            "logits: expected an array with a class axis",
        ),
        (
            np.array([["a", "b"]]),
            np.array([0]),
            {},
            TypeError,
            "logits: expected real numbers",
        ),
        (
            np.zeros((2, 3)),
            np.array([0, 1]),
            dict(ignore_index=1.5),
            TypeError,
            "ignore_index: expected an integer, got 1.5",
        ),
    ],
)
def test_metrics_bad_input(fn, logits, targets, kwargs, error, message):
    with pytest.raises(error) as info:
        fn(logits, targets, **kwargs)
    assert message in str(info.value)


# -----------------------------------------------------------------------------
# next-token cross-entropy


def torch_next_token(logits, tokens, ignore_index=-100):
    v = logits.shape[-1]
    shifted = t(logits)[..., :-1, :].reshape(-1, v)
    targets = t(tokens)[..., 1:].reshape(-1)
    return F.cross_entropy(shifted, targets, ignore_index=ignore_index).item()


@pytest.mark.parametrize("shape", [(6,), (3, 6), (2, 2, 5)])
@pytest.mark.parametrize("ignore_index", [-100, 0])
def test_next_token_against_torch_on_shifted_logits(rng, shape, ignore_index):
    logits = rng.standard_normal((*shape, 9)) * 3
    tokens = rng.integers(0, 9, shape)
    if ignore_index == -100:
        tokens.reshape(-1)[
            ::4
        ] = -100  # padding, also at position 0 (never a target)
    got = next_token_cross_entropy(logits, tokens, ignore_index=ignore_index)
    assert float(got) == pytest.approx(
        torch_next_token(logits, tokens, ignore_index), rel=RTOL
    )


def test_next_token_fixed_value():
    """Position 0 predicts x_1 = 0 with p = 0.1, position 1 predicts x_2 = 3
    with p = 0.7."""
    logits = np.log(
        [[0.1, 0.1, 0.1, 0.7], [0.1, 0.1, 0.1, 0.7], [0.25, 0.25, 0.25, 0.25]]
    )
    got = next_token_cross_entropy(logits, np.array([2, 0, 3]))
    assert got == pytest.approx((-math.log(0.1) - math.log(0.7)) / 2, rel=RTOL)


def test_next_token_shift_direction():
    """A model that predicts the next token scores ~0; one that copies its
    input scores ~20 nats, and the unshifted cross-entropy would rank them the
    other way round."""
    tokens = np.array([3, 1, 4, 1, 5, 9, 2, 6])
    v, big = 10, 20.0
    predicts_next = np.zeros((8, v))
    predicts_next[np.arange(7), tokens[1:]] = big
    copies_input = np.zeros((8, v))
    copies_input[np.arange(8), tokens] = big
    good = float(next_token_cross_entropy(predicts_next, tokens))
    bad = float(next_token_cross_entropy(copies_input, tokens))
    # log(1 + 9 e^-20) for the good model; 20 + log(1 + 9 e^-20) - ... for the
    # copier (its target logit is 0 and its largest is 20)
    assert good == pytest.approx(math.log1p(9 * math.exp(-big)), rel=RTOL)
    assert bad == pytest.approx(big + math.log1p(9 * math.exp(-big)), rel=RTOL)
    assert float(xent.softmax_cross_entropy(copies_input, tokens)) < float(
        xent.softmax_cross_entropy(predicts_next[:-1], tokens[:-1])
    )


def test_next_token_without_targets_is_nan():
    assert math.isnan(
        next_token_cross_entropy(np.zeros((1, 4)), np.array([2]))
    )  # T = 1
    assert math.isnan(
        next_token_cross_entropy(np.zeros((3, 4)), np.array([2, -100, -100]))
    )


def test_next_token_keeps_float32():
    logits = np.zeros((2, 5, 7), dtype=np.float32)
    out = next_token_cross_entropy(logits, np.zeros((2, 5), dtype=np.int64))
    assert out.dtype == np.float32 and out == pytest.approx(
        math.log(7), rel=1e-7
    )


@pytest.mark.parametrize(
    "logits, tokens, error, message",
    [
        (
            np.zeros(4),
            np.array(0),
            ValueError,
            "logits: expected shape (..., T, V) with a time axis, got (4,)",
        ),
        (
            np.zeros((3, 4)),
            np.array([0, 1]),
            ValueError,
            "tokens: expected shape (3,) (logits without the class axis), "
            "got (2,)",
        ),
        (
            np.zeros((3, 4)),
            np.array([0, 1, 4]),
            ValueError,
            "tokens: class index 4 out of range for 4 classes (expected 0..3 "
            "or ignore_index=-100)",
        ),
        (
            np.zeros((3, 4)),
            np.array([0, -2, 1]),
            ValueError,
            "tokens: negative class index -2 out of range",
        ),
        (
            np.zeros((3, 4)),
            np.array([0.0, 1.0, 1.0]),
            TypeError,
            "tokens: expected integer class indices, got dtype float64",
        ),
        (
            np.zeros((3, 0)),
            np.zeros(3, dtype=int),
            ValueError,
            "logits: expected at least one class on the last axis",
        ),
    ],
)
def test_next_token_bad_input(logits, tokens, error, message):
    with pytest.raises(error) as info:
        next_token_cross_entropy(logits, tokens)
    assert message in str(info.value)


def test_next_token_bad_ignore_index():
    with pytest.raises(
        TypeError, match="ignore_index: expected an integer, got None"
    ):
        next_token_cross_entropy(
            np.zeros((3, 4)), np.array([0, 1, 2]), ignore_index=None
        )


# -----------------------------------------------------------------------------
# InfoNCE


def torch_info_nce(q, k, temperature, symmetric, normalize):
    q, k = t(q), t(k)
    if normalize:
        q, k = F.normalize(q, dim=1), F.normalize(k, dim=1)
    logits = q @ k.T / temperature
    labels = torch.arange(q.shape[0])
    loss = F.cross_entropy(logits, labels)
    if symmetric:  # CLIP: (image -> text + text -> image) / 2
        loss = (loss + F.cross_entropy(logits.T, labels)) / 2
    return loss.item()


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("temperature", [0.07, 1.0, 3.0])
def test_info_nce_against_torch(rng, symmetric, normalize, temperature):
    q = rng.standard_normal((8, 5))
    k = q + 0.8 * rng.standard_normal((8, 5))
    if not normalize:
        q, k = q / 4, k / 4  # keep unnormalised logits moderate
    got = info_nce(
        q, k, temperature=temperature, symmetric=symmetric, normalize=normalize
    )
    expected = torch_info_nce(q, k, temperature, symmetric, normalize)
    assert float(got) == pytest.approx(expected, rel=RTOL)


def test_info_nce_by_hand():
    """q = (e1, e2), k = (e1, (e1 + e2)/sqrt 2), tau = 1: cosines [[1, c], [0,
    c]] with c = 1/sqrt 2."""
    q = np.array(
        [[1.0, 0.0], [0.0, 2.0]]
    )  # the 2 disappears with normalisation
    k = np.array([[3.0, 0.0], [1.0, 1.0]])
    c = 1 / math.sqrt(2)
    row1 = math.log(math.exp(1) + math.exp(c)) - 1
    row2 = math.log(math.exp(0) + math.exp(c)) - c
    col1 = (
        math.log(math.exp(1) + math.exp(0)) - 1
    )  # key 1 against queries 1, 2
    col2 = math.log(math.exp(c) + math.exp(c)) - c
    assert info_nce(q, k, temperature=1.0) == pytest.approx(
        (row1 + row2) / 2, rel=RTOL
    )
    sym = info_nce(q, k, temperature=1.0, symmetric=True)
    assert sym == pytest.approx(
        ((row1 + row2) / 2 + (col1 + col2) / 2) / 2, rel=RTOL
    )


@pytest.mark.parametrize("n, temperature", [(2, 0.5), (4, 0.07), (16, 0.01)])
def test_info_nce_aligned_orthogonal_embeddings(n, temperature):
    """Diagonal logits 1/tau, others 0: L = log(1 + (N - 1) e^{-1/tau}), ~0 for
    small tau."""
    q = np.eye(n)
    expected = math.log1p((n - 1) * math.exp(-1 / temperature))
    assert info_nce(q, 5 * q, temperature=temperature) == pytest.approx(
        expected, rel=RTOL
    )
    assert info_nce(
        q, q, temperature=temperature, symmetric=True
    ) == pytest.approx(expected, rel=RTOL)
    if temperature <= 0.01:
        assert info_nce(q, q, temperature=temperature) < 1e-40


@pytest.mark.parametrize("n", [4, 32, 256])
def test_info_nce_unrelated_keys_at_high_temperature_is_log_n(rng, n):
    """All logits lie in [-1/tau, 1/tau], so |L - log N| <= 2/tau; at tau =
    1000, within 0.002."""
    q = rng.standard_normal((n, 16))
    k = rng.standard_normal((n, 16))
    loss = float(info_nce(q, k, temperature=1000.0))
    assert abs(loss - math.log(n)) <= 2 / 1000.0


@given(
    q=arrays(np.float64, (5, 3), elements=st.floats(-10, 10)),
    k=arrays(np.float64, (5, 3), elements=st.floats(-10, 10)),
    scale=st.floats(0.01, 100),
    temperature=st.floats(0.05, 5),
)
def test_property_info_nce(q, k, scale, temperature):
    loss = float(info_nce(q, k, temperature=temperature))
    # cosines in [-1, 1] (a zero row gives 0): the bound behind
    # "I(X; Y) >= log N - L"
    assert abs(loss - math.log(5)) <= 2 / temperature + 1e-12
    # normalised embeddings do not see the scale of the rows (except rows of
    # norm below the 1e-12 floor, which are not rescaled: left out)
    assume(np.all(np.linalg.norm(q, axis=1) > 1e-6))
    assert float(
        info_nce(scale * q, k, temperature=temperature)
    ) == pytest.approx(loss, rel=1e-12, abs=1e-13)
    # symmetric is the mean of the two directions
    both = float(info_nce(q, k, temperature=temperature, symmetric=True))
    back = float(info_nce(k, q, temperature=temperature))
    assert both == pytest.approx((loss + back) / 2, rel=1e-12, abs=1e-13)


def test_info_nce_dtypes_and_zero_rows():
    q = np.array(
        [[1.0, 0.0], [0.0, 0.0]], dtype=np.float32
    )  # a zero row: its norm is floored
    out = info_nce(q, q, temperature=1.0)
    assert out.dtype == np.float32
    # row 1: cosines (1, 0) -> log(e + 1) - 1; row 2: cosines (0, 0) -> log 2
    assert float(out) == pytest.approx(
        (math.log(math.e + 1) - 1 + math.log(2)) / 2, rel=1e-7
    )
    assert (
        info_nce(np.eye(2, dtype=np.int64), np.eye(2, dtype=np.int64)).dtype
        == np.float64
    )


@pytest.mark.parametrize(
    "queries, keys, kwargs, error, message",
    [
        (
            np.zeros(3),
            np.zeros(3),
            {},
            ValueError,
            "queries: expected a non-empty array of shape (N, D), got shape "
            "(3,)",
        ),
        (
            np.zeros((0, 3)),
            np.zeros((0, 3)),
            {},
            ValueError,
            "queries: expected a non-empty array of shape (N, D), got shape "
            "(0, 3)",
        ),
        (
            np.zeros((2, 0)),
            np.zeros((2, 0)),
            {},
            ValueError,
            "got shape (2, 0)",
        ),
        (
            np.ones((2, 3)),
            np.ones((3, 3)),
            {},
            ValueError,
            "keys: expected shape (2, 3) (the shape of queries), got (3, 3)",
        ),
        (
            np.ones((2, 3)),
            np.ones((2, 4)),
            {},
            ValueError,
            "keys: expected shape (2, 3)",
        ),
        (
            [["a"]],
            np.ones((1, 1)),
            {},
            TypeError,
            "queries: expected real numbers",
        ),
        (
            np.ones((1, 1)),
            [[1j]],
            {},
            TypeError,
            "keys: expected real numbers",
        ),
        (
            np.ones((2, 3)),
            np.ones((2, 3)),
            dict(temperature=0.0),
            ValueError,
            "temperature: expected a finite number > 0, got 0.0",
        ),
        (
            np.ones((2, 3)),
            np.ones((2, 3)),
            dict(temperature=-0.1),
            ValueError,
            "temperature: expected a finite number > 0, got -0.1",
        ),
        (
            np.ones((2, 3)),
            np.ones((2, 3)),
            dict(temperature=math.inf),
            ValueError,
            "got inf",
        ),
        (
            np.ones((2, 3)),
            np.ones((2, 3)),
            dict(temperature=math.nan),
            ValueError,
            "got nan",
        ),
        (
            np.ones((2, 3)),
            np.ones((2, 3)),
            dict(temperature="0.1"),
            TypeError,
            "temperature: expected a number > 0, got '0.1'",
        ),
        (
            np.ones((2, 3)),
            np.ones((2, 3)),
            dict(temperature=True),
            TypeError,
            "temperature: expected a number > 0, got True",
        ),
        (
            np.ones((2, 3)),
            np.ones((2, 3)),
            dict(symmetric=1),
            TypeError,
            "symmetric: expected True or False, got 1",
        ),
        (
            np.ones((2, 3)),
            np.ones((2, 3)),
            dict(normalize="yes"),
            TypeError,
            "normalize: expected True or False, got 'yes'",
        ),
    ],
)
def test_info_nce_bad_input(queries, keys, kwargs, error, message):
    with pytest.raises(error) as info:
        info_nce(queries, keys, **kwargs)
    assert message in str(info.value)


# -----------------------------------------------------------------------------
# policy gradient


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(9,), (3, 4)])
def test_policy_gradient_loss_and_gradient_against_torch(
    rng, reduction, shape
):
    logits = rng.standard_normal((*shape, 5)) * 2
    actions = rng.integers(0, 5, shape)
    advantages = rng.standard_normal(shape)
    got = policy_gradient_loss(
        logits, actions, advantages, reduction=reduction
    )

    z = t(logits).requires_grad_()
    per_sample = F.cross_entropy(
        z.reshape(-1, 5), t(actions).reshape(-1), reduction="none"
    ).reshape(shape)
    loss = t(advantages) * per_sample  # = -A log pi(a|s)
    loss = {"mean": loss.mean, "sum": loss.sum, "none": lambda: loss}[
        reduction
    ]()
    np.testing.assert_allclose(got, loss.detach().numpy(), rtol=RTOL, atol=0)

    # the documented gradient, A * (softmax - onehot) (/ N for the mean),
    # against autograd
    (grad,) = torch.autograd.grad(loss.sum(), z)
    formula = advantages[..., None] * (
        xent.softmax(logits) - xent.one_hot(actions, 5)
    )
    if reduction == "mean":
        formula = formula / advantages.size
    np.testing.assert_allclose(formula, grad.numpy(), rtol=1e-12, atol=1e-15)


def test_policy_gradient_numerical_gradient(rng):
    """Central differences (error ~ eps^(2/3) ~ 1e-11 relative) agree with A *
    (softmax - onehot) / N."""
    logits = rng.standard_normal((4, 3))
    actions = np.array([0, 2, 1, 2])
    advantages = np.array([1.5, -0.5, 0.0, 2.0])
    numeric = xent.numerical_gradient(
        lambda z: float(policy_gradient_loss(z, actions, advantages)), logits
    )
    formula = (
        advantages[:, None]
        * (xent.softmax(logits) - xent.one_hot(actions, 3))
        / 4
    )
    np.testing.assert_allclose(numeric, formula, rtol=1e-7, atol=1e-9)


def test_policy_gradient_fixed_values():
    """pi = (0.8, 0.2): A = +1 on action 0 gives -log 0.8, A = -0.5 on action 1
    gives 0.5 log 0.2."""
    logits = np.log([[0.8, 0.2], [0.8, 0.2]])
    out = policy_gradient_loss(
        logits, np.array([0, 1]), np.array([1.0, -0.5]), reduction="none"
    )
    np.testing.assert_allclose(
        out, [-math.log(0.8), 0.5 * math.log(0.2)], rtol=RTOL
    )
    mean = policy_gradient_loss(
        logits, np.array([0, 1]), np.array([1.0, -0.5])
    )
    assert mean == pytest.approx(
        (-math.log(0.8) + 0.5 * math.log(0.2)) / 2, rel=RTOL
    )


@given(
    logits=arrays(np.float64, (6, 4), elements=st.floats(-20, 20)),
    actions=arrays(np.int64, (6,), elements=st.integers(0, 3)),
    advantages=arrays(np.float64, (6,), elements=st.floats(-5, 5)),
    c=st.floats(-3, 3),
)
def test_property_policy_gradient(logits, actions, advantages, c):
    base = float(
        policy_gradient_loss(logits, actions, advantages, reduction="sum")
    )
    # linear in the advantages
    scaled = float(
        policy_gradient_loss(logits, actions, c * advantages, reduction="sum")
    )
    assert scaled == pytest.approx(c * base, rel=1e-12, abs=1e-12)
    # A = 1 is supervised cross-entropy on the actions taken; A = 0 is nothing
    ones = policy_gradient_loss(logits, actions, np.ones(6))
    assert float(ones) == pytest.approx(
        float(xent.softmax_cross_entropy(logits, actions)),
        rel=1e-13,
        abs=1e-15,
    )
    assert float(policy_gradient_loss(logits, actions, np.zeros(6))) == 0.0


def test_policy_gradient_dtypes():
    logits = np.zeros((2, 3), dtype=np.float32)
    assert (
        policy_gradient_loss(
            logits, np.array([0, 1]), np.ones(2, dtype=np.float32)
        ).dtype
        == np.float32
    )
    assert (
        policy_gradient_loss(logits, np.array([0, 1]), np.ones(2)).dtype
        == np.float64
    )
    out = policy_gradient_loss(
        logits,
        np.array([0, 1]),
        np.ones(2, dtype=np.float32),
        reduction="none",
    )
    assert out.dtype == np.float32 and out.shape == (2,)


@pytest.mark.parametrize(
    "logits, actions, advantages, kwargs, error, message",
    [
        (
            np.zeros((2, 3)),
            np.array([0, 3]),
            np.ones(2),
            {},
            ValueError,
            "actions: class index 3 out of range for 3 classes (expected "
            "0..2)",
        ),
        (
            np.zeros((2, 3)),
            np.array([0, -100]),
            np.ones(2),
            {},
            ValueError,
            "actions: negative class index -100 out of range",
        ),
        (
            np.zeros((2, 3)),
            np.array([0.0, 1.0]),
            np.ones(2),
            {},
            TypeError,
            "actions: expected integer class indices",
        ),
        (
            np.zeros((2, 3)),
            np.array([0, 1]),
            np.ones(3),
            {},
            ValueError,
            "advantages: expected shape (2,) (the shape of actions), got (3,)",
        ),
        (
            np.zeros((2, 3)),
            np.array([0, 1]),
            np.float64(1.0),
            {},
            ValueError,
            "advantages: expected shape (2,) (the shape of actions), got ()",
        ),
        (
            np.zeros((2, 3)),
            np.array([0, 1]),
            np.array(["a", "b"]),
            {},
            TypeError,
            "advantages: expected real numbers",
        ),
        (
            np.zeros((2, 3)),
            np.array([0, 1]),
            np.ones(2),
            dict(reduction="mean "),
            ValueError,
            "reduction: expected one of 'mean', 'sum', 'none', got 'mean '",
        ),
        (
            np.float64(0.0),
            np.array(0),
            np.float64(1.0),
            {},
            ValueError,
            "logits: expected an array with a class axis",
        ),
    ],
)
def test_policy_gradient_bad_input(
    logits, actions, advantages, kwargs, error, message
):
    with pytest.raises(error) as info:
        policy_gradient_loss(logits, actions, advantages, **kwargs)
    assert message in str(info.value)

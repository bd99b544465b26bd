"""Tests of xent/reinforcement.py: GRPO/RLOO advantages, the sequence loss.

Oracles: TRL's GRPOTrainer advantages written in torch float64
(``rewards.view(-1, G)``, ``.std(dim=1)`` with its default n - 1
correction, ``/ (std + 1e-4)``), the leave-one-out mean by a loop, and the
token-level policy-gradient loss with torch autograd for its gradient.
float64 throughout: rtol 1e-13 leaves a margin of about 100 over the
summation-order differences.
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import xent
from xent.reinforcement import (
    group_relative_advantages,
    leave_one_out_advantages,
    sequence_policy_gradient_loss,
)

torch = pytest.importorskip("torch")
F = torch.nn.functional

RTOL = 1e-13


def t(x):
    return torch.from_numpy(np.asarray(x))


# ---------------------------------------------------------------------------
# group_relative_advantages


def trl_advantages(flat_rewards, num_generations, scale_rewards=True):
    """TRL GRPOTrainer._generate_and_score_completions, float64."""
    rewards = t(flat_rewards)
    grouped = rewards.view(-1, num_generations)
    mean = grouped.mean(dim=1).repeat_interleave(num_generations, dim=0)
    std = grouped.std(dim=1).repeat_interleave(num_generations, dim=0)
    advantages = rewards - mean
    if scale_rewards:
        advantages = advantages / (std + 1e-4)
    return advantages.numpy()


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("group", [2, 3, 8])
def test_grpo_against_trl(rng, normalize, group):
    flat = rng.standard_normal(5 * group) * 3 + 1
    flat[:group] = rng.integers(0, 2, group)  # 0/1 rewards, as for maths
    got = group_relative_advantages(
        flat.reshape(5, group), normalize=normalize
    )
    expected = trl_advantages(flat, group, normalize).reshape(5, group)
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=1e-15)


def test_grpo_std_is_corrected_by_n_minus_1():
    """Rewards 0, 1: mean 1/2, sample std sqrt(1/2) (not 1/2), so the
    advantages are +-1/sqrt(2)."""
    got = group_relative_advantages([[0.0, 1.0]], eps=0.0)
    np.testing.assert_allclose(got, [[-(0.5**0.5), 0.5**0.5]], rtol=1e-15)


@pytest.mark.parametrize("eps", [0.0, 1e-4, 0.5])
def test_grpo_leading_axes_and_eps(rng, eps):
    r = rng.standard_normal((2, 3, 4))
    got = group_relative_advantages(r, eps=eps)
    std = r.std(axis=-1, ddof=1, keepdims=True)
    expected = (r - r.mean(axis=-1, keepdims=True)) / (std + eps)
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=1e-15)


@given(
    r=arrays(np.float64, (3, 5), elements=st.floats(-100, 100)),
    shift=st.floats(-1e3, 1e3),
    scale=st.floats(0.01, 100),
)
def test_property_grpo(r, shift, scale):
    """Groups sum to 0; shift-invariant; with eps = 0, scale-invariant and
    of sample standard deviation 1 (unless all rewards of a group agree)."""
    a = group_relative_advantages(r, eps=0.0)
    spread = np.ptp(r, axis=-1) > 1e-6 * (1 + np.abs(r).max())
    a, r = a[spread], r[spread]
    np.testing.assert_allclose(a.sum(axis=-1), 0.0, atol=1e-10)
    np.testing.assert_allclose(a.std(axis=-1, ddof=1), 1.0, rtol=1e-10)
    np.testing.assert_allclose(
        group_relative_advantages(r + shift, eps=0.0), a, rtol=1e-6, atol=1e-6
    )
    np.testing.assert_allclose(
        group_relative_advantages(r * scale, eps=0.0), a, rtol=1e-9, atol=1e-9
    )
    centred = group_relative_advantages(r, normalize=False)
    np.testing.assert_allclose(centred.sum(axis=-1), 0.0, atol=1e-10)


def test_grpo_unanimous_group_gives_zero():
    a = group_relative_advantages([[1.0, 1.0, 1.0], [0.0, 0.0, 1.0]])
    np.testing.assert_array_equal(a[0], 0.0)
    assert np.all(a[1] != 0)


def test_grpo_dtypes():
    r32 = np.array([[0.0, 1.0, 0.5]], dtype=np.float32)
    assert group_relative_advantages(r32).dtype == np.float32
    assert group_relative_advantages([[0, 1]]).dtype == np.float64


# ---------------------------------------------------------------------------
# leave_one_out_advantages


def loop_rloo(r):
    r = np.asarray(r, dtype=np.float64)
    out = np.empty_like(r)
    for idx in np.ndindex(r.shape[:-1]):
        group = r[idx]
        for i in range(group.size):
            others = np.delete(group, i)
            out[(*idx, i)] = group[i] - others.mean()
    return out


@pytest.mark.parametrize("shape", [(2,), (4, 3), (2, 3, 8)])
def test_rloo_against_loop(rng, shape):
    r = rng.standard_normal(shape) * 2
    np.testing.assert_allclose(
        leave_one_out_advantages(r), loop_rloo(r), rtol=1e-12, atol=1e-14
    )


@given(r=arrays(np.float64, (2, 6), elements=st.floats(-100, 100)))
def test_property_rloo(r):
    """Sums to zero; G/(G-1) times the Dr. GRPO advantage; the baseline of
    answer i does not depend on r_i."""
    a = leave_one_out_advantages(r)
    np.testing.assert_allclose(a.sum(axis=-1), 0.0, atol=1e-10)
    dr = group_relative_advantages(r, normalize=False)
    np.testing.assert_allclose(a, dr * 6 / 5, rtol=1e-12, atol=1e-12)
    bumped = r.copy()
    bumped[:, 0] += 10.0
    baseline = r - a
    np.testing.assert_allclose(
        (bumped - leave_one_out_advantages(bumped))[:, 0],
        baseline[:, 0],
        atol=1e-9,
    )


def test_rloo_fixed_values():
    np.testing.assert_allclose(
        leave_one_out_advantages([[1.0, 0.0, 0.0, 1.0]]),
        [[2 / 3, -2 / 3, -2 / 3, 2 / 3]],
        rtol=1e-15,
    )
    assert leave_one_out_advantages(np.ones((1, 2), np.float32)).dtype == (
        np.float32
    )


@pytest.mark.parametrize(
    "fn", [group_relative_advantages, leave_one_out_advantages]
)
@pytest.mark.parametrize(
    "rewards, error, message",
    [
        (np.zeros(()), ValueError, "got shape ()"),
        (
            np.zeros((8, 1)),
            ValueError,
            "rewards: expected groups of at least 2 rewards on the last axis,"
            " shape (..., G) with G >= 2, got shape (8, 1)",
        ),
        (np.array(["a", "b"]), TypeError, "rewards: expected real numbers"),
    ],
)
def test_advantages_bad_input(fn, rewards, error, message):
    with pytest.raises(error) as info:
        fn(rewards)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"eps": -1e-4}, ValueError, "eps: expected a finite number >= 0"),
        ({"eps": None}, TypeError, "eps: expected a finite number >= 0"),
        ({"normalize": 1}, TypeError, "normalize: expected True or False"),
    ],
)
def test_grpo_bad_options(kwargs, error, message):
    with pytest.raises(error) as info:
        group_relative_advantages(np.zeros((2, 3)), **kwargs)
    assert message in str(info.value)


# ---------------------------------------------------------------------------
# sequence_policy_gradient_loss


def torch_sequence_loss(z, targets, advantages, normalization, ignore=-100):
    targets = t(targets)
    mask = targets != ignore
    safe = torch.where(mask, targets, torch.zeros_like(targets))
    logp = F.log_softmax(z, dim=-1).gather(-1, safe[..., None])[..., 0]
    per_token = -t(advantages)[:, None] * logp * mask
    if normalization == "token":
        return per_token.sum() / mask.sum()
    lengths = mask.sum(dim=1)
    has = lengths > 0
    return (per_token.sum(dim=1)[has] / lengths[has]).mean()


def rl_batch(rng, b=4, length=6, v=5, prompt=(2, 1, 3, 0), pad=(0, 2, 0, 1)):
    """A batch of sequences: prompt tokens ignored, then the response,
    then padding (ignored)."""
    logits = rng.standard_normal((b, length, v)) * 2
    targets = rng.integers(0, v, (b, length))
    for i in range(b):
        targets[i, : prompt[i]] = -100
        if pad[i]:
            targets[i, length - pad[i] :] = -100
    advantages = rng.standard_normal(b)
    return logits, targets, advantages


@pytest.mark.parametrize("normalization", ["token", "sequence"])
def test_sequence_loss_and_gradient_against_torch(rng, normalization):
    logits, targets, advantages = rl_batch(rng)
    z = t(logits).requires_grad_()
    expected = torch_sequence_loss(z, targets, advantages, normalization)
    got = sequence_policy_gradient_loss(
        logits, targets, advantages, normalization=normalization
    )
    assert got == pytest.approx(expected.item(), rel=RTOL)
    # gradient: autograd of the torch loss against central differences of
    # xent's (about 1e-10 accurate) and against the closed form
    (auto,) = torch.autograd.grad(expected, z)

    def f(x):
        return float(
            sequence_policy_gradient_loss(
                x.reshape(logits.shape),
                targets,
                advantages,
                normalization=normalization,
            )
        )

    numerical = xent.numerical_gradient(f, logits.reshape(-1))
    np.testing.assert_allclose(
        numerical.reshape(logits.shape), auto.numpy(), rtol=1e-6, atol=1e-9
    )
    valid = targets != -100
    if normalization == "token":
        c = np.where(valid, 1.0 / valid.sum(), 0.0)
    else:
        lengths = valid.sum(axis=1, keepdims=True)
        c = np.where(valid, 1.0 / (valid.any(axis=1).sum() * lengths), 0.0)
    onehot = np.eye(logits.shape[-1])[np.where(valid, targets, 0)]
    closed = (c * advantages[:, None])[..., None] * (
        xent.softmax(logits) - onehot
    )
    np.testing.assert_allclose(auto.numpy(), closed, rtol=1e-12, atol=1e-16)


def test_sequence_loss_matches_next_token_cross_entropy(rng):
    """A = 1 and "token": the language-model loss; the caller shifts."""
    logits = rng.standard_normal((3, 7, 6))
    tokens = rng.integers(0, 6, (3, 7))
    tokens[1, 5:] = -100
    got = sequence_policy_gradient_loss(
        logits[:, :-1], tokens[:, 1:], np.ones(3)
    )
    expected = xent.next_token_cross_entropy(logits, tokens)
    assert got == pytest.approx(float(expected), rel=RTOL)


def test_sequence_normalization_has_the_length_bias(rng):
    """Same logits, same positive advantage, lengths 1 and 4: under
    "sequence" each token of the short answer gets 4 times the gradient
    of a token of the long one; under "token" all tokens weigh the same."""
    row = rng.standard_normal(5)
    logits = np.tile(row, (2, 4, 1))
    targets = np.array([[2, -100, -100, -100], [2, 2, 2, 2]])
    advantages = np.array([1.0, 1.0])
    for normalization, ratio in (("sequence", 4.0), ("token", 1.0)):
        z = t(logits).requires_grad_()
        loss = torch_sequence_loss(z, targets, advantages, normalization)
        (g,) = torch.autograd.grad(loss, z)
        short, long = g[0, 0].norm().item(), g[1, 0].norm().item()
        assert short / long == pytest.approx(ratio, rel=1e-12)
    # xent's values agree with those weights: (ce + 4 ce) / 5 vs (ce + ce)/2
    ce = float(xent.softmax_cross_entropy(row[None], np.array([2])))
    token = sequence_policy_gradient_loss(logits, targets, advantages)
    seq = sequence_policy_gradient_loss(
        logits, targets, advantages, normalization="sequence"
    )
    assert token == pytest.approx(ce, rel=RTOL)
    assert seq == pytest.approx(ce, rel=RTOL)


def test_sequence_loss_ignored_and_empty_sequences(rng):
    logits, targets, advantages = rl_batch(rng)
    targets[2] = -100  # a sequence without response tokens
    got = sequence_policy_gradient_loss(
        logits, targets, advantages, normalization="sequence"
    )
    keep = [0, 1, 3]
    expected = sequence_policy_gradient_loss(
        logits[keep], targets[keep], advantages[keep], normalization="sequence"
    )
    assert got == pytest.approx(float(expected), rel=RTOL)
    # changing an ignored token's logits or target changes nothing
    logits2, targets2 = logits.copy(), targets.copy()
    logits2[0, 0] += 100.0
    assert sequence_policy_gradient_loss(
        logits2, targets2, advantages
    ) == pytest.approx(
        float(sequence_policy_gradient_loss(logits, targets, advantages)),
        rel=RTOL,
    )
    targets[:] = -100
    for normalization in ("token", "sequence"):
        assert math.isnan(
            sequence_policy_gradient_loss(
                logits, targets, advantages, normalization=normalization
            )
        )


@given(
    c=st.floats(-5, 5),
    normalization=st.sampled_from(["token", "sequence"]),
)
def test_property_sequence_loss_linear_in_advantages(c, normalization):
    rng = np.random.default_rng(3)
    logits, targets, advantages = rl_batch(rng)
    base = sequence_policy_gradient_loss(
        logits, targets, advantages, normalization=normalization
    )
    scaled = sequence_policy_gradient_loss(
        logits, targets, c * advantages, normalization=normalization
    )
    assert float(scaled) == pytest.approx(
        c * float(base), rel=1e-12, abs=1e-14
    )


def test_sequence_loss_dtypes_and_ignore_index(rng):
    logits, targets, advantages = rl_batch(rng)
    got32 = sequence_policy_gradient_loss(
        logits.astype(np.float32), targets, advantages.astype(np.float32)
    )
    assert got32.dtype == np.float32
    other = np.where(targets == -100, 7, targets)
    assert sequence_policy_gradient_loss(
        np.concatenate([logits, logits[..., :3]], axis=-1),
        other,
        advantages,
        ignore_index=7,
    ) == pytest.approx(
        float(
            sequence_policy_gradient_loss(
                np.concatenate([logits, logits[..., :3]], axis=-1),
                targets,
                advantages,
            )
        ),
        rel=RTOL,
    )


@pytest.mark.parametrize(
    "change, error, message",
    [
        (
            {"logits": np.zeros((4, 5))},
            ValueError,
            "logits: expected shape (B, T, V), got (4, 5)",
        ),
        (
            {"targets": np.zeros((4, 5), dtype=int)},
            ValueError,
            "targets: expected shape (4, 6) (logits without the class axis)",
        ),
        (
            {"targets": np.zeros((4, 6))},
            TypeError,
            "targets: expected integer class indices, got dtype float64",
        ),
        (
            {"targets": np.full((4, 6), 5)},
            ValueError,
            "targets: class index 5 out of range for 5 classes (expected "
            "0..4 or ignore_index=-100)",
        ),
        (
            {"advantages": np.zeros((4, 1))},
            ValueError,
            "advantages: expected shape (4,) (one per sequence of logits), "
            "got (4, 1)",
        ),
        (
            {"advantages": np.array(["a"] * 4)},
            TypeError,
            "advantages: expected real numbers",
        ),
        (
            {"normalization": "seq"},
            ValueError,
            "normalization: expected one of 'token', 'sequence', got 'seq'",
        ),
        (
            {"ignore_index": None},
            TypeError,
            "ignore_index: expected an integer, got None",
        ),
    ],
)
def test_sequence_loss_bad_input(rng, change, error, message):
    logits, targets, advantages = rl_batch(rng)
    kwargs = dict(logits=logits, targets=targets, advantages=advantages)
    kwargs.update(change)
    with pytest.raises(error) as info:
        sequence_policy_gradient_loss(
            kwargs.pop("logits"),
            kwargs.pop("targets"),
            kwargs.pop("advantages"),
            **kwargs,
        )
    assert message in str(info.value)


def test_exported_from_xent():
    for name in (
        "group_relative_advantages",
        "leave_one_out_advantages",
        "sequence_policy_gradient_loss",
    ):
        assert getattr(xent, name) is globals()[name]

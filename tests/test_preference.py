"""Tests of xent/preference.py: dpo_loss.

Oracles: TRL's DPO sigmoid loss written in torch float64
(``-F.logsigmoid(beta * ((pc - pr) - (rc - rr)))``), mpmath at 50 digits
for extreme margins, and the paper's formula. Both sides compute the same
float64 margin and a softplus of it: rtol 1e-13 leaves a margin of about
100 over their few-ulp difference.
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import xent
from xent.preference import dpo_loss

torch = pytest.importorskip("torch")
F = torch.nn.functional

RTOL = 1e-13


def trl_dpo(pc, pr, rc, rr, beta):
    pc, pr, rc, rr = (
        torch.as_tensor(x, dtype=torch.float64) for x in (pc, pr, rc, rr)
    )
    logits = (pc - pr) - (rc - rr)
    return -F.logsigmoid(beta * logits)


def logps(rng, shape=(8,)):
    """Sequence log-probabilities of a few hundred nats, as for real text."""
    return [-rng.uniform(50, 400, shape) for _ in range(4)]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("beta", [0.01, 0.1, 0.5, 5.0])
def test_dpo_against_trl_formula(rng, reduction, beta):
    args = logps(rng)
    per_pair = trl_dpo(*args, beta)
    expected = {"mean": per_pair.mean(), "sum": per_pair.sum()}.get(
        reduction, per_pair
    )
    got = dpo_loss(*args, beta=beta, reduction=reduction)
    np.testing.assert_allclose(got, expected.numpy(), rtol=RTOL, atol=0)


def test_dpo_batch_shapes(rng):
    args = logps(rng, (3, 4))
    got = dpo_loss(*args, reduction="none")
    assert got.shape == (3, 4)
    np.testing.assert_allclose(
        got, trl_dpo(*args, 0.1).numpy(), rtol=RTOL, atol=0
    )


@pytest.mark.parametrize(
    "margin",
    [-1e4, -745.5, -50.0, -1.0, -1e-8, 0.0, 1e-8, 1.0, 36.0, 50.0, 745.0, 1e4],
)
def test_dpo_accurate_for_any_margin(margin):
    """-log sigmoid(m) to a few ulps against mpmath, for margins where the
    naive -log(sigmoid(m)) rounds to 0 (m > 37) or overflows (m < -745);
    beyond m = 745 the exact value e^-m is below float64's range."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    got = float(dpo_loss(margin, 0.0, 0.0, 0.0, beta=1.0))
    ref = mpmath.log1p(mpmath.exp(-mpmath.mpf(margin)))
    assert math.isfinite(got)
    # a few ulps, or the smallest subnormal where e^-m underflows
    assert abs(mpmath.mpf(got) - ref) <= 4 * 2.0**-52 * ref + 2.0**-1074


@given(
    pc=st.floats(-500, 0),
    pr=st.floats(-500, 0),
    rc=st.floats(-500, 0),
    rr=st.floats(-500, 0),
    beta=st.floats(0.01, 2.0),
)
def test_property_dpo(pc, pr, rc, rr, beta):
    """loss > 0; swapping chosen and rejected adds the margin, since
    softplus(m) - softplus(-m) = m; adding a constant per model changes
    nothing (only ratios count)."""
    loss = float(dpo_loss(pc, pr, rc, rr, beta=beta))
    swapped = float(dpo_loss(pr, pc, rr, rc, beta=beta))
    margin = beta * ((pc - pr) - (rc - rr))
    assert loss >= 0
    assert swapped - loss == pytest.approx(margin, abs=1e-9)
    shifted = float(
        dpo_loss(pc - 7.0, pr - 7.0, rc + 3.0, rr + 3.0, beta=beta)
    )
    assert shifted == pytest.approx(loss, rel=1e-9, abs=1e-12)


def test_dpo_gradient_is_minus_beta_sigmoid_of_minus_margin(rng):
    """d loss / d pi_c = -beta * sigmoid(-m) (and +beta * sigmoid(-m) for
    pi_r): checked by central differences and against torch autograd."""
    pc, pr, rc, rr = (float(a[0]) for a in logps(rng))
    beta = 0.5
    num = xent.numerical_gradient(
        lambda x: float(dpo_loss(x[0], x[1], rc, rr, beta=beta)),
        np.array([pc, pr]),
    )
    x = torch.tensor([pc, pr], dtype=torch.float64, requires_grad=True)
    (auto,) = torch.autograd.grad(trl_dpo(x[0], x[1], rc, rr, beta), x)
    m = beta * ((pc - pr) - (rc - rr))
    s = 1 / (1 + math.exp(m))
    np.testing.assert_allclose(auto.numpy(), [-beta * s, beta * s], rtol=1e-14)
    np.testing.assert_allclose(num, auto.numpy(), rtol=1e-6, atol=1e-10)


def test_dpo_fixed_values():
    """Policy = reference: log 2 whatever beta; the paper's margin."""
    assert dpo_loss(-12.0, -15.0, -12.0, -15.0, beta=3.0) == pytest.approx(
        math.log(2), rel=1e-15
    )
    assert dpo_loss(-11.0, -16.0, -12.0, -15.0) == pytest.approx(
        math.log1p(math.exp(-0.2)), rel=1e-15
    )


def test_dpo_dtypes():
    f32 = np.zeros(3, dtype=np.float32)
    assert dpo_loss(f32, f32, f32, f32).dtype == np.float32
    assert dpo_loss(f32, f32, f32, f32.astype(np.float64)).dtype == np.float64
    ints = np.zeros(3, dtype=np.int64)
    assert dpo_loss(ints, ints, ints, ints).dtype == np.float64


@pytest.mark.parametrize(
    "override, kwargs, error, message",
    [
        (
            {3: np.zeros(2)},
            {},
            ValueError,
            "reference_rejected_logps: expected shape (3,) (the shape of "
            "policy_chosen_logps), got (2,)",
        ),
        (
            {1: np.array(["x"] * 3)},
            {},
            TypeError,
            "policy_rejected_logps: expected real numbers",
        ),
        ({}, {"beta": 0.0}, ValueError, "beta: expected a finite number > 0"),
        ({}, {"beta": -0.1}, ValueError, "beta: expected a finite number > 0"),
        ({}, {"beta": math.nan}, ValueError, "beta: expected a finite"),
        ({}, {"beta": None}, TypeError, "beta: expected a finite number > 0"),
        (
            {},
            {"reduction": "batchmean"},
            ValueError,
            "reduction: expected one of 'mean', 'sum', 'none'",
        ),
    ],
)
def test_dpo_bad_input(override, kwargs, error, message):
    args = [np.zeros(3) for _ in range(4)]
    for i, value in override.items():
        args[i] = value
    with pytest.raises(error) as info:
        dpo_loss(*args, **kwargs)
    assert message in str(info.value)


def test_dpo_options_are_keyword_only():
    with pytest.raises(TypeError):
        dpo_loss(0.0, 0.0, 0.0, 0.0, 0.1)

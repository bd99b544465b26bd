"""Tests of xent/language.py: z_loss and softcap.

Oracles: torch.logsumexp and torch.tanh in float64 (both computed as
xent computes them, in float64, so they agree to a few ulps: rtol 1e-13),
mpmath for the z-loss at 50 digits, and the defining formulas.
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import xent
from xent.language import softcap, z_loss

torch = pytest.importorskip("torch")

RTOL = 1e-13


def t(x):
    return torch.from_numpy(np.asarray(x))


# ---------------------------------------------------------------------------
# z_loss


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(5,), (4, 7), (2, 3, 11)])
def test_z_loss_against_torch(rng, reduction, shape):
    logits = rng.standard_normal(shape) * 5 + 3
    per_row = torch.logsumexp(t(logits), dim=-1) ** 2
    expected = {"mean": per_row.mean(), "sum": per_row.sum()}.get(
        reduction, per_row
    )
    got = z_loss(logits, reduction=reduction)
    np.testing.assert_allclose(got, expected.numpy(), rtol=RTOL, atol=0)
    assert np.shape(got) == tuple(expected.shape)


def test_z_loss_against_mpmath():
    """Large logits (lse ~ 1000) and a row where lse is near 0."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    rows = [[1000.0, 999.0, -5.0], [np.log(0.5), np.log(0.3), np.log(0.2)]]
    got = z_loss(np.array(rows), reduction="none")
    for value, row in zip(got, rows, strict=True):
        lse = mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(x)) for x in row))
        ref = lse**2
        assert abs(mpmath.mpf(float(value)) - ref) <= 4e-16 * abs(ref) + 1e-32


def test_z_loss_fixed_values():
    """Uniform over V: (log V)^2; log-probabilities: 0; +c shifts lse."""
    assert z_loss(np.zeros((3, 8))) == pytest.approx(
        math.log(8) ** 2, rel=RTOL
    )
    logp = np.log([[0.5, 0.25, 0.25]])
    assert abs(float(z_loss(logp))) < 1e-30
    assert z_loss(logp + 3.0) == pytest.approx(9.0, rel=RTOL)
    assert z_loss(np.array([[-np.inf, 0.0]])) == 0.0


@given(
    logits=arrays(np.float64, (4, 6), elements=st.floats(-50, 50)),
    shift=st.floats(-20, 20),
)
def test_property_z_loss(logits, shift):
    """z >= 0; shifting a row by c moves log Z by exactly c."""
    per_row = z_loss(logits, reduction="none")
    assert np.all(per_row >= 0)
    shifted = z_loss(logits + shift, reduction="none")
    lse = xent.logsumexp(logits)
    np.testing.assert_allclose(np.sqrt(per_row), np.abs(lse), rtol=1e-14)
    np.testing.assert_allclose(
        np.sqrt(shifted), np.abs(lse + shift), rtol=1e-12, atol=1e-12
    )
    assert z_loss(logits, reduction="sum") == pytest.approx(
        per_row.sum(), rel=1e-14
    )


def test_z_loss_dtypes_and_empty():
    z32 = np.zeros((2, 5), dtype=np.float32)
    assert z_loss(z32).dtype == np.float32
    assert z_loss(np.zeros((2, 5), dtype=np.int64)).dtype == np.float64
    assert math.isnan(z_loss(np.zeros((0, 5))))
    assert z_loss(np.zeros((0, 5)), reduction="sum") == 0.0


@pytest.mark.parametrize(
    "logits, kwargs, error, message",
    [
        (np.float64(1.0), {}, ValueError, "logits: expected an array with"),
        (np.zeros((2, 0)), {}, ValueError, "logits: expected at least one"),
        (np.array(["a"]), {}, TypeError, "logits: expected real numbers"),
        (
            np.zeros((2, 3)),
            {"reduction": "avg"},
            ValueError,
            "reduction: expected one of 'mean', 'sum', 'none', got 'avg'",
        ),
    ],
)
def test_z_loss_bad_input(logits, kwargs, error, message):
    with pytest.raises(error) as info:
        z_loss(logits, **kwargs)
    assert message in str(info.value)


# ---------------------------------------------------------------------------
# softcap


@pytest.mark.parametrize("cap", [1.0, 15.0, 30.0])
def test_softcap_against_torch_with_gradient(rng, cap):
    """Values as Gemma 2's cap * tanh(z / cap); the derivative (checked
    by torch autograd) is 1 - tanh(z / cap)^2, bounded by 1."""
    logits = rng.standard_normal((6, 9)) * 40
    z = t(logits).requires_grad_()
    capped = cap * torch.tanh(z / cap)
    np.testing.assert_allclose(
        softcap(logits, cap), capped.detach().numpy(), rtol=RTOL, atol=0
    )
    (grad,) = torch.autograd.grad(capped.sum(), z)
    expected = 1 - (np.asarray(softcap(logits, cap)) / cap) ** 2
    np.testing.assert_allclose(grad.numpy(), expected, rtol=1e-12, atol=1e-15)
    numerical = xent.numerical_gradient(
        lambda x: float(np.sum(softcap(x, cap))), logits[0]
    )
    np.testing.assert_allclose(numerical, expected[0], rtol=1e-7, atol=1e-9)


@given(
    z=arrays(np.float64, (12,), elements=st.floats(-1e6, 1e6)),
    cap=st.floats(0.5, 100.0),
)
def test_property_softcap(z, cap):
    """Odd, increasing, bounded by the cap, close to z when |z| << cap."""
    out = softcap(z, cap)
    assert np.all(np.abs(out) <= cap)
    np.testing.assert_array_equal(softcap(-z, cap), -out)
    order = np.argsort(z)
    assert np.all(np.diff(out[order]) >= 0)
    small = np.abs(z) < 1e-3 * cap
    # tanh(x) = x - x^3/3 + ...: relative change below |x|^2 / 3 <= 3.4e-7
    np.testing.assert_allclose(out[small], z[small], rtol=4e-7, atol=0)


def test_softcap_special_values_and_dtypes():
    out = softcap(np.array([np.inf, -np.inf, np.nan, 0.0]), 50.0)
    np.testing.assert_array_equal(out[:2], [50.0, -50.0])
    assert np.isnan(out[2]) and out[3] == 0.0
    assert softcap(np.ones(3, dtype=np.float32), 30).dtype == np.float32
    assert softcap(np.ones(3, dtype=np.float16), 30).dtype == np.float16
    assert softcap([1, 2], 30).dtype == np.float64
    assert np.ndim(softcap(2.0, 30.0)) == 0


@pytest.mark.parametrize(
    "cap, error, message",
    [
        (0.0, ValueError, "cap: expected a finite number > 0, got 0.0"),
        (-30.0, ValueError, "cap: expected a finite number > 0, got -30.0"),
        (math.inf, ValueError, "cap: expected a finite number > 0, got inf"),
        (None, TypeError, "cap: expected a finite number > 0, got None"),
        (True, TypeError, "cap: expected a finite number > 0, got True"),
        ("30", TypeError, "cap: expected a finite number > 0, got '30'"),
    ],
)
def test_softcap_bad_cap(cap, error, message):
    with pytest.raises(error) as info:
        softcap(np.zeros(3), cap)
    assert message in str(info.value)


def test_softcap_bad_logits():
    with pytest.raises(TypeError, match="logits: expected real numbers"):
        softcap(np.array([1j]), 30.0)


def test_exported_from_xent():
    assert xent.z_loss is z_loss and xent.softcap is softcap

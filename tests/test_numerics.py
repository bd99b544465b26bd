"""Tests of xent/numerics.py: fixed values, special values, properties,
oracles, ulp bounds.
"""

import numpy as np
import pytest
import scipy.special as sc
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import xent
from xent.testing import (
    SOFTMAX_REGIMES,
    ref_log_softmax,
    ref_logsumexp,
    softmax_regime,
    ulp_error,
)

finite_rows = arrays(
    np.float64,
    st.tuples(st.integers(1, 4), st.integers(1, 6)),
    elements=st.floats(-50, 50, allow_nan=False, allow_infinity=False),
)


# -- fixed cases (values from the definitions, computed by hand)
# ---------------------------------


def test_logsumexp_fixed_values():
    assert xent.logsumexp([0.0, 0.0]) == pytest.approx(np.log(2), rel=1e-15)
    assert xent.logsumexp([1000.0, 1000.0]) == pytest.approx(
        1000 + np.log(2), rel=1e-15
    )
    assert xent.logsumexp([5.0]) == 5.0
    assert (
        xent.logsumexp([0.0, -800.0]) == 0.0
    )  # log1p(e^-800) = e^-800 is below the smallest float


def test_softmax_fixed_values():
    e = np.exp([1.0, 2.0, 3.0])
    np.testing.assert_allclose(
        xent.softmax([1.0, 2.0, 3.0]), e / e.sum(), rtol=1e-15
    )
    np.testing.assert_array_equal(xent.softmax([1000.0, 1000.0]), [0.5, 0.5])
    np.testing.assert_array_equal(xent.softmax([1e308, -1e308]), [1.0, 0.0])


def test_log_softmax_fixed_values():
    np.testing.assert_allclose(
        xent.log_softmax([0.0, 0.0]), [-np.log(2)] * 2, rtol=1e-15
    )
    np.testing.assert_array_equal(
        xent.log_softmax([1000.0, 0.0]), [0.0, -1000.0]
    )
    # -log1p(e^-50) = -1.9287498479639178e-22 (mpmath)
    assert xent.log_softmax([50.0, 0.0])[0] == pytest.approx(
        -1.9287498479639178e-22, rel=1e-15, abs=0
    )


def test_elementwise_fixed_values():
    assert xent.sigmoid(0.0) == 0.5
    assert xent.softplus(0.0) == pytest.approx(np.log(2), rel=1e-15)
    assert xent.log_sigmoid(0.0) == pytest.approx(-np.log(2), rel=1e-15)
    assert xent.softplus(1000.0) == 1000.0
    assert xent.softplus(-50.0) == pytest.approx(
        1.9287498479639178e-22, rel=1e-15, abs=0
    )  # e^-50, mpmath
    assert xent.log_sigmoid(-1000.0) == -1000.0
    assert xent.sigmoid(-1000.0) == 0.0 and xent.sigmoid(1000.0) == 1.0
    assert xent.sigmoid(-700.0) == pytest.approx(np.exp(-700.0), rel=1e-14)


# -- special values
# ----------------------------------------------------------------------------


def test_neg_inf_entries():
    np.testing.assert_array_equal(xent.softmax([0.0, -np.inf]), [1.0, 0.0])
    np.testing.assert_array_equal(
        xent.log_softmax([0.0, -np.inf]), [0.0, -np.inf]
    )
    assert xent.logsumexp([0.0, -np.inf]) == 0.0


def test_all_neg_inf_rows():
    assert xent.logsumexp([-np.inf, -np.inf]) == -np.inf
    assert np.all(np.isnan(xent.softmax([-np.inf, -np.inf])))
    assert np.all(np.isnan(xent.log_softmax([-np.inf, -np.inf])))
    out = xent.logsumexp(np.array([[0.0, 0.0], [-np.inf, -np.inf]]))
    assert out[0] == pytest.approx(np.log(2)) and out[1] == -np.inf


def test_pos_inf_and_nan():
    assert xent.logsumexp([np.inf, 1.0]) == np.inf
    assert np.isnan(xent.logsumexp([np.nan, 1.0]))
    assert np.all(np.isnan(xent.softmax([np.nan, 1.0])))
    assert np.isnan(xent.sigmoid(np.nan)) and np.isnan(xent.softplus(np.nan))


def test_empty_axis():
    assert xent.logsumexp(np.zeros((2, 0))).tolist() == [-np.inf, -np.inf]
    assert xent.softmax(np.zeros((2, 0))).shape == (2, 0)
    assert xent.log_softmax(np.zeros((0,))).shape == (0,)
    assert xent.softmax(np.zeros((0, 3))).shape == (0, 3)


def test_float_range_magnitudes():
    big = np.finfo(np.float64).max
    np.testing.assert_array_equal(xent.softmax([big, big]), [0.5, 0.5])
    assert xent.logsumexp([big, -big]) == big
    assert xent.softmax(
        np.array([3e38, -3e38], dtype=np.float32)
    ).tolist() == [1.0, 0.0]


# -- dtypes and axes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn",
    [
        xent.softmax,
        xent.log_softmax,
        xent.logsumexp,
        xent.sigmoid,
        xent.softplus,
        xent.log_sigmoid,
    ],
)
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_dtype_preserved(fn, dtype):
    out = fn(np.array([[1.0, 2.0, 3.0]], dtype=dtype))
    assert out.dtype == dtype


@pytest.mark.parametrize(
    "fn", [xent.softmax, xent.log_softmax, xent.logsumexp, xent.sigmoid]
)
def test_integers_promoted(fn):
    assert fn(np.array([1, 2, 3])).dtype == np.float64
    assert fn([True, False]).dtype == np.float64


@pytest.mark.parametrize("fn", [xent.softmax, xent.log_softmax])
def test_axis(fn, rng):
    x = rng.standard_normal((3, 4, 5))
    for axis in (0, 1, -2):
        np.testing.assert_allclose(
            fn(x, axis=axis),
            np.moveaxis(fn(np.moveaxis(x, axis, -1)), -1, axis),
            rtol=1e-14,
        )


def test_logsumexp_axis_keepdims(rng):
    x = rng.standard_normal((3, 4))
    np.testing.assert_allclose(
        xent.logsumexp(x, axis=0), sc.logsumexp(x, axis=0), rtol=1e-14
    )
    assert xent.logsumexp(x, axis=0, keepdims=True).shape == (1, 4)
    assert xent.logsumexp(x, keepdims=True).shape == (3, 1)


# -- properties
# -----------------------------------------------------------------------------


@given(finite_rows, st.floats(-1e3, 1e3))
def test_softmax_shift_invariance(x, c):
    np.testing.assert_allclose(
        xent.softmax(x + c), xent.softmax(x), rtol=1e-9, atol=1e-300
    )


@given(finite_rows, st.floats(-1e3, 1e3))
def test_logsumexp_shift(x, c):
    np.testing.assert_allclose(
        xent.logsumexp(x + c), xent.logsumexp(x) + c, rtol=1e-12, atol=1e-9
    )


@given(finite_rows)
def test_softmax_is_distribution_and_log_softmax_its_log(x):
    p = xent.softmax(x)
    assert np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(
        np.exp(xent.log_softmax(x)), p, rtol=1e-13, atol=1e-300
    )
    np.testing.assert_allclose(
        xent.log_softmax(x),
        x - xent.logsumexp(x, keepdims=True),
        rtol=1e-12,
        atol=1e-12,
    )


@given(arrays(np.float64, st.integers(1, 20), elements=st.floats(-700, 700)))
def test_sigmoid_identities(x):
    np.testing.assert_allclose(
        xent.sigmoid(x) + xent.sigmoid(-x), 1.0, rtol=1e-15
    )
    np.testing.assert_allclose(
        xent.log_sigmoid(x) - xent.log_sigmoid(-x), x, rtol=1e-12, atol=1e-12
    )
    np.testing.assert_allclose(
        xent.softplus(x) - xent.softplus(-x), x, rtol=1e-12, atol=1e-12
    )


# -- oracles
# -----------------------------------------------------------------------------


def test_against_scipy(rng):
    x = rng.standard_normal((50, 7)) * 5
    np.testing.assert_allclose(
        xent.logsumexp(x), sc.logsumexp(x, axis=-1), rtol=1e-14
    )
    np.testing.assert_allclose(
        xent.softmax(x), sc.softmax(x, axis=-1), rtol=1e-13
    )
    # scipy's log_softmax is x - max - log(sum): entries near 0 keep only
    # absolute accuracy (row 30, class 1: scipy -1.0246693090632e-4, xent and
    # mpmath -1.0246693090649e-4).
    np.testing.assert_allclose(
        xent.log_softmax(x), sc.log_softmax(x, axis=-1), rtol=1e-13, atol=1e-15
    )
    np.testing.assert_allclose(xent.sigmoid(x), sc.expit(x), rtol=1e-15)
    np.testing.assert_allclose(
        xent.log_sigmoid(x), sc.log_expit(x), rtol=1e-14
    )


def test_against_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((50, 7)) * 5
    t = torch.from_numpy(x)
    np.testing.assert_allclose(
        xent.softmax(x), torch.softmax(t, -1).numpy(), rtol=1e-13
    )
    np.testing.assert_allclose(
        xent.log_softmax(x),
        torch.log_softmax(t, -1).numpy(),
        rtol=1e-13,
        atol=1e-15,
    )
    np.testing.assert_allclose(
        xent.logsumexp(x), torch.logsumexp(t, -1).numpy(), rtol=1e-14
    )
    np.testing.assert_allclose(
        xent.softplus(x),
        torch.nn.functional.softplus(t, threshold=1000).numpy(),
        rtol=1e-14,
    )


# -- accuracy against mpmath: within 4 ulp in every regime
# ----------------------------------------


@pytest.mark.parametrize("regime", SOFTMAX_REGIMES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_logsumexp_ulp_bound(regime, dtype):
    z, _ = softmax_regime(regime, dtype, rows=60)
    out = xent.logsumexp(z)
    worst = max(
        ulp_error(out[i], ref_logsumexp(z[i]), dtype) for i in range(len(z))
    )
    assert worst <= 4, f"{regime} {dtype.__name__}: {worst:.2f} ulp"


@pytest.mark.parametrize("regime", SOFTMAX_REGIMES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log_softmax_ulp_bound(regime, dtype):
    z, _ = softmax_regime(regime, dtype, rows=25)
    out = xent.log_softmax(z)
    worst = 0.0
    for i in range(len(z)):
        for j, ref in enumerate(ref_log_softmax(z[i])):
            worst = max(worst, ulp_error(out[i, j], ref, dtype))
    assert worst <= 4, f"{regime} {dtype.__name__}: {worst:.2f} ulp"


# -- bad input
# -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn", [xent.softmax, xent.log_softmax, xent.logsumexp]
)
def test_bad_axis(fn):
    with pytest.raises(ValueError, match="axis: 2 is out of range"):
        fn(np.zeros((2, 2)), axis=2)
    with pytest.raises(TypeError, match="axis: expected an integer"):
        fn(np.zeros((2, 2)), axis=1.0)
    with pytest.raises(ValueError, match="axis: 1 is out of range"):
        fn(3.0, axis=1)


@pytest.mark.parametrize("axis", [0, -1])
def test_scalar_is_a_row_of_one(axis):
    # As torch.softmax / log_softmax / logsumexp of a 0-d tensor with dim 0
    # or -1: softmax 1, log-softmax 0, logsumexp the value itself.
    for value in (3.0, -800.0, np.float32(2.5)):
        s = xent.softmax(value, axis=axis)
        assert s.shape == () and s == 1.0
        assert s.dtype == np.asarray(value).dtype
        ls = xent.log_softmax(value, axis=axis)
        assert ls.shape == () and ls == 0.0
        assert xent.logsumexp(value, axis=axis) == value
        assert np.shape(xent.logsumexp(value, axis=axis, keepdims=True)) == ()
    assert xent.logsumexp(-np.inf, axis=axis) == -np.inf
    assert np.isnan(xent.softmax(np.inf, axis=axis))


@pytest.mark.parametrize(
    "fn", [xent.softmax, xent.log_softmax, xent.logsumexp]
)
def test_scalar_matches_torch(fn):
    torch = pytest.importorskip("torch")
    name = {"softmax": "softmax", "log_softmax": "log_softmax"}.get(
        fn.__name__, "logsumexp"
    )
    for value in (0.5, -3.0, np.inf, -np.inf):
        theirs = getattr(torch, name)(
            torch.tensor(value, dtype=torch.float64), 0
        )
        np.testing.assert_array_equal(fn(value, axis=0), theirs.numpy())


@pytest.mark.parametrize("fn", [xent.softmax, xent.sigmoid, xent.softplus])
def test_bad_types(fn):
    with pytest.raises(TypeError, match="x: expected real numbers"):
        fn(np.array([1 + 2j]))
    with pytest.raises(TypeError, match="x: expected real numbers"):
        fn(["a", "b"])
    with pytest.raises(TypeError, match="x: expected an array of numbers"):
        fn([[1.0], [1.0, 2.0]])


def test_longdouble_is_computed_in_float64():
    assert (
        xent.softmax(np.array([1.0, 2.0], dtype=np.longdouble)).dtype
        == np.float64
    )

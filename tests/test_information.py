"""Tests of xent/information.py: known values, Gibbs' inequality, the KL
decomposition, bad input.
"""

import numpy as np
import pytest
import scipy.special as sc
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st

import xent

K_MAX = 8


@st.composite
def distributions(draw, k=None):
    k = k or draw(st.integers(1, K_MAX))
    w = np.array(draw(st.lists(st.floats(0, 1), min_size=k, max_size=k)))
    if w.sum() == 0:
        w[0] = 1.0
    return w / w.sum()


@st.composite
def pairs(draw):
    k = draw(st.integers(1, K_MAX))
    return draw(distributions(k)), draw(distributions(k))


def test_known_values():
    assert xent.entropy([0.5, 0.5], base=2) == 1.0  # one fair coin is one bit
    assert xent.entropy(np.full(8, 1 / 8), base=2) == pytest.approx(
        3.0, rel=1e-15
    )
    assert xent.entropy(np.full(5, 0.2)) == pytest.approx(np.log(5), rel=1e-15)
    assert xent.entropy([1.0, 0.0]) == 0.0  # 0 log 0 = 0
    # H(p, q) for p = (1/2, 1/2), q = (9/10, 1/10): -(log2 0.9 + log2 0.1)/2
    assert xent.cross_entropy([0.5, 0.5], [0.9, 0.1], base=2) == pytest.approx(
        -(np.log2(0.9) + np.log2(0.1)) / 2, rel=1e-15
    )
    assert xent.cross_entropy([1.0, 0.0], [0.0, 1.0]) == np.inf
    assert xent.cross_entropy([0.0, 1.0], [0.0, 1.0]) == 0.0
    assert xent.kl_divergence([1.0, 0.0], [0.5, 0.5], base=2) == pytest.approx(
        1.0, rel=1e-15
    )
    assert xent.kl_divergence([0.5, 0.5], [1.0, 0.0]) == np.inf


def test_against_scipy(rng):
    p = rng.dirichlet(np.ones(6), 10)
    q = rng.dirichlet(np.ones(6), 10)
    np.testing.assert_allclose(
        xent.entropy(p), scipy.stats.entropy(p, axis=-1), rtol=1e-14
    )
    np.testing.assert_allclose(
        xent.entropy(p, base=2),
        scipy.stats.entropy(p, base=2, axis=-1),
        rtol=1e-14,
    )
    np.testing.assert_allclose(
        xent.kl_divergence(p, q), sc.rel_entr(p, q).sum(-1), rtol=1e-13
    )


def test_axis_dtype_and_broadcast(rng):
    p = rng.dirichlet(np.ones(4), 3)
    np.testing.assert_allclose(
        xent.entropy(p.T, axis=0), xent.entropy(p), rtol=1e-15
    )
    np.testing.assert_allclose(
        xent.cross_entropy(p.T, p.T[:, ::-1], axis=0),
        xent.cross_entropy(p, p[::-1]),
        rtol=1e-15,
    )
    q = np.full(4, 0.25)
    np.testing.assert_allclose(
        xent.cross_entropy(p, q), np.full(3, np.log(4)), rtol=1e-15
    )
    assert xent.entropy(p.astype(np.float32)).dtype == np.float32
    assert (
        xent.kl_divergence(p.astype(np.float32), p.astype(np.float32)).dtype
        == np.float32
    )


@given(pairs())
def test_gibbs_inequality(pq):
    p, q = pq
    assert xent.cross_entropy(p, q) >= xent.entropy(p) - 1e-12
    assert xent.cross_entropy(p, p) == pytest.approx(
        xent.entropy(p), abs=1e-15
    )


@given(pairs())
def test_kl_nonnegative_and_decomposition(pq):
    p, q = pq
    kl = xent.kl_divergence(p, q)
    assert kl >= 0
    ce = xent.cross_entropy(p, q)
    if np.isfinite(ce):
        assert ce == pytest.approx(xent.entropy(p) + kl, rel=1e-10, abs=1e-12)
    else:
        assert kl == np.inf


@given(distributions(), st.sampled_from([2, 10, np.e, 0.5]))
def test_base_is_a_change_of_unit(p, base):
    assert xent.entropy(p, base=base) == pytest.approx(
        xent.entropy(p) / np.log(base), rel=1e-12, abs=1e-15
    )


def test_bad_input():
    with pytest.raises(ValueError, match="p: each distribution must sum to 1"):
        xent.entropy([0.5, 0.6])
    with pytest.raises(
        ValueError, match=r"q: probabilities must lie in \[0, 1\]"
    ):
        xent.cross_entropy([0.5, 0.5], [1.5, -0.5])
    with pytest.raises(
        ValueError,
        match=r"base: expected None or a number > 0 other than 1, got 1\.0",
    ):
        xent.entropy([1.0], base=1)
    with pytest.raises(ValueError, match="base"):
        xent.entropy([1.0], base=-2)
    with pytest.raises(TypeError, match="base"):
        xent.entropy([1.0], base="2")
    with pytest.raises(ValueError, match="q: expected 2 outcomes"):
        xent.kl_divergence([0.5, 0.5], [0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="does not broadcast"):
        xent.kl_divergence(np.full((2, 2), 0.5), np.full((3, 2), 0.5))
    with pytest.raises(ValueError, match="p: expected at least one outcome"):
        xent.entropy(np.zeros((2, 0)))
    with pytest.raises(TypeError, match="p: expected real numbers"):
        xent.entropy(["a"])


# -- the axis: every function that takes one, positive and negative
# ------------


P23 = np.full((2, 3), 1 / 3)
Q3 = np.array([0.2, 0.3, 0.5])


@pytest.mark.parametrize("fn", [xent.cross_entropy, xent.kl_divergence])
@pytest.mark.parametrize("axis", [1, -1])
def test_lower_dimensional_q_with_any_axis(fn, axis):
    # Regression: axis=1 with a 1-d q raised IndexError (q was indexed by the
    # raw axis, the sum taken over it). Expected: the value of each row alone.
    out = fn(P23, Q3, axis=axis)
    np.testing.assert_array_equal(out, [fn(P23[0], Q3), fn(P23[1], Q3)])
    assert out.shape == (2,)
    # the same along axis 0 of the transposed input, with q as a column
    np.testing.assert_array_equal(
        fn(P23.T, Q3[:, None], axis=axis - 1 if axis > 0 else -2), out
    )


@pytest.mark.parametrize("fn", [xent.cross_entropy, xent.kl_divergence])
def test_axis_counts_in_the_broadcast_shape(fn, rng):
    p = rng.dirichlet(np.ones(4), (2, 3))  # (2, 3, 4)
    q = rng.dirichlet(np.ones(4), 3)  # (3, 4)
    expected = fn(p, np.broadcast_to(q, p.shape))
    for axis in (2, -1):
        np.testing.assert_array_equal(fn(p, q, axis=axis), expected)
    # q of higher dimension than p: axis 2 names the last axis of both
    np.testing.assert_array_equal(fn(q, p, axis=2), fn(q, p))
    pt = np.moveaxis(p, -1, 1)  # (2, 4, 3)
    qt = q.T  # (4, 3)
    for axis in (1, -2):
        np.testing.assert_allclose(fn(pt, qt, axis=axis), expected, rtol=1e-15)
    with pytest.raises(
        ValueError, match="q: expected 4 outcomes along axis 0"
    ):
        fn(qt, q[0], axis=0)  # q has no axis 0 of the broadcast shape
    with pytest.raises(ValueError, match="axis: 3 is out of range"):
        fn(p, q, axis=3)


@pytest.mark.parametrize("axis", [0, 1, -1, -2])
def test_entropy_axis(axis, rng):
    p = np.moveaxis(rng.dirichlet(np.ones(5), 3), -1, axis)
    expected = [
        xent.entropy(np.take(p, i, axis=1 - axis % 2)) for i in range(3)
    ]
    np.testing.assert_allclose(
        xent.entropy(p, axis=axis), expected, rtol=1e-15
    )


def test_scipy_users_get_a_hint():
    # scipy.stats.entropy normalises counts and unnormalised weights
    for p in ([0.2, 0.2], [2.0, 2.0]):
        with pytest.raises(ValueError, match=r"scipy\.stats\.entropy normal"):
            xent.entropy(p)
    with pytest.raises(ValueError, match=r"got shape \(2, 0\)$"):  # no hint
        xent.entropy(np.zeros((2, 0)))


def test_pytorch_users_get_a_hint():
    logits, classes = np.array([[2.0, 1.0, 0.1]]), np.array([0])
    with pytest.raises(
        ValueError, match=r"did you mean xent\.softmax_cross_entropy"
    ):
        xent.cross_entropy(logits, classes)
    with pytest.raises(
        ValueError, match=r"did you mean xent\.softmax_cross_entropy"
    ):
        xent.cross_entropy(np.array([[0.2, 0.7, 0.1]]), classes)
    with pytest.raises(
        ValueError, match=r"kl_div\(input, target\) takes log q"
    ):
        xent.kl_divergence(np.log([0.5, 0.5]), [0.5, 0.5])
    # no hint where the distributions are fine but the shapes are not
    with pytest.raises(ValueError, match=r"got shape \(3,\)$"):
        xent.cross_entropy([0.5, 0.5], [0.2, 0.3, 0.5])

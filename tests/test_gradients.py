"""Tests of xent/gradients.py: against autograd and finite differences; rows
sum to zero.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import xent

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _autograd(loss_fn, z, *args):
    zt = torch.tensor(z, requires_grad=True)
    out = loss_fn(zt, *args)
    # for reduction="none": the gradient of each element's own loss
    out.sum().backward()
    return zt.grad.numpy()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_softmax_ce_grad_matches_autograd(reduction, rng):
    z = rng.standard_normal((7, 4)) * 3
    t = rng.integers(0, 4, 7)
    theirs = _autograd(
        lambda v: F.cross_entropy(v, torch.from_numpy(t), reduction=reduction),
        z,
    )
    np.testing.assert_allclose(
        xent.softmax_cross_entropy_grad(z, t, reduction=reduction),
        theirs,
        rtol=1e-12,
        atol=1e-15,
    )
    y = rng.dirichlet(np.ones(4), 7)
    theirs = _autograd(
        lambda v: F.cross_entropy(v, torch.from_numpy(y), reduction=reduction),
        z,
    )
    np.testing.assert_allclose(
        xent.softmax_cross_entropy_grad(z, y, reduction=reduction),
        theirs,
        rtol=1e-12,
        atol=1e-15,
    )


def test_softmax_ce_grad_batch_shape_and_dtype(rng):
    z = rng.standard_normal((2, 3, 4)).astype(np.float32)
    t = rng.integers(0, 4, (2, 3))
    g = xent.softmax_cross_entropy_grad(z, t)
    assert g.shape == z.shape and g.dtype == np.float32
    expected = (xent.softmax(z.astype(np.float64)) - xent.one_hot(t, 4)) / 6
    np.testing.assert_allclose(g, expected, rtol=1e-5, atol=1e-7)


def test_softmax_ce_grad_keeps_the_digits_of_a_confident_target():
    # p_t - 1 = -e^-40 / (1 + e^-40) = -4.248354255291589e-18 (mpmath); softmax
    # - onehot gives 0.
    g = xent.softmax_cross_entropy_grad(
        np.array([[40.0, 0.0]]), np.array([0]), reduction="sum"
    )
    assert g[0, 0] == pytest.approx(-4.248354255291589e-18, rel=1e-15, abs=0)
    assert g[0, 1] == pytest.approx(4.248354255291589e-18, rel=1e-15, abs=0)
    g32 = xent.softmax_cross_entropy_grad(
        np.array([[20.0, 0.0]], dtype=np.float32),
        np.array([0]),
        reduction="sum",
    )
    assert g32[0, 0] == pytest.approx(-2.0611536e-09, rel=1e-6, abs=0)


def test_softmax_ce_grad_special_rows():
    z = np.array(
        [
            [0.0, -np.inf, 1.0],
            [-np.inf, -np.inf, -np.inf],
            [np.nan, 0.0, 0.0],
            [-900.0, -901.0, -1000.0],
        ]
    )
    g = xent.softmax_cross_entropy_grad(
        z, np.array([0, 1, 1, 1]), reduction="sum"
    )
    np.testing.assert_allclose(
        g[0], xent.softmax([0.0, -np.inf, 1.0]) - [1, 0, 0], rtol=1e-15
    )
    assert np.all(np.isnan(g[1])) and np.all(
        np.isnan(g[2])
    )  # no softmax exists; NaN propagates
    np.testing.assert_allclose(
        g[3], xent.softmax([0.0, -1.0, -100.0]) - [0, 1, 0], rtol=1e-14
    )  # shift invariance


def test_softmax_ce_grad_large_logits_is_finite():
    g = xent.softmax_cross_entropy_grad(
        np.array([[1000.0, -1000.0]]), np.array([1])
    )
    np.testing.assert_array_equal(g, [[1.0, -1.0]])


@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 4), st.integers(1, 6)),
        elements=st.floats(-100, 100),
    ),
    st.data(),
)
def test_grad_rows_sum_to_zero(z, data):
    t = np.array(
        data.draw(
            st.lists(
                st.integers(0, z.shape[1] - 1),
                min_size=z.shape[0],
                max_size=z.shape[0],
            )
        )
    )
    g = xent.softmax_cross_entropy_grad(z, t, reduction="sum")
    np.testing.assert_allclose(g.sum(-1), 0.0, atol=1e-14)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_grad_matches_autograd(reduction, rng):
    z = rng.standard_normal((5, 3)) * 4
    y = rng.uniform(0, 1, (5, 3))
    theirs = _autograd(
        lambda v: F.binary_cross_entropy_with_logits(
            v, torch.from_numpy(y), reduction=reduction
        ),
        z,
    )
    np.testing.assert_allclose(
        xent.binary_cross_entropy_with_logits_grad(z, y, reduction=reduction),
        theirs,
        rtol=1e-12,
        atol=1e-15,
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_sigmoid_grad_matches_autograd(reduction, rng):
    z = rng.standard_normal((5, 3)) * 4
    y = rng.uniform(0, 1, (5, 3))
    theirs = _autograd(
        lambda v: F.mse_loss(
            torch.sigmoid(v), torch.from_numpy(y), reduction=reduction
        ),
        z,
    )
    np.testing.assert_allclose(
        xent.mse_sigmoid_grad(z, y, reduction=reduction),
        theirs,
        rtol=1e-12,
        atol=1e-15,
    )


def test_mse_gradient_vanishes_when_confidently_wrong():
    # 2 (sigma(-10) - 1) sigma(-10) sigma(10) = -9.0787e-5 (mpmath);
    # cross-entropy gives sigma(-10) - 1.
    assert xent.mse_sigmoid_grad([-10.0], [1.0], reduction="sum")[
        0
    ] == pytest.approx(-9.078749372606487e-05, rel=1e-13)
    assert xent.binary_cross_entropy_with_logits_grad(
        [-10.0], [1.0], reduction="sum"
    )[0] == pytest.approx(-0.9999546021312976, rel=1e-15)


def test_numerical_gradient_agrees(rng):
    z = rng.standard_normal((3, 4))
    t = rng.integers(0, 4, 3)
    num = xent.numerical_gradient(
        lambda v: xent.softmax_cross_entropy(v, t), z
    )
    np.testing.assert_allclose(
        num, xent.softmax_cross_entropy_grad(z, t), rtol=1e-7, atol=1e-10
    )
    num = xent.numerical_gradient(
        lambda v: np.sum(v**3), np.array([2.0, -1.0]), eps=1e-5
    )
    np.testing.assert_allclose(num, [12.0, 3.0], rtol=1e-9)


def test_bad_input():
    with pytest.raises(TypeError, match="f: expected a callable"):
        xent.numerical_gradient(3, [1.0])
    with pytest.raises(ValueError, match="eps: expected a positive number"):
        xent.numerical_gradient(np.sum, [1.0], eps=0.0)
    with pytest.raises(TypeError, match="eps"):
        xent.numerical_gradient(np.sum, [1.0], eps=[1e-3])
    with pytest.raises(TypeError, match="f: expected a scalar result"):
        xent.numerical_gradient(lambda v: v, [1.0, 2.0])
    with pytest.raises(
        ValueError, match="targets: class index 5 out of range"
    ):
        xent.softmax_cross_entropy_grad(np.zeros((1, 3)), np.array([5]))
    with pytest.raises(
        ValueError, match="targets: each distribution must sum to 1"
    ):
        xent.softmax_cross_entropy_grad(
            np.zeros((1, 2)), np.array([[0.5, 0.6]])
        )
    with pytest.raises(ValueError, match="reduction"):
        xent.mse_sigmoid_grad([0.0], [1.0], reduction="avg")
    with pytest.raises(
        ValueError, match=r"targets: probabilities must lie in \[0, 1\]"
    ):
        xent.binary_cross_entropy_with_logits_grad([0.0], [2.0])

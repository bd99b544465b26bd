"""Tests of xent/labels.py."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import xent


def test_one_hot():
    np.testing.assert_array_equal(
        xent.one_hot([0, 2], 3), [[1, 0, 0], [0, 0, 1]]
    )
    assert xent.one_hot(np.zeros((2, 3), dtype=int), 4).shape == (2, 3, 4)
    assert xent.one_hot([1], 2).dtype == np.float64


def test_smooth_labels_values():
    # uniform: true class 1 - eps + eps/K = 0.925, others eps/K = 0.025 (eps =
    # 0.1, K = 4)
    np.testing.assert_allclose(
        xent.smooth_labels([0], 0.1, num_classes=4),
        [[0.925, 0.025, 0.025, 0.025]],
        rtol=1e-15,
    )
    # others: true class 1 - eps = 0.9, others eps/(K-1) = 0.0333...
    np.testing.assert_allclose(
        xent.smooth_labels([0], 0.1, convention="others", num_classes=4),
        [[0.9] + [0.1 / 3] * 3],
        rtol=1e-15,
    )
    np.testing.assert_allclose(
        xent.smooth_labels([1], 0.0, num_classes=3), [[0, 1, 0]]
    )
    np.testing.assert_allclose(
        xent.smooth_labels([1], 1.0, num_classes=4), [[0.25] * 4]
    )
    y = np.array([[0.2, 0.8]], dtype=np.float32)
    assert xent.smooth_labels(y, 0.1).dtype == np.float32


@given(
    st.floats(0, 1), st.integers(2, 10), st.sampled_from(["uniform", "others"])
)
def test_smoothed_rows_are_distributions(eps, k, convention):
    y = xent.smooth_labels(
        np.arange(k), eps, convention=convention, num_classes=k
    )
    np.testing.assert_allclose(y.sum(-1), 1.0, rtol=1e-14)
    assert np.all(y >= 0)


@given(st.floats(0, 1), st.integers(2, 10))
def test_conventions_convert_into_each_other(eps, k):
    t = np.arange(k)
    a = xent.smooth_labels(t, eps, convention="uniform", num_classes=k)
    b = xent.smooth_labels(
        t, eps * (k - 1) / k, convention="others", num_classes=k
    )
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_matches_torch_label_smoothing(rng):
    torch = pytest.importorskip("torch")
    z = rng.standard_normal((6, 5))
    t = rng.integers(0, 5, 6)
    theirs = torch.nn.functional.cross_entropy(
        torch.from_numpy(z), torch.from_numpy(t), label_smoothing=0.2
    ).item()
    ours = xent.softmax_cross_entropy(
        z, xent.smooth_labels(t, 0.2, num_classes=5)
    )
    assert ours == pytest.approx(theirs, rel=1e-13)


def test_bad_input():
    with pytest.raises(
        ValueError,
        match=r"labels: class index 3 out of range for 3 classes "
        r"\(expected 0..2\)",
    ):
        xent.one_hot([3], 3)
    with pytest.raises(
        TypeError, match="labels: expected integer class indices"
    ):
        xent.one_hot([0.0], 3)
    with pytest.raises(
        ValueError, match="num_classes: expected a positive integer"
    ):
        xent.one_hot([0], 0)
    with pytest.raises(TypeError, match="num_classes"):
        xent.one_hot([0], 3.0)
    with pytest.raises(
        ValueError, match=r"label_smoothing: expected a number in \[0, 1\]"
    ):
        xent.smooth_labels([0], -0.1, num_classes=2)
    with pytest.raises(
        ValueError, match="convention: expected one of 'uniform', 'others'"
    ):
        xent.smooth_labels([0], 0.1, convention="pytorch", num_classes=2)
    with pytest.raises(ValueError, match="num_classes: required"):
        xent.smooth_labels([0], 0.1)
    with pytest.raises(ValueError, match="num_classes: 3 does not match"):
        xent.smooth_labels([[0.5, 0.5]], 0.1, num_classes=3)
    with pytest.raises(
        ValueError, match="targets: each distribution must sum to 1"
    ):
        xent.smooth_labels([[0.5, 0.6]], 0.1)
    with pytest.raises(ValueError, match="targets: expected distributions"):
        xent.smooth_labels(0.5, 0.1)
    with pytest.raises(ValueError, match="'others' needs at least 2 classes"):
        xent.smooth_labels([0], 0.1, convention="others", num_classes=1)


# -- one vocabulary, old names deprecated
# ---------------------------------------


def test_smoothing_weights_is_the_one_formula():
    # (on, off): uniform (1 - eps + eps/K, eps/K); others (1 - eps, eps/(K-1))
    assert xent.smoothing_weights(4, 0.1) == pytest.approx(
        (0.925, 0.025), rel=1e-15
    )
    assert xent.smoothing_weights(4, 0.1, "others") == pytest.approx(
        (0.9, 0.1 / 3), rel=1e-15
    )
    assert xent.smoothing_weights(1, 0.5) == (1.0, 0.5)
    assert xent.smoothing_weights(1, 0.0, "others") == (1.0, 0.0)
    with pytest.raises(ValueError, match="'others' needs at least 2 classes"):
        xent.smoothing_weights(1, 0.1, "others")
    with pytest.raises(ValueError, match="convention: expected one of"):
        xent.smoothing_weights(3, 0.1, "pytorch")
    assert set(xent.labels.CONVENTIONS) == {"uniform", "others"}
    assert "fairseq" in xent.labels.CONVENTIONS["others"]


@given(
    st.floats(0, 1), st.integers(1, 9), st.sampled_from(["uniform", "others"])
)
def test_smooth_labels_and_the_loss_agree(eps, k, convention):
    if k == 1 and convention == "others":
        eps = 0.0
    rng = np.random.default_rng(k)
    z = rng.standard_normal((5, k))
    t = rng.integers(0, k, 5)
    y = xent.smooth_labels(t, eps, num_classes=k, convention=convention)
    on, _off = xent.smoothing_weights(k, eps, convention)
    np.testing.assert_array_equal(y[np.arange(5), t], on)
    np.testing.assert_allclose(y.sum(-1), 1.0, rtol=1e-14)
    a = xent.softmax_cross_entropy(
        z, t, label_smoothing=eps, convention=convention
    )
    b = xent.softmax_cross_entropy(z, y)
    assert a == pytest.approx(b, rel=1e-13, abs=1e-15)


def test_deprecated_names_still_work_and_warn():
    new = xent.smooth_labels([0, 2], 0.2, num_classes=3, convention="others")
    with pytest.warns(
        DeprecationWarning,
        match="epsilon= is deprecated, use label_smoothing=",
    ):
        old = xent.smooth_labels(
            [0, 2], epsilon=0.2, convention="others", num_classes=3
        )
    np.testing.assert_array_equal(old, new)
    z, t = np.array([[1.0, 2.0, 0.5]]), np.array([0])
    new_loss = xent.softmax_cross_entropy(
        z, t, label_smoothing=0.2, convention="others"
    )
    with pytest.warns(
        DeprecationWarning, match="smoothing= is deprecated, use convention="
    ) as rec:
        old_loss = xent.softmax_cross_entropy(
            z, t, label_smoothing=0.2, smoothing="others"
        )
    assert old_loss == new_loss
    assert rec[0].filename == __file__  # attributed to the caller
    with pytest.raises(
        TypeError,
        match="both label_smoothing= and its deprecated alias epsilon=",
    ):
        xent.smooth_labels([0], 0.1, epsilon=0.1, num_classes=2)
    with pytest.raises(
        TypeError, match="both convention= and its deprecated alias smoothing="
    ):
        xent.softmax_cross_entropy(
            z, t, convention="others", smoothing="others"
        )
    with pytest.raises(TypeError, match="missing argument label_smoothing"):
        xent.smooth_labels([0], num_classes=2)

"""Tests of xent/losses.py: oracle against PyTorch over every option, ulp
bounds, bad input.
"""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import xent
from xent.testing import (
    BCE_TARGETS,
    SOFTMAX_REGIMES,
    bce_logits,
    ref_bce_with_logits,
    ref_softmax_cross_entropy,
    softmax_regime,
    ulp_error,
)

torch = pytest.importorskip("torch")
F = torch.nn.functional

K = 5


def _batch(rng, shape=(12,), ignore=True):
    z = rng.standard_normal((*shape, K)) * 3
    t = rng.integers(0, K, shape)
    if ignore:
        t.reshape(-1)[::4] = -100
    return z, t


def _torch_ce(z, t, **kw):
    zt = torch.from_numpy(np.moveaxis(z, -1, 1) if z.ndim > 2 else z)
    tt = torch.from_numpy(np.moveaxis(t, -1, 1) if t.ndim > 2 else t)
    if "weight" in kw and kw["weight"] is not None:
        kw["weight"] = torch.from_numpy(kw["weight"])
    out = F.cross_entropy(zt, tt, **kw).numpy()
    if out.ndim > 1:
        out = np.moveaxis(out, 1, -1) if t.ndim > 2 else out
    return out


# -- softmax_cross_entropy against F.cross_entropy, every option combination
# ----------------------

COMBOS = list(
    itertools.product(
        [None, "w"],  # weight
        [-100, 2],  # ignore_index (2 is also a real class)
        ["mean", "sum", "none"],
        [0.0, 0.1, 0.7],  # label_smoothing
        [(12,), (3, 4)],  # batch shape
    )
)


@pytest.mark.parametrize("weight,ignore_index,reduction,eps,shape", COMBOS)
def test_class_targets_match_torch(
    weight, ignore_index, reduction, eps, shape, rng
):
    z, t = _batch(rng, shape, ignore=False)
    t.reshape(-1)[1::5] = ignore_index
    w = rng.uniform(0.2, 2.0, K) if weight else None
    kw = dict(
        weight=w,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=eps,
    )
    ours = xent.softmax_cross_entropy(z, t, **kw)
    theirs = _torch_ce(z, t, **kw)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "weight,reduction,eps",
    list(
        itertools.product(
            [None, "w"], ["mean", "sum", "none"], [0.0, 0.1, 0.7]
        )
    ),
)
def test_probability_targets_match_torch(weight, reduction, eps, rng):
    z = rng.standard_normal((9, K)) * 3
    y = rng.dirichlet(np.ones(K), 9)
    y[0] = np.eye(K)[1]  # a one-hot row, with zeros
    w = rng.uniform(0.2, 2.0, K) if weight else None
    kw = dict(weight=w, reduction=reduction, label_smoothing=eps)
    np.testing.assert_allclose(
        xent.softmax_cross_entropy(z, y, **kw),
        _torch_ce(z, y, **kw),
        rtol=1e-12,
        atol=1e-14,
    )


@pytest.mark.parametrize("weight", [None, "w"])
def test_all_ignored_batch(weight, rng):
    z = rng.standard_normal((4, K))
    t = np.full(4, -100)
    w = rng.uniform(0.2, 2.0, K) if weight else None
    ours = xent.softmax_cross_entropy(z, t, weight=w)
    assert np.isnan(ours) and np.isnan(_torch_ce(z, t, weight=w))
    assert xent.softmax_cross_entropy(z, t, reduction="sum") == 0.0
    np.testing.assert_array_equal(
        xent.softmax_cross_entropy(z, t, reduction="none"), np.zeros(4)
    )


def test_float32_matches_torch_and_stays_float32(rng):
    z, t = _batch(rng)
    z32 = z.astype(np.float32)
    ours = xent.softmax_cross_entropy(z32, t, label_smoothing=0.1)
    assert ours.dtype == np.float32
    theirs = F.cross_entropy(
        torch.from_numpy(z32), torch.from_numpy(t), label_smoothing=0.1
    ).item()
    assert ours == pytest.approx(theirs, rel=2e-6)


def test_integer_logits_promoted_to_float64():
    out = xent.softmax_cross_entropy(np.array([[1, 2, 3]]), np.array([2]))
    assert out.dtype == np.float64
    assert out == pytest.approx(np.log(np.exp([1, 2, 3]).sum()) - 3, rel=1e-15)


# -- the "others" convention
# -----------------------------------------------------------------------


@pytest.mark.parametrize("weight", [None, "w"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_others_smoothing_is_ce_against_smoothed_labels(
    weight, reduction, rng
):
    z = rng.standard_normal((8, K)) * 2
    t = rng.integers(0, K, 8)
    w = rng.uniform(0.2, 2.0, K) if weight else None
    eps = 0.2
    ours = xent.softmax_cross_entropy(
        z,
        t,
        weight=w,
        label_smoothing=eps,
        convention="others",
        reduction=reduction,
    )
    y = xent.smooth_labels(t, eps, convention="others", num_classes=K)
    per_row = -(y * xent.log_softmax(z) * (1 if w is None else w)).sum(-1)
    expected = {
        "none": per_row,
        "sum": per_row.sum(),
        "mean": per_row.sum() / (8 if w is None else w[t].sum()),
    }[reduction]
    np.testing.assert_allclose(ours, expected, rtol=1e-12)


@given(st.floats(0.0, 1.0), st.integers(2, 8))
def test_smoothing_conventions_convert(eps_uniform, k):
    rng = np.random.default_rng(k)
    z = rng.standard_normal((3, k))
    t = rng.integers(0, k, 3)
    a = xent.softmax_cross_entropy(z, t, label_smoothing=eps_uniform)
    b = xent.softmax_cross_entropy(
        z, t, label_smoothing=eps_uniform * (k - 1) / k, convention="others"
    )
    assert a == pytest.approx(b, rel=1e-12)


def test_others_smoothing_with_probability_targets(rng):
    z = rng.standard_normal((4, K))
    y = rng.dirichlet(np.ones(K), 4)
    ours = xent.softmax_cross_entropy(
        z, y, label_smoothing=0.3, convention="others"
    )
    ys = xent.smooth_labels(y, 0.3, convention="others")
    assert ours == pytest.approx(xent.softmax_cross_entropy(z, ys), rel=1e-12)


# -- special values
# -----------------------------------------------------------------------------


def test_zero_target_mass_on_neg_inf_logit():
    z = np.array([[0.0, -np.inf, 1.0]])
    y = np.array([[0.5, 0.0, 0.5]])
    out = xent.softmax_cross_entropy(z, y)
    assert np.isfinite(out)
    assert out == pytest.approx(
        -0.5 * (xent.log_softmax(z)[0, 0] + xent.log_softmax(z)[0, 2]),
        rel=1e-15,
    )
    assert xent.softmax_cross_entropy(z, np.array([1])) == np.inf
    assert (
        xent.softmax_cross_entropy(z, np.array([0]), label_smoothing=0.1)
        == np.inf
    )


def test_nan_propagates():
    assert np.isnan(
        xent.softmax_cross_entropy(np.array([[np.nan, 1.0]]), np.array([1]))
    )
    assert np.isnan(xent.binary_cross_entropy_with_logits([np.nan], [1.0]))


def test_confident_loss_keeps_its_digits():
    # log1p(e^-40) = 4.248354255291589e-18 (mpmath); logsumexp(z) - z_t gives
    # 0.
    assert xent.softmax_cross_entropy(
        np.array([[40.0, 0.0]]), np.array([0])
    ) == pytest.approx(4.248354255291589e-18, rel=1e-15, abs=0)


@pytest.mark.parametrize("regime", SOFTMAX_REGIMES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_cross_entropy_ulp_bound(regime, dtype):
    z, t = softmax_regime(regime, dtype, rows=120)
    out = xent.softmax_cross_entropy(z, t, reduction="none")
    assert out.dtype == dtype
    worst = max(
        ulp_error(out[i], ref_softmax_cross_entropy(z[i], t[i]), dtype)
        for i in range(len(t))
    )
    assert worst <= 4, f"{regime} {dtype.__name__}: {worst:.2f} ulp"


@pytest.mark.parametrize("y", BCE_TARGETS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bce_with_logits_ulp_bound(y, dtype):
    z = bce_logits(dtype)
    out = xent.binary_cross_entropy_with_logits(
        z, np.full_like(z, y), reduction="none"
    )
    worst = max(
        ulp_error(out[i], ref_bce_with_logits(z[i], y), dtype)
        for i in range(len(z))
    )
    assert worst <= 4, f"y={y} {dtype.__name__}: {worst:.2f} ulp"


# -- binary cross-entropy
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "use_w,use_pw,reduction",
    list(
        itertools.product(
            [False, True], [False, True], ["mean", "sum", "none"]
        )
    ),
)
def test_bce_with_logits_matches_torch(use_w, use_pw, reduction, rng):
    z = rng.standard_normal((6, 3)) * 4
    y = rng.uniform(0, 1, (6, 3))
    y[0] = [0.0, 1.0, 1.0]
    w = rng.uniform(0.5, 2, (6, 3)) if use_w else None
    pw = rng.uniform(0.5, 3, 3) if use_pw else None
    ours = xent.binary_cross_entropy_with_logits(
        z, y, weight=w, pos_weight=pw, reduction=reduction
    )
    kw = {"reduction": reduction}
    if use_w:
        kw["weight"] = torch.from_numpy(w)
    if use_pw:
        kw["pos_weight"] = torch.from_numpy(pw)
    theirs = F.binary_cross_entropy_with_logits(
        torch.from_numpy(z), torch.from_numpy(y), **kw
    ).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "use_w,reduction",
    list(itertools.product([False, True], ["mean", "sum", "none"])),
)
def test_bce_on_probabilities_matches_torch(use_w, reduction, rng):
    p = rng.uniform(0.01, 0.99, (5, 4))
    p[0] = [0.0, 1.0, 0.0, 1.0]  # clamped logs
    y = rng.integers(0, 2, (5, 4)).astype(float)
    y[0] = [0.0, 1.0, 1.0, 0.0]
    w = rng.uniform(0.5, 2, 4) if use_w else None
    ours = xent.binary_cross_entropy(p, y, weight=w, reduction=reduction)
    kw = {"reduction": reduction}
    if use_w:
        kw["weight"] = torch.from_numpy(w)
    theirs = F.binary_cross_entropy(
        torch.from_numpy(p), torch.from_numpy(y), **kw
    ).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


def test_bce_is_bernoulli_negative_log_likelihood(rng):
    p = rng.uniform(0.05, 0.95, 20)
    y = rng.integers(0, 2, 20).astype(float)
    nll = -np.log(p**y * (1 - p) ** (1 - y))
    np.testing.assert_allclose(
        xent.binary_cross_entropy(p, y, reduction="none"), nll, rtol=1e-13
    )
    z = np.log(p / (1 - p))
    np.testing.assert_allclose(
        xent.binary_cross_entropy_with_logits(z, y, reduction="none"),
        nll,
        rtol=1e-12,
    )


# -- categorical cross-entropy and MSE
# -----------------------------------------------------------


def test_categorical_cross_entropy(rng):
    q = rng.dirichlet(np.ones(K), 7)
    t = rng.integers(0, K, 7)
    by_class = xent.categorical_cross_entropy(q, t, reduction="none")
    np.testing.assert_allclose(
        by_class, -np.log(q[np.arange(7), t]), rtol=1e-15
    )
    np.testing.assert_allclose(
        xent.categorical_cross_entropy(
            q, xent.one_hot(t, K), reduction="none"
        ),
        by_class,
        rtol=1e-15,
    )
    y = rng.dirichlet(np.ones(K), 7)
    np.testing.assert_allclose(
        xent.categorical_cross_entropy(q, y, reduction="none"),
        xent.cross_entropy(y, q),
        rtol=1e-14,
    )
    assert xent.categorical_cross_entropy(q, t) == pytest.approx(
        by_class.mean(), rel=1e-15
    )
    assert xent.categorical_cross_entropy([[1.0, 0.0]], [1]) == np.inf
    assert xent.categorical_cross_entropy([[1.0, 0.0]], [[1.0, 0.0]]) == 0.0
    assert (
        xent.categorical_cross_entropy(q.astype(np.float32), t).dtype
        == np.float32
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_matches_torch(reduction, rng):
    a, b = rng.standard_normal((2, 4, 3))
    theirs = F.mse_loss(
        torch.from_numpy(a), torch.from_numpy(b), reduction=reduction
    ).numpy()
    np.testing.assert_allclose(
        xent.mse_loss(a, b, reduction=reduction), theirs, rtol=1e-14
    )


@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 5), st.integers(1, 6)),
        elements=st.floats(-30, 30),
    )
)
def test_cross_entropy_at_least_entropy_of_target(z):
    y = xent.softmax(np.roll(z, 1, axis=-1))
    ce = xent.softmax_cross_entropy(z, y, reduction="none")
    assert np.all(ce >= xent.entropy(y) - 1e-9)


# -- bad input
# -----------------------------------------------------------------------------


def test_bad_class_targets(rng):
    z = rng.standard_normal((3, 3))
    with pytest.raises(
        ValueError,
        match=r"targets: class index 3 out of range for 3 classes "
        r"\(expected 0..2 or ignore_index=-100\)",
    ):
        xent.softmax_cross_entropy(z, np.array([0, 3, 1]))
    with pytest.raises(ValueError, match="negative class index -1"):
        xent.softmax_cross_entropy(z, np.array([0, -1, 1]))
    with pytest.raises(ValueError, match=r"targets: expected shape \(3,\)"):
        xent.softmax_cross_entropy(z, np.array([0, 1]))
    with pytest.raises(
        TypeError, match="targets: float targets must be distributions"
    ):
        xent.softmax_cross_entropy(z, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(
        TypeError,
        match="targets: expected integer class indices, got booleans",
    ):
        xent.softmax_cross_entropy(z, np.array([True, False, True]))


def test_bad_probability_targets(rng):
    z = rng.standard_normal((2, 3))
    with pytest.raises(
        ValueError, match="targets: each distribution must sum to 1"
    ):
        xent.softmax_cross_entropy(
            z, np.array([[0.5, 0.4, 0.0], [1.0, 0.0, 0.0]])
        )
    with pytest.raises(
        ValueError, match=r"targets: probabilities must lie in \[0, 1\]"
    ):
        xent.softmax_cross_entropy(
            z, np.array([[1.5, -0.5, 0.0], [1.0, 0.0, 0.0]])
        )
    with pytest.raises(
        ValueError, match="probs: each distribution must sum to 1"
    ):
        xent.categorical_cross_entropy([[0.5, 0.6]], [0])
    with pytest.raises(
        ValueError, match=r"probs: probabilities must lie in \[0, 1\]"
    ):
        xent.binary_cross_entropy([1.2], [1.0])
    with pytest.raises(
        ValueError, match=r"targets: probabilities must lie in \[0, 1\]"
    ):
        xent.binary_cross_entropy_with_logits([0.0], [2.0])


def test_bad_options(rng):
    z = rng.standard_normal((2, 3))
    t = np.array([0, 1])
    with pytest.raises(
        ValueError,
        match="reduction: expected one of 'mean', 'sum', 'none', got 'avg'",
    ):
        xent.softmax_cross_entropy(z, t, reduction="avg")
    with pytest.raises(
        ValueError, match="convention: expected one of 'uniform', 'others'"
    ):
        xent.softmax_cross_entropy(z, t, convention="gaussian")
    with pytest.raises(
        ValueError,
        match=r"label_smoothing: expected a number in \[0, 1\], got 1.5",
    ):
        xent.softmax_cross_entropy(z, t, label_smoothing=1.5)
    with pytest.raises(TypeError, match="label_smoothing"):
        xent.softmax_cross_entropy(z, t, label_smoothing="0.1")
    with pytest.raises(
        ValueError,
        match=r"weight: expected one weight per class, "
        r"shape \(3,\), got \(2,\)",
    ):
        xent.softmax_cross_entropy(z, t, weight=[1.0, 2.0])
    with pytest.raises(
        ValueError, match="logits: expected an array with a class axis"
    ):
        xent.softmax_cross_entropy(1.0, 0)
    with pytest.raises(
        ValueError, match="logits: expected at least one class"
    ):
        xent.softmax_cross_entropy(np.zeros((2, 0)), t)
    with pytest.raises(TypeError, match="ignore_index: expected an integer"):
        xent.softmax_cross_entropy(z, t, ignore_index=None)
    with pytest.raises(ValueError, match="'others' needs at least 2 classes"):
        xent.softmax_cross_entropy(
            np.zeros((2, 1)),
            np.array([0, 0]),
            label_smoothing=0.1,
            convention="others",
        )
    with pytest.raises(ValueError, match="reduction"):
        xent.binary_cross_entropy_with_logits([0.0], [1.0], reduction="max")
    with pytest.raises(
        ValueError,
        match=r"targets: expected shape \(2,\) \(the shape of logits\)",
    ):
        xent.binary_cross_entropy_with_logits([0.0, 1.0], [1.0])
    with pytest.raises(ValueError, match="pos_weight: shape"):
        xent.binary_cross_entropy_with_logits(
            np.zeros((2, 3)), np.zeros((2, 3)), pos_weight=[1.0, 2.0]
        )
    with pytest.raises(ValueError, match=r"targets: expected shape"):
        xent.mse_loss([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match=r"targets: expected shape"):
        xent.categorical_cross_entropy([[0.5, 0.5]], [[1.0, 0.0, 0.0]])

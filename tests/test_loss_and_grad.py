"""Tests of xent.softmax_cross_entropy_and_grad: one pass, the same numbers as
the loss and the gradient alone, PyTorch's autograd over every option
combination, and the loss's accuracy in ulp against mpmath."""

import itertools

import numpy as np
import pytest

import xent
from xent.testing import (
    SOFTMAX_REGIMES,
    ref_softmax_cross_entropy,
    softmax_regime,
    ulp_error,
)

torch = pytest.importorskip("torch")
F = torch.nn.functional

K = 5


def _torch_loss_and_grad(
    z, t, *, weight, ignore_index, reduction, eps, convention
):
    """PyTorch's loss and autograd gradient (classes on the last axis).

    "uniform" is F.cross_entropy's own label_smoothing; "others" (fairseq's
    convention, which PyTorch lacks) is -sum_j w_j y'_j log_softmax(z)_j with
    y' built in torch and the same denominators as F.cross_entropy."""
    zt = torch.tensor(z, requires_grad=True)
    z2 = zt.reshape(-1, z.shape[-1])
    wt = None if weight is None else torch.from_numpy(weight)
    if t.dtype.kind == "f":
        tt = torch.from_numpy(t.reshape(-1, z.shape[-1]))
    else:
        tt = torch.from_numpy(t.reshape(-1))
    if convention == "uniform" or eps == 0:
        out = F.cross_entropy(
            z2,
            tt,
            weight=wt,
            ignore_index=ignore_index,
            reduction=reduction,
            label_smoothing=eps,
        )
    else:
        valid = tt != ignore_index
        safe = torch.where(valid, tt, 0)
        y = torch.full(z2.shape, eps / (K - 1), dtype=z2.dtype)
        y[torch.arange(len(safe)), safe] = 1 - eps
        w = torch.ones(K, dtype=z2.dtype) if wt is None else wt
        per_row = -(w * y * F.log_softmax(z2, -1)).sum(-1) * valid
        if reduction == "none":
            out = per_row
        elif reduction == "sum":
            out = per_row.sum()
        else:
            out = per_row.sum() / (w[safe] * valid).sum()
    out.sum().backward()  # "none": each row's gradient of its own loss
    shape = z.shape[:-1] if reduction == "none" else ()
    return out.detach().numpy().reshape(shape), zt.grad.numpy()


COMBOS = list(
    itertools.product(
        [None, "w"],  # weight
        [-100, 2],  # ignore_index (2 is also a real class)
        ["mean", "sum", "none"],
        [0.0, 0.1, 0.7],  # label_smoothing
        ["uniform", "others"],
        [(12,), (3, 4)],  # batch shape
    )
)


@pytest.mark.parametrize(
    "weight,ignore_index,reduction,eps,convention,shape", COMBOS
)
def test_class_targets_match_torch_autograd(
    weight, ignore_index, reduction, eps, convention, shape, rng
):
    z = rng.standard_normal((*shape, K)) * 3
    t = rng.integers(0, K, shape)
    t.reshape(-1)[1::5] = ignore_index
    w = rng.uniform(0.2, 2.0, K) if weight else None
    kw = dict(weight=w, ignore_index=ignore_index, reduction=reduction)
    loss, grad = xent.softmax_cross_entropy_and_grad(
        z, t, label_smoothing=eps, convention=convention, **kw
    )
    t_loss, t_grad = _torch_loss_and_grad(
        z, t, eps=eps, convention=convention, **kw
    )
    np.testing.assert_allclose(loss, t_loss, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grad, t_grad, rtol=1e-12, atol=1e-15)
    assert grad.shape == z.shape and grad.dtype == np.float64
    # the loss alone and the gradient alone: the same bits
    alone = xent.softmax_cross_entropy(
        z, t, label_smoothing=eps, convention=convention, **kw
    )
    np.testing.assert_array_equal(loss, alone)
    np.testing.assert_array_equal(
        grad,
        xent.softmax_cross_entropy_grad(
            z, t, label_smoothing=eps, convention=convention, **kw
        ),
    )


@pytest.mark.parametrize(
    "weight,reduction,eps,convention",
    list(
        itertools.product(
            [None, "w"],
            ["mean", "sum", "none"],
            [0.0, 0.3],
            ["uniform", "others"],
        )
    ),
)
def test_probability_targets_match_torch_autograd(
    weight, reduction, eps, convention, rng
):
    z = rng.standard_normal((9, K)) * 3
    y = rng.dirichlet(np.ones(K), 9)
    y[0] = np.eye(K)[1]
    w = rng.uniform(0.2, 2.0, K) if weight else None
    loss, grad = xent.softmax_cross_entropy_and_grad(
        z,
        y,
        weight=w,
        reduction=reduction,
        label_smoothing=eps,
        convention=convention,
    )
    # torch on the targets smoothed by xent.smooth_labels (PyTorch has no
    # "others")
    ys = xent.smooth_labels(y, eps, convention=convention)
    t_loss, t_grad = _torch_loss_and_grad(
        z,
        ys,
        weight=w,
        ignore_index=-100,
        reduction=reduction,
        eps=0.0,
        convention="uniform",
    )
    np.testing.assert_allclose(loss, t_loss, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grad, t_grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("weight", [None, "w"])
def test_all_ignored_batch(weight, rng):
    z = rng.standard_normal((4, K))
    t = np.full(4, -100)
    w = rng.uniform(0.2, 2.0, K) if weight else None
    loss, grad = xent.softmax_cross_entropy_and_grad(z, t, weight=w)
    t_loss, t_grad = _torch_loss_and_grad(
        z,
        t,
        weight=w,
        ignore_index=-100,
        reduction="mean",
        eps=0.0,
        convention="uniform",
    )
    assert np.isnan(loss) and np.isnan(t_loss)
    np.testing.assert_array_equal(grad, np.zeros_like(z))
    np.testing.assert_array_equal(t_grad, np.zeros_like(z))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("regime", SOFTMAX_REGIMES)
def test_loss_within_2_ulp_of_mpmath(regime, dtype):
    z, t = softmax_regime(regime, dtype, rows=60)
    loss, grad = xent.softmax_cross_entropy_and_grad(z, t, reduction="none")
    assert loss.dtype == dtype and grad.dtype == dtype
    worst = max(
        ulp_error(loss[i], ref_softmax_cross_entropy(z[i], t[i]), dtype)
        for i in range(len(t))
    )
    assert worst <= 2, f"{regime} {np.dtype(dtype).name}: {worst:.2f} ulp"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_confident_gradient_keeps_its_digits(dtype):
    # p_t - 1 = -sum_{j != t} p_j = -e^-20/(1 + e^-20) =
    # -2.0611536181902037e-09 (mpmath); softmax(z) - onehot gives 0 in float32
    # or few digits in float64.
    z = np.array([[20.0, 0.0]], dtype=dtype)
    _, grad = xent.softmax_cross_entropy_and_grad(
        z, np.array([0]), reduction="sum"
    )
    rtol = 1e-15 if dtype == np.float64 else 2e-7
    np.testing.assert_allclose(
        grad[0], [-2.0611536181902037e-09, 2.0611536181902037e-09], rtol=rtol
    )


def test_every_shift_path_gives_the_same_function():
    # Unshifted (0 <= max <= 600), shifted above (max > 600), shifted below
    # (max < 0): shift invariance says the loss and gradient are the same.
    base = np.array([[3.0, 1.0, -2.0, 0.5]])
    t = np.array([1])
    ref_loss, ref_grad = xent.softmax_cross_entropy_and_grad(base, t)
    for c in (0.0, 700.0, -50.0, -700.0, 1e4):
        loss, grad = xent.softmax_cross_entropy_and_grad(base + c, t)
        assert loss == pytest.approx(ref_loss, rel=1e-13)
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-12)


def test_float16_is_computed_in_float32(rng):
    z = (rng.standard_normal((6, K)) * 3).astype(np.float16)
    t = rng.integers(0, K, 6)
    loss, grad = xent.softmax_cross_entropy_and_grad(z, t)
    assert loss.dtype == np.float16 and grad.dtype == np.float16
    l64, g64 = xent.softmax_cross_entropy_and_grad(z.astype(np.float64), t)
    assert loss == pytest.approx(l64, rel=1e-3)
    np.testing.assert_allclose(grad, g64, rtol=2e-3, atol=1e-4)


def test_bad_input_is_refused_as_by_the_loss():
    z = np.zeros((2, 3))
    with pytest.raises(
        ValueError, match="targets: class index 5 out of range"
    ):
        xent.softmax_cross_entropy_and_grad(z, np.array([5, 0]))
    with pytest.raises(ValueError, match="convention: expected one of"):
        xent.softmax_cross_entropy_and_grad(
            z, np.array([0, 0]), convention="x"
        )
    with pytest.raises(
        ValueError, match=r"label_smoothing: expected a number in \[0, 1\]"
    ):
        xent.softmax_cross_entropy_and_grad(
            z, np.array([0, 0]), label_smoothing=2.0
        )


@pytest.mark.parametrize("kind", ["every target leads", "one does not"])
@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_float32_blocks_of_leading_targets(kind, reduction):
    # Late in training every target leads its row (margins 5 to 15): float32
    # blocks then take float64 exponentials for loss and gradient at once;
    # one row whose target does not lead sends its block the float32 way.
    rng = np.random.default_rng(3)
    n, k = 50, 40
    z = 3 * rng.standard_normal((n, k))
    t = rng.integers(0, k, n)
    z[np.arange(n), t] = z.max(axis=1) + rng.uniform(5, 15, n)
    if kind == "one does not":
        t[7] = (t[7] + 1) % k
    z32 = z.astype(np.float32)
    loss, _ = xent.softmax_cross_entropy_and_grad(z32, t, reduction="none")
    worst = max(
        ulp_error(loss[i], ref_softmax_cross_entropy(z32[i], t[i]), np.float32)
        for i in range(n)
    )
    assert worst <= 2, f"{worst:.2f} ulp"
    _, g64 = xent.softmax_cross_entropy_and_grad(
        z32.astype(np.float64), t, reduction=reduction
    )
    loss_r, grad_r = xent.softmax_cross_entropy_and_grad(
        z32, t, reduction=reduction
    )
    assert grad_r.dtype == np.float32
    np.testing.assert_allclose(grad_r, g64, rtol=5e-7, atol=0)
    np.testing.assert_array_equal(
        loss_r, xent.softmax_cross_entropy(z32, t, reduction=reduction)
    )
    # the gradient alone takes float32 exponentials: the same within rounding
    np.testing.assert_allclose(
        grad_r,
        xent.softmax_cross_entropy_grad(z32, t, reduction=reduction),
        rtol=5e-7,
        atol=0,
    )


# Two-class float32 rows where numpy's float32 exp (on an AVX-512 CPU) errs by
# about +2 ulp on one logit and -2 ulp on the other: computed from float32
# exponentials, s = e^(z_1 - z_0) and the loss log1p(s) are 5.6 ulp off.
HARD_ROWS = np.array(
    [
        [23.924175262451172, 16.960773468017578],
        [24.611400604248047, 17.64766502380371],
        [14.212888717651367, 6.566901206970215],
        [4.518609046936035, -4.513859272003174],
    ],
    dtype=np.float32,
)


@pytest.mark.parametrize("kind", ["every target leads", "one does not"])
def test_float32_exp_errors_do_not_reach_the_loss(kind):
    z, t = HARD_ROWS, np.zeros(4, dtype=np.int64)
    if kind == "one does not":  # the block goes the float32 way, recomputed
        z = np.vstack([z, [[0.0, 1.0]]]).astype(np.float32)
        t = np.append(t, 0)
    loss, _ = xent.softmax_cross_entropy_and_grad(z, t, reduction="none")
    for i in range(4):
        ref = ref_softmax_cross_entropy(z[i], t[i])
        assert ulp_error(loss[i], ref, np.float32) <= 1

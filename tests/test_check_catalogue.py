"""The catalogue of classic mistakes: every checker refuses every mistake that
applies to it, and accepts several independent correct implementations.

A checker that cannot fail is worse than none: it tells a learner with a bug
that the work is done. Each entry of ``MISTAKES`` is a function a learner
could plausibly write, with the fragment of the hint that should name the
mistake ("" where only the refusal is asserted). ``CORRECT`` holds, for every
checker, a textbook NumPy implementation, one built on scipy and one on
PyTorch where those libraries have the function.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sp
import scipy.stats

import xent
from xent.check import (
    check_binary_cross_entropy,
    check_binary_cross_entropy_with_logits,
    check_cross_entropy,
    check_entropy,
    check_kl_divergence,
    check_label_smoothing,
    check_log_softmax,
    check_logsumexp,
    check_softmax,
    check_softmax_cross_entropy,
    check_softmax_cross_entropy_grad,
)

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _rows(t):
    return np.arange(len(t))


def _f32(fn):
    """The float32 mistake: compute in float32, hand back the input's dtype."""

    def wrapped(*args):
        dtype = args[0].dtype
        cast = [
            a.astype(np.float32)
            if isinstance(a, np.ndarray) and a.dtype.kind == "f"
            else a
            for a in args
        ]
        out = fn(*cast)
        return np.asarray(out).astype(dtype) if np.ndim(out) else out

    wrapped.__name__ = f"float32_{fn.__name__}"
    return wrapped


def _torch(f, scalar=False):
    def wrapped(*args):
        out = f(*[torch.from_numpy(np.asarray(a)) for a in args])
        return out.item() if scalar else out.numpy()

    return wrapped


# ----------------------------------------------------------------------------
# correct implementations
# ----------------------------------------------------------------------------


def softmax_numpy(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax_numpy(z):
    s = z - z.max(axis=-1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


def logsumexp_numpy(z):
    m = z.max(axis=-1, keepdims=True)
    return (m + np.log(np.exp(z - m).sum(axis=-1, keepdims=True)))[..., 0]


def ce_numpy(z, t):
    return np.mean(logsumexp_numpy(z) - z[_rows(t), t])


def ce_scipy(z, t):
    return np.mean(-sp.log_softmax(z, axis=-1)[_rows(t), t])


def grad_numpy(z, t):
    g = softmax_numpy(z)
    g[_rows(t), t] -= 1
    return g / len(t)


def grad_scipy(z, t):
    return (
        sp.softmax(z, axis=-1) - np.eye(z.shape[-1], dtype=z.dtype)[t]
    ) / len(t)


def grad_torch(z, t):
    zt = torch.from_numpy(z.copy()).requires_grad_()
    F.cross_entropy(zt, torch.from_numpy(t)).backward()
    return zt.grad.numpy()


def bce_logits_numpy(z, y):
    return np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))


def bce_logits_scipy(z, y):
    return np.mean(-(y * sp.log_expit(z) + (1 - y) * sp.log_expit(-z)))


def bce_numpy(p, y):
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def bce_scipy(p, y):
    return -np.mean(sp.xlogy(y, p) + sp.xlogy(1 - y, 1 - p))


def entropy_numpy(p):
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.sum(np.where(p > 0, p * np.log(p), 0.0), axis=-1)


def entropy_scipy(p):
    return scipy.stats.entropy(p, axis=-1)


def entropy_torch(p):
    return (
        torch.distributions.Categorical(probs=torch.from_numpy(p))
        .entropy()
        .numpy()
    )


def cross_entropy_numpy(p, q):
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.sum(np.where(p > 0, p * np.log(q), 0.0), axis=-1)


def cross_entropy_scipy(p, q):
    return -np.sum(sp.xlogy(p, q), axis=-1)


def kl_numpy(p, q):
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(p) - np.log(q)), 0.0)
    return terms.sum(axis=-1)


def kl_scipy(p, q):
    return np.sum(sp.rel_entr(p, q), axis=-1)


def kl_torch(p, q):
    p, q = torch.from_numpy(p), torch.from_numpy(q)
    xlogy = torch.special.xlogy
    return (xlogy(p, p) - xlogy(p, q)).sum(-1).numpy()


def smooth_numpy(targets, label_smoothing, *, num_classes):
    onehot = np.eye(num_classes)[targets]
    return (1 - label_smoothing) * onehot + label_smoothing / num_classes


def smooth_torch(targets, label_smoothing, *, num_classes):
    onehot = F.one_hot(torch.from_numpy(targets), num_classes).double()
    return (
        (1 - label_smoothing) * onehot + label_smoothing / num_classes
    ).numpy()


CORRECT = {
    check_softmax: [
        softmax_numpy,
        lambda z: sp.softmax(z, axis=-1),
        _torch(lambda z: torch.softmax(z, -1)),
    ],
    check_log_softmax: [
        log_softmax_numpy,
        lambda z: sp.log_softmax(z, axis=-1),
        _torch(lambda z: torch.log_softmax(z, -1)),
    ],
    check_logsumexp: [
        logsumexp_numpy,
        lambda z: sp.logsumexp(z, axis=-1),
        _torch(lambda z: torch.logsumexp(z, -1)),
    ],
    check_softmax_cross_entropy: [
        ce_numpy,
        ce_scipy,
        _torch(F.cross_entropy, scalar=True),
    ],
    check_softmax_cross_entropy_grad: [grad_numpy, grad_scipy, grad_torch],
    check_binary_cross_entropy_with_logits: [
        bce_logits_numpy,
        bce_logits_scipy,
        _torch(F.binary_cross_entropy_with_logits, scalar=True),
    ],
    check_binary_cross_entropy: [
        bce_numpy,
        bce_scipy,
        _torch(F.binary_cross_entropy, scalar=True),
    ],
    check_entropy: [entropy_numpy, entropy_scipy, entropy_torch],
    check_cross_entropy: [cross_entropy_numpy, cross_entropy_scipy],
    check_kl_divergence: [kl_numpy, kl_scipy, kl_torch],
    check_label_smoothing: [smooth_numpy, smooth_torch],
}


@pytest.mark.parametrize(
    "checker, fn",
    [(c, f) for c, fns in CORRECT.items() for f in fns],
    ids=[
        f"{c.__name__}-{i}"
        for c, fns in CORRECT.items()
        for i in range(len(fns))
    ],
)
def test_correct_implementations_pass(checker, fn):
    report = checker(fn)
    assert report, str(report)
    assert str(report).split("\n")[0] in (
        f"✓ {checker.__name__}: all checks passed",
        f"✓ {checker.__name__}: all required checks passed "
        "(advice on bonus checks below)",
    )


# ----------------------------------------------------------------------------
# the mistakes
# ----------------------------------------------------------------------------


def softmax_global_max(z):
    e = np.exp(z - z.max())
    return e / e.sum(axis=-1, keepdims=True)


def softmax_axis0(z):
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def softmax_no_keepdims(z):
    e = np.exp(z - z.max(axis=-1))
    return e / e.sum(axis=-1)


def softmax_naive(z):
    return np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)


def softmax_whole_array(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def softmax_in_place(z):
    z -= z.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return z


def softmax_upcast(z):
    return softmax_numpy(np.asarray(z, dtype=np.float64))


def log_softmax_global_max(z):
    s = z - z.max()
    return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


def log_softmax_of_softmax(z):
    return np.log(softmax_numpy(z))


def log_softmax_axis0(z):
    return sp.log_softmax(z, axis=0)


def log_softmax_no_keepdims(z):
    s = z - z.max(axis=-1)
    return s - np.log(np.exp(s).sum(axis=-1))


def log_softmax_naive(z):
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def lse_global_max(z):
    m = z.max()
    return m + np.log(np.exp(z - m).sum(axis=-1))


def lse_axis0(z):
    return sp.logsumexp(z, axis=0)


def lse_keeps_axis(z):
    return sp.logsumexp(z, axis=-1, keepdims=True)


def lse_no_keepdims_shift(z):
    m = z.max(axis=-1)
    return m + np.log(np.exp(z - m).sum(axis=-1))


def lse_naive(z):
    return np.log(np.exp(z).sum(axis=-1))


def ce_global_max(z, t):
    return np.mean(lse_global_max(z) - z[_rows(t), t])


def ce_sum(z, t):
    return np.sum(logsumexp_numpy(z) - z[_rows(t), t])


def ce_log_of_softmax(z, t):
    return -np.mean(np.log(softmax_numpy(z))[_rows(t), t])


def ce_log2(z, t):
    return ce_numpy(z, t) / np.log(2)


def ce_wrong_sign(z, t):
    return -ce_numpy(z, t)


def ce_one_hot_product(z, t):
    y = np.eye(z.shape[1])[t]
    return -np.mean(np.sum(y * log_softmax_numpy(z), axis=1))


def ce_axis0(z, t):
    return np.mean(sp.logsumexp(z, axis=0)[t] - z[_rows(t), t])


def ce_naive(z, t):
    return np.mean(np.log(np.exp(z).sum(axis=1)) - z[_rows(t), t])


def ce_mutates(z, t):
    z -= z.max(axis=1, keepdims=True)
    return ce_numpy(z, t)


def grad_global_max(z, t):
    g = softmax_global_max(z)
    g[_rows(t), t] -= 1
    return g / len(t)


def grad_missing_mean(z, t):
    g = softmax_numpy(z)
    g[_rows(t), t] -= 1
    return g


def grad_wrong_sign(z, t):
    return -grad_numpy(z, t)


def grad_no_onehot(z, t):
    return softmax_numpy(z) / len(t)


def grad_axis0(z, t):
    return (softmax_axis0(z) - np.eye(z.shape[1])[t]) / len(t)


def grad_naive(z, t):
    return (softmax_naive(z) - np.eye(z.shape[1])[t]) / len(t)


def grad_mutates(z, t):
    z[_rows(t), t] -= 0.0  # harmless...
    z -= z.max(axis=1, keepdims=True)  # ...but this overwrites the logits
    return grad_numpy(z, t)


def bce_logits_unstable_softplus(z, y):
    return np.mean(np.log(1 + np.exp(z)) - z * y)


def bce_logits_sigmoid(z, y):
    s = 1 / (1 + np.exp(-z))
    return -np.mean(y * np.log(s) + (1 - y) * np.log(1 - s))


def bce_logits_sum(z, y):
    return np.sum(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))


def bce_logits_log2(z, y):
    return bce_logits_numpy(z, y) / np.log(2)


def bce_logits_float32(z, y):  # returns a float32 number for float64 input
    z32, y32 = z.astype(np.float32), y.astype(np.float32)
    return np.mean(
        np.maximum(z32, 0) - z32 * y32 + np.log1p(np.exp(-np.abs(z32)))
    )


def bce_unmasked(p, y):
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def bce_sum(p, y):
    return -np.sum(sp.xlogy(y, p) + sp.xlogy(1 - y, 1 - p))


def bce_log2(p, y):
    return bce_scipy(p, y) / np.log(2)


def entropy_unmasked(p):
    return -np.sum(p * np.log(p), axis=-1)


def entropy_log2(p):
    return entropy_scipy(p) / np.log(2)


def entropy_wrong_sign(p):
    return -entropy_numpy(p)


def entropy_axis0(p):
    return -np.sum(sp.xlogy(p, p), axis=0)


def entropy_whole_array(p):
    return -np.sum(sp.xlogy(p, p))


def entropy_in_place(p):
    p[p == 0] = 1.0  # 1 * log 1 = 0, but the caller's p now has 1s
    return -np.sum(p * np.log(p), axis=-1)


def cross_entropy_swapped(p, q):
    return cross_entropy_scipy(q, p)


def cross_entropy_unmasked(p, q):
    return -np.sum(p * np.log(q), axis=-1)


def cross_entropy_log2(p, q):
    return cross_entropy_scipy(p, q) / np.log(2)


def cross_entropy_axis0(p, q):
    return -np.sum(sp.xlogy(p, q), axis=0)


def kl_swapped(p, q):
    return kl_scipy(q, p)


def kl_ratio(p, q):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sum(np.where(p > 0, p * np.log(p / q), 0.0), axis=-1)


def kl_unmasked(p, q):
    return np.sum(p * (np.log(p) - np.log(q)), axis=-1)


def kl_log2(p, q):
    return kl_scipy(p, q) / np.log(2)


def kl_is_cross_entropy(p, q):
    return cross_entropy_scipy(p, q)


def kl_axis0(p, q):
    return np.sum(sp.rel_entr(p, q), axis=0)


def kl_mutates(p, q):
    q[q == 0] = 1e-300
    return kl_scipy(p, q)


def smooth_others(targets, label_smoothing, *, num_classes):
    onehot = np.eye(num_classes)[targets]
    off = label_smoothing / (num_classes - 1)
    return (1 - label_smoothing) * onehot + off * (1 - onehot)


def smooth_only_off_targets(targets, label_smoothing, *, num_classes):
    onehot = np.eye(num_classes)[targets]
    eps = label_smoothing
    return (1 - eps) * onehot + eps / num_classes * (1 - onehot)


def smooth_transposed(targets, label_smoothing, *, num_classes):
    return smooth_numpy(targets, label_smoothing, num_classes=num_classes).T


def smooth_old_signature(targets, num_classes, epsilon):
    return (1 - epsilon) * np.eye(num_classes)[targets] + epsilon / num_classes


GLOBAL = "whole array (z.max())"
MISTAKES = [
    # (checker, mistake, a fragment of the hint it should get, "" for any)
    (check_softmax, softmax_global_max, GLOBAL),
    (check_softmax, softmax_axis0, "first axis (axis=0)"),
    (check_softmax, softmax_no_keepdims, "keepdims=True"),
    (check_softmax, softmax_naive, "np.exp overflows"),
    (check_softmax, softmax_whole_array, "whole array as one row"),
    (check_softmax, softmax_in_place, "z -= ..."),
    (check_softmax, softmax_upcast, "keep the input's precision"),
    (check_softmax, _f32(softmax_numpy), "float64 precision"),
    (check_log_softmax, log_softmax_global_max, GLOBAL),
    (check_log_softmax, log_softmax_of_softmax, "never take the log"),
    (check_log_softmax, log_softmax_axis0, "first axis (axis=0)"),
    (check_log_softmax, log_softmax_no_keepdims, ""),
    (check_log_softmax, log_softmax_naive, "np.exp overflows"),
    (check_log_softmax, _f32(log_softmax_numpy), "float64 precision"),
    (check_log_softmax, softmax_numpy, "softmax itself"),
    (check_logsumexp, lse_global_max, GLOBAL),
    (check_logsumexp, lse_axis0, ""),
    (check_logsumexp, lse_keeps_axis, "drop it"),
    (check_logsumexp, lse_no_keepdims_shift, ""),
    (check_logsumexp, lse_naive, "np.exp overflows"),
    (check_logsumexp, _f32(logsumexp_numpy), "float64 precision"),
    (check_softmax_cross_entropy, ce_global_max, GLOBAL),
    (check_softmax_cross_entropy, ce_sum, "4 times too large"),
    (
        check_softmax_cross_entropy,
        ce_log_of_softmax,
        "probability underflowed",
    ),
    (check_softmax_cross_entropy, ce_log2, "bits"),
    (check_softmax_cross_entropy, ce_wrong_sign, "wrong sign"),
    (check_softmax_cross_entropy, ce_one_hot_product, "one-hot"),
    (check_softmax_cross_entropy, ce_axis0, ""),
    (check_softmax_cross_entropy, ce_naive, "np.exp overflows"),
    (check_softmax_cross_entropy, ce_mutates, "z -= ..."),
    (check_softmax_cross_entropy, _f32(ce_numpy), ""),
    (check_softmax_cross_entropy_grad, grad_global_max, GLOBAL),
    (check_softmax_cross_entropy_grad, grad_missing_mean, "4 times too large"),
    (check_softmax_cross_entropy_grad, grad_wrong_sign, "wrong sign"),
    (check_softmax_cross_entropy_grad, grad_no_onehot, "one-hot targets"),
    (check_softmax_cross_entropy_grad, grad_axis0, ""),
    (check_softmax_cross_entropy_grad, grad_naive, "np.exp overflows"),
    (check_softmax_cross_entropy_grad, grad_mutates, "z -= ..."),
    (check_softmax_cross_entropy_grad, _f32(grad_numpy), "float64 precision"),
    (
        check_binary_cross_entropy_with_logits,
        bce_logits_unstable_softplus,
        "np.exp overflows",
    ),
    (
        check_binary_cross_entropy_with_logits,
        bce_logits_sigmoid,
        "never with sigmoid",
    ),
    (
        check_binary_cross_entropy_with_logits,
        bce_logits_sum,
        "5 times too large",
    ),
    (check_binary_cross_entropy_with_logits, bce_logits_log2, "bits"),
    (
        check_binary_cross_entropy_with_logits,
        bce_logits_float32,
        "lower precision",
    ),
    (check_binary_cross_entropy, bce_unmasked, "0 * log(0)"),
    (check_binary_cross_entropy, bce_sum, "4 times too large"),
    (check_binary_cross_entropy, bce_log2, "bits"),
    (check_binary_cross_entropy, _f32(bce_scipy), ""),
    (check_entropy, entropy_unmasked, "0 * log(0)"),
    (check_entropy, entropy_log2, "bits"),
    (check_entropy, entropy_wrong_sign, "wrong sign"),
    (check_entropy, entropy_axis0, "last axis only"),
    (check_entropy, entropy_whole_array, "last axis only"),
    (check_entropy, entropy_in_place, "z -= ..."),
    (check_entropy, _f32(entropy_numpy), "float32"),
    (check_cross_entropy, cross_entropy_swapped, "swapped p and q"),
    (check_cross_entropy, cross_entropy_unmasked, "0 * log(0)"),
    (check_cross_entropy, cross_entropy_log2, "bits"),
    (check_cross_entropy, cross_entropy_axis0, "last axis only"),
    (check_cross_entropy, _f32(cross_entropy_numpy), "float32"),
    (check_kl_divergence, kl_swapped, "swapped p and q"),
    (check_kl_divergence, kl_ratio, "p / q = 5e309 overflows"),
    (check_kl_divergence, kl_unmasked, "0 * log(0)"),
    (check_kl_divergence, kl_log2, "bits"),
    (check_kl_divergence, kl_is_cross_entropy, "that is the cross-entropy"),
    (check_kl_divergence, kl_axis0, "last axis only"),
    (check_kl_divergence, kl_mutates, "z -= ..."),
    (check_kl_divergence, _f32(kl_numpy), ""),
    (check_label_smoothing, smooth_others, "label_smoothed_nll_loss"),
    (check_label_smoothing, smooth_only_off_targets, "summing to 1"),
    (check_label_smoothing, smooth_transposed, "rows and columns are swapped"),
    (check_label_smoothing, smooth_old_signature, "num_classes=K)"),
]


@pytest.mark.parametrize(
    "checker, mistake, hint",
    MISTAKES,
    ids=[f"{c.__name__}-{m.__name__}" for c, m, _ in MISTAKES],
)
def test_every_classic_mistake_is_refused(checker, mistake, hint):
    report = checker(mistake)
    assert not report, f"{mistake.__name__} passed {checker.__name__}"
    assert report.failed >= 1
    if hint:
        hints = [r.hint for r in report.results if not r.passed]
        assert any(hint in h for h in hints), "\n".join(hints)


def test_the_catalogue_covers_every_checker():
    assert {c for c, _, _ in MISTAKES} == set(CORRECT)


def test_the_global_max_report_shows_the_row_that_breaks():
    report = check_softmax(softmax_global_max)
    (failure,) = [r for r in report.results if not r.passed]
    assert failure.name.startswith("rows of different scales")
    assert failure.message == "returned nan (3 of 6 entries wrong)"
    assert np.isnan(failure.received[1]).all()


def test_other_convention_hint_names_fairseq_not_an_internal_document():
    report = check_label_smoothing(smooth_others)
    text = str(report)
    assert (
        "eps/(K - 1), the convention of fairseq's label_smoothed_nll_loss"
        in text
    )
    assert "seed" not in text
    assert check_label_smoothing(smooth_others, convention="others")
    assert not check_label_smoothing(smooth_numpy, convention="others")


def test_label_smoothing_reference_is_the_library_with_the_new_names():
    checker = check_label_smoothing.checker
    t = np.array([0, 3, 1, 2])
    for eps in (0.0, 0.1, 1.0):
        onehot = np.eye(4)[t]
        uniform = (1 - eps) * onehot + eps / 4
        others = (1 - eps) * onehot + eps / 3 * (1 - onehot)
        got = checker.reference(t, eps, num_classes=4)
        np.testing.assert_allclose(got, uniform, rtol=1e-15, atol=0)
        others_checker = xent.check._checkers.LABEL_SMOOTHING_OTHERS
        np.testing.assert_allclose(
            others_checker.reference(t, eps, num_classes=4),
            others,
            rtol=1e-15,
            atol=0,
        )

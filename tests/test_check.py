"""Tests of xent/check: the checkers pass sound implementations and name the
mistakes of broken ones.

Three kinds of learner functions are run through every checker:

- the reference (``xent``) and a learner's textbook solution (max-shift, no
  ``log1p``), and PyTorch where it has the function: every required check
  passes (the textbook may miss the bonus);
- the naive formulas of ``xent.naive``: they fail the overflow traps, with the
  overflow hint;
- deliberately broken functions (wrong axis, sum instead of mean, mutation,
  wrong dtype, ...): the
  report names the failing case and gives the hint for that mistake.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import xent
from xent import naive
from xent.check import (
    TOL32,
    TOL64,
    CheckReport,
    CheckResult,
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

# ----------------------------------------------------------------------------
# sound implementations, as a learner would write them
# ----------------------------------------------------------------------------


def textbook_softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def textbook_log_softmax(z):
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def textbook_logsumexp(z):
    m = z.max(axis=-1, keepdims=True)
    return (m + np.log(np.exp(z - m).sum(axis=-1, keepdims=True)))[..., 0]


def textbook_cross_entropy(logits, targets):
    picked = logits[np.arange(len(targets)), targets]
    return np.mean(textbook_logsumexp(logits) - picked)


def textbook_bce_with_logits(z, y):
    return np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))


def textbook_grad(logits, targets):
    g = textbook_softmax(logits)
    g[np.arange(len(targets)), targets] -= 1
    return g / len(targets)


def textbook_smooth(targets, label_smoothing, *, num_classes):
    eps = label_smoothing
    return (1 - eps) * np.eye(num_classes)[targets] + eps / num_classes


def textbook_smooth_others(targets, label_smoothing, *, num_classes):
    eps = label_smoothing
    onehot = np.eye(num_classes)[targets]
    return (1 - eps) * onehot + eps / (num_classes - 1) * (1 - onehot)


def textbook_entropy(p):
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.sum(np.where(p > 0, p * np.log(p), 0.0), axis=-1)


def textbook_cross_entropy_pq(p, q):
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.sum(np.where(p > 0, p * np.log(q), 0.0), axis=-1)


def textbook_kl(
    p, q
):  # log p - log q: the ratio p / q overflows for a subnormal q
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sum(
            np.where(p > 0, p * (np.log(p) - np.log(q)), 0.0), axis=-1
        )


def clipped_bce(p, y):  # Keras: probabilities clipped to [1e-7, 1 - 1e-7]
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def torch_fn(f, *, integer_targets=False, scalar=False):
    def wrapped(*args):
        tensors = [torch.from_numpy(np.asarray(a)) for a in args]
        out = f(*tensors)
        return out.item() if scalar else out.numpy()

    return wrapped


SOUND = [
    (
        check_softmax,
        xent.softmax,
        textbook_softmax,
        torch_fn(lambda z: torch.softmax(z, -1)),
    ),
    (
        check_log_softmax,
        xent.log_softmax,
        textbook_log_softmax,
        torch_fn(lambda z: torch.log_softmax(z, -1)),
    ),
    (
        check_logsumexp,
        xent.logsumexp,
        textbook_logsumexp,
        torch_fn(lambda z: torch.logsumexp(z, -1)),
    ),
    (
        check_softmax_cross_entropy,
        xent.softmax_cross_entropy,
        textbook_cross_entropy,
        torch_fn(F.cross_entropy, scalar=True),
    ),
    (
        check_binary_cross_entropy_with_logits,
        xent.binary_cross_entropy_with_logits,
        textbook_bce_with_logits,
        torch_fn(F.binary_cross_entropy_with_logits, scalar=True),
    ),
    (
        check_softmax_cross_entropy_grad,
        xent.softmax_cross_entropy_grad,
        textbook_grad,
        None,
    ),
    (
        check_label_smoothing,
        lambda t, e, *, num_classes: xent.smooth_labels(
            t, e, num_classes=num_classes
        ),
        textbook_smooth,
        None,
    ),
    (check_entropy, xent.entropy, textbook_entropy, None),
    (check_cross_entropy, xent.cross_entropy, textbook_cross_entropy_pq, None),
    (check_kl_divergence, xent.kl_divergence, textbook_kl, None),
    (
        check_binary_cross_entropy,
        xent.binary_cross_entropy,
        clipped_bce,
        torch_fn(F.binary_cross_entropy, scalar=True),
    ),
]
IDS = [s[0].__name__ for s in SOUND]


@pytest.mark.parametrize(
    "checker, reference, textbook, framework", SOUND, ids=IDS
)
def test_reference_passes_everything(checker, reference, textbook, framework):
    report = checker(reference)
    assert isinstance(report, CheckReport)
    assert report and report.failed == 0 and report.bonus_missed == 0
    assert report.passed == len(report.results) >= 6
    assert str(report) == f"✓ {checker.__name__}: all checks passed"


@pytest.mark.parametrize(
    "checker, reference, textbook, framework", SOUND, ids=IDS
)
def test_sound_learner_code_passes_required_checks(
    checker, reference, textbook, framework
):
    for fn in (textbook, framework):
        if fn is None:
            continue
        report = checker(fn)
        assert report, str(report)
        assert str(report).startswith(f"✓ {checker.__name__}: all ")


def test_textbook_code_misses_exactly_the_log1p_bonus():
    """The max-shifted formulas are right to within rounding but round a loss
    of 4e-18 to 0."""
    for checker, fn in [
        (check_log_softmax, textbook_log_softmax),
        (check_softmax_cross_entropy, textbook_cross_entropy),
        (check_logsumexp, textbook_logsumexp),
    ]:
        report = checker(fn)
        assert report and report.bonus_missed >= 1
        text = str(report)
        assert (
            "required checks passed" in text
            and "○ bonus:" in text
            and "np.log1p" in text
        )
        assert (
            "✓ " not in text.split("\n", 1)[1]
        )  # passed checks are not listed when all required pass
    # the torch log_softmax: the same bonus missed, nothing else
    report = check_softmax_cross_entropy(
        torch_fn(F.cross_entropy, scalar=True)
    )
    assert report.bonus_missed == 1
    missed = [r for r in report.results if not r.passed]
    assert missed[0].bonus and "margin 40" in missed[0].name
    assert (
        "times too large" not in missed[0].hint
    )  # 0 vs 4e-18 is not diagnosed as a sum


def test_logsumexp_all_neg_inf_row_is_a_bonus():
    report = check_logsumexp(textbook_logsumexp)
    names = [r.name for r in report.results if not r.passed]
    assert any("all -inf" in n for n in names)
    assert "np.isfinite(m)" in str(report)


# ----------------------------------------------------------------------------
# the naive formulas fail the traps with the right hints
# ----------------------------------------------------------------------------


MIXED = "rows of different scales (1000.1 ... and 1.4 ...)"


def failures(report: CheckReport) -> dict:
    return {r.name: r for r in report.results if not r.passed and not r.bonus}


@pytest.mark.parametrize(
    "checker, fn, cases",
    [
        (
            check_softmax,
            naive.softmax,
            {
                "huge logits (1000, -1000)",
                "very negative logits (-1000)",
                MIXED,
                "float32 logits of 100 (exp overflows above 88.7 in float32)",
            },
        ),
        (
            check_log_softmax,
            naive.log_softmax,
            {
                "huge logits (1000, -1000)",
                "very negative logits (-1000)",
                MIXED,
                "logits 800 apart (the softmax underflows to 0)",
                "float32 logits of 100 (exp overflows above 88.7 in float32)",
            },
        ),
        (
            check_logsumexp,
            naive.logsumexp,
            {
                "huge logits (1000, -1000)",
                "very negative logits (-1000)",
                MIXED,
                "float32 logits of 100 (exp overflows above 88.7 in float32)",
            },
        ),
        (
            check_softmax_cross_entropy,
            naive.softmax_cross_entropy,
            {
                "huge logits (1000, -1000)",
                "a target 800 below the top logit "
                "(its probability underflows)",
                MIXED,
                "float32 logits of 100 (exp overflows above 88.7 in float32)",
            },
        ),
        (
            check_binary_cross_entropy_with_logits,
            naive.binary_cross_entropy_with_logits,
            {
                "logits of +-40 (sigmoid(40) rounds to exactly 1)",
                "huge logits (1000, -1000)",
                "float32 logits of 100",
            },
        ),
    ],
)
def test_naive_formulas_fail_the_overflow_traps(checker, fn, cases):
    report = checker(fn)
    assert not report
    assert set(failures(report)) == cases
    assert report.failed == len(cases)
    huge = failures(report)["huge logits (1000, -1000)"]
    assert "overflows" in huge.hint and "709" in huge.hint
    assert huge.message in (
        "returned nan",
        "returned inf",
    ) or huge.message.startswith("returned ")
    text = str(report)
    assert text.startswith(f"✗ {checker.__name__}: {len(cases)} of ")
    assert "input:    z = array([[ 1000." in text or "logits = array(" in text
    assert "expected: " in text and "received: " in text and "hint: " in text


def test_naive_softmax_report_text():
    report = check_softmax(naive.softmax)
    text = str(report)
    assert (
        "Subtract each row's maximum"
        in failures(report)["huge logits (1000, -1000)"].hint
    )
    assert (
        "      hint: np.exp overflows to inf above about 709.78 in float64 "
        "(88.72 in float32), and\n" in text
    )
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "  ✓ a vector of 3 logits" in text
    assert "  ✗ huge logits (1000, -1000)" in text
    assert "returned nan (4 of 6 entries wrong)" in text
    assert "received: array([[nan,  0.,  0.],\n" in text
    # the float32 overflow refers to the first overflow's hint
    assert (
        "      hint: as for “huge logits (1000, -1000)” above\n  ✓ leaves"
        in text
    )


def test_naive_log_softmax_gets_the_never_log_of_softmax_hint():
    gap = failures(check_log_softmax(naive.log_softmax))[
        "logits 800 apart (the softmax underflows to 0)"
    ]
    assert gap.message == "returned -inf (2 of 4 entries wrong)"
    assert "never take the log of a softmax" in gap.hint


def test_naive_bce_with_logits_hint():
    r = failures(
        check_binary_cross_entropy_with_logits(
            naive.binary_cross_entropy_with_logits
        )
    )
    hint = r["logits of +-40 (sigmoid(40) rounds to exactly 1)"].hint
    assert "sigmoid(40) is exactly 1.0" in hint and "np.log1p" in hint


def test_naive_entropy_gets_the_zero_log_zero_hint():
    report = check_entropy(lambda p: -np.sum(p * np.log(p), axis=-1))
    assert set(failures(report)) == {
        "a probability of 0",
        "certain outcomes: entropy 0",
    }
    assert all("0 * log(0)" in r.hint for r in failures(report).values())
    assert failures(report)["a probability of 0"].message == "returned nan"


def test_naive_bce_on_probabilities():
    report = check_binary_cross_entropy(
        lambda p, y: -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    )
    assert set(failures(report)) == {"p exactly 1 for y = 1 and 0 for y = 0"}
    assert report.bonus_missed == 0  # the formula handles soft targets


# ----------------------------------------------------------------------------
# broken implementations: each mistake is named
# ----------------------------------------------------------------------------


def hint_of(report: CheckReport, case: str) -> str:
    return failures(report)[case].hint


def test_softmax_wrong_axis():
    report = check_softmax(
        lambda z: xent.softmax(z, axis=0) if z.ndim > 1 else xent.softmax(z)
    )
    assert "first axis (axis=0)" in hint_of(
        report, "a batch of rows, shape (4, 5)"
    )


def test_softmax_whole_array_and_unnormalised():
    whole = check_softmax(lambda z: np.exp(z) / np.exp(z).sum())
    assert "whole array as one row" in hint_of(
        whole, "a batch of rows, shape (4, 5)"
    )
    unnormalised = check_softmax(
        lambda z: np.exp(z - z.max(axis=-1, keepdims=True))
    )
    assert "must sum to 1" in hint_of(unnormalised, "a vector of 3 logits")


def test_wrong_shape_is_reported_with_both_shapes():
    report = check_softmax(lambda z: np.exp(z).sum(axis=-1))
    result = failures(report)["a batch of rows, shape (4, 5)"]
    assert result.message == "returned shape (4,) but expected (4, 5)"
    assert "keepdims=True" in result.hint
    lse = check_logsumexp(lambda z: xent.logsumexp(z, keepdims=True))
    assert "drop it" in hint_of(lse, "a batch of rows, shape (4, 5)")
    lse_full = check_logsumexp(
        lambda z: z + 0.0
    )  # the shape of z: no crash in the diagnosis
    assert not lse_full
    per_example = check_softmax_cross_entropy(
        lambda z, t: xent.softmax_cross_entropy(z, t, reduction="none")
    )
    result = failures(per_example)["a batch of 4 examples, 3 classes"]
    assert result.message == "returned shape (4,) but expected a single number"


def test_mutating_the_input_is_reported():
    def in_place(z):
        z -= z.max(axis=-1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=-1, keepdims=True)
        return z

    report = check_softmax(in_place)
    assert set(failures(report)) == {"leaves its input unchanged"}
    result = failures(report)["leaves its input unchanged"]
    assert (
        result.message
        == "your function changed its input array (case: a vector of 3 logits)"
    )
    assert "z -= ..." in result.hint

    def shuffles_targets(logits, targets):
        loss = xent.softmax_cross_entropy(logits, targets)
        targets[:] = 0
        return loss

    assert "leaves its input unchanged" in failures(
        check_softmax_cross_entropy(shuffles_targets)
    )


def test_a_function_that_raises_is_reported_not_propagated():
    def broken(z):
        raise ValueError("boom")

    report = check_softmax(broken)
    assert (
        report.failed == len(report.results) - 1
    )  # the input was left unchanged
    assert all(
        r.message == "raised ValueError: boom" for r in report.results[:-1]
    )
    assert "hint: run your function on the input above" in str(report)

    def fails_on_float32(z):
        if z.dtype == np.float32:
            raise NotImplementedError
        return xent.softmax(z)

    result = failures(check_softmax(fails_on_float32))["float32 input"]
    assert result.message == "raised NotImplementedError"


@pytest.mark.parametrize(
    "stub, what",
    [
        (lambda z: None, "returned None"),
        ("raise", "raised NotImplementedError"),
    ],
)
def test_the_starter_stub_gives_not_implemented_yet(stub, what):
    def my_softmax(z):
        if stub == "raise":
            raise NotImplementedError
        ...  # your code here

    report = check_softmax(my_softmax)
    assert not report and report.failed == 1 and len(report.results) == 1
    text = str(report)
    assert text.startswith("✗ check_softmax: not implemented yet (my_softmax ")
    assert what in text and "\n" not in text


def test_not_a_callable():
    report = check_softmax(np.array([1.0]))
    assert not report and str(report).startswith(
        "✗ check_softmax: expected a function, got array("
    )


def test_returning_a_list_or_another_object():
    report = check_softmax(lambda z: xent.softmax(z).tolist())
    result = failures(report)["a vector of 3 logits"]
    assert result.message == "returned a list, not a NumPy array"
    assert "np.asarray" in result.hint
    assert result.received == xent.softmax(np.array([1.0, 2.0, 3.0])).tolist()
    assert "received: list [0.09003057" in str(report)
    loss = check_softmax_cross_entropy(lambda z, t: [1.0])
    assert (
        failures(loss)["one example, 5 classes"].message
        == "returned a list, expected a number"
    )
    obj = check_softmax(lambda z: object())
    result = failures(obj)["a vector of 3 logits"]
    assert (
        result.message
        == "returned an object of type object, not a NumPy array"
    )
    assert "0x" not in str(obj)


def test_odd_scalar_results_are_reported_and_rendered():
    complex_loss = check_softmax_cross_entropy(
        lambda z, t: complex(xent.softmax_cross_entropy(z, t))
    )
    result = failures(complex_loss)["one example, 5 classes"]
    assert (
        result.message
        == "returned an object of type complex, expected a number"
    )
    assert re.search(r"received: \([0-9.e-]+\+0j\)", str(complex_loss))
    boolean = check_softmax_cross_entropy(lambda z, t: True)
    assert "received: True" in str(boolean)
    later_none = check_softmax_cross_entropy(
        lambda z, t: None if len(t) == 1 else xent.softmax_cross_entropy(z, t)
    )
    assert (
        failures(later_none)["one example, 5 classes"].message
        == "returned None, expected a number"
    )

    class Weird:
        def __float__(self):
            raise RuntimeError("no")

        __repr__ = __float__

    weird = check_softmax_cross_entropy(lambda z, t: Weird())
    assert "received: an object of type Weird" in str(weird)

    def reshapes(z):
        z.shape = (-1,)
        return xent.softmax(z.reshape(3))

    assert "leaves its input unchanged" in failures(check_softmax(reshapes))


def test_python_float_is_accepted_for_a_mean_loss():
    assert check_softmax_cross_entropy(
        lambda z, t: float(xent.softmax_cross_entropy(z, t))
    )
    assert check_softmax_cross_entropy(
        lambda z, t: np.asarray(xent.softmax_cross_entropy(z, t))
    )


def test_float32_to_float64_is_reported():
    report = check_softmax(lambda z: xent.softmax(np.asarray(z, dtype=float)))
    result = failures(report)["float32 input"]
    assert result.message == "returned float64 for float32 input"
    assert "astype(np.float64)" in result.hint
    lower = check_softmax(lambda z: xent.softmax(z).astype(np.float32))
    assert (
        failures(lower)["a vector of 3 logits"].message
        == "returned float32 for float64 input"
    )


def test_integer_and_complex_results_are_reported():
    ints = check_softmax(lambda z: np.zeros(z.shape, dtype=int))
    assert "expected floats" in failures(ints)["a vector of 3 logits"].message
    cplx = check_softmax(lambda z: xent.softmax(z).astype(complex))
    assert (
        "expected real numbers"
        in failures(cplx)["a vector of 3 logits"].message
    )


def test_nan_everywhere():
    report = check_softmax(lambda z: np.full(z.shape, np.nan, dtype=z.dtype))
    assert failures(report)["a 3-d batch, shape (2, 3, 4)"].message.startswith(
        "returned nan (24 of 24 entries wrong); the first at index "
        "(0, 0, 0): expected 0."
    )


def test_large_arrays_are_described_by_shape():
    report = check_softmax(lambda z: xent.softmax(z) + 0.01)
    r = failures(report)["a batch of rows, shape (4, 5)"]
    assert set(r.input) == {"z"} and r.input["z"].shape == (4, 5)
    assert "input:    z = float64 array of shape (4, 5)" in str(report)
    assert (
        "wrong values (20 of 20 entries wrong); the first at index (0, 0)"
        in r.message
    )


def test_log_softmax_returning_the_softmax():
    report = check_log_softmax(xent.softmax)
    assert "softmax itself" in hint_of(report, "a vector of 3 logits")


def test_cross_entropy_slips():
    summed = check_softmax_cross_entropy(
        lambda z, t: xent.softmax_cross_entropy(z, t, reduction="sum")
    )
    assert "4 times too large" in hint_of(
        summed, "a batch of 4 examples, 3 classes"
    )
    negative = check_softmax_cross_entropy(
        lambda z, t: -xent.softmax_cross_entropy(z, t)
    )
    assert "wrong sign" in hint_of(
        negative, "a batch of 4 examples, 3 classes"
    )
    bits = check_softmax_cross_entropy(
        lambda z, t: xent.softmax_cross_entropy(z, t) / np.log(2)
    )
    assert "bits" in hint_of(bits, "a batch of 4 examples, 3 classes")

    def one_hot_product(logits, targets):
        y = np.eye(logits.shape[1])[targets]
        return -np.mean(np.sum(y * textbook_log_softmax(logits), axis=1))

    report = check_softmax_cross_entropy(one_hot_product)
    assert set(failures(report)) == {"a logit of -inf for a wrong class"}
    assert "0 * (-inf)" in hint_of(report, "a logit of -inf for a wrong class")


def test_bce_with_logits_branching_on_labels_misses_the_soft_target_bonus():
    def branching(z, y):
        return np.mean(np.where(y == 1, xent.softplus(-z), xent.softplus(z)))

    report = check_binary_cross_entropy_with_logits(branching)
    assert report and report.bonus_missed == 1
    (missed,) = [r for r in report.results if not r.passed]
    assert missed.bonus and "do not branch on y == 1" in missed.hint
    assert "○ bonus: soft targets (0.25, 0.9, 0.5)" in str(report)
    summed = check_binary_cross_entropy_with_logits(
        lambda z, y: xent.binary_cross_entropy_with_logits(
            z, y, reduction="sum"
        )
    )
    assert "5 times too large" in hint_of(
        summed, "5 logits with labels 0 and 1"
    )


def test_gradient_slips():
    ref = xent.softmax_cross_entropy_grad
    not_divided = check_softmax_cross_entropy_grad(
        lambda z, t: ref(z, t, reduction="sum")
    )
    assert "4 times too large" in hint_of(
        not_divided, "a batch of 4 examples, 3 classes"
    )
    assert "divide softmax(z) - y by N" in hint_of(
        not_divided, "a batch of 4 examples, 3 classes"
    )
    assert "one example, 5 classes" not in failures(
        not_divided
    )  # N = 1: no difference
    flipped = check_softmax_cross_entropy_grad(lambda z, t: -ref(z, t))
    assert "wrong sign" in hint_of(flipped, "a batch of 4 examples, 3 classes")
    no_y = check_softmax_cross_entropy_grad(
        lambda z, t: textbook_softmax(z) / len(t)
    )
    assert "subtract the one-hot targets" in hint_of(
        no_y, "a batch of 4 examples, 3 classes"
    )
    transposed = check_softmax_cross_entropy_grad(
        lambda z, t: ref(z, t).T.copy()
    )
    result = failures(transposed)["a batch of 4 examples, 3 classes"]
    assert result.message == "returned shape (3, 4) but expected (4, 3)"
    assert "shape of logits" in result.hint

    def naive_grad(z, t):
        g = naive.softmax(z)
        g[np.arange(len(t)), t] -= 1
        return g / len(t)

    assert "overflows" in hint_of(
        check_softmax_cross_entropy_grad(naive_grad),
        "huge logits (1000, -1000)",
    )


def test_label_smoothing_conventions():
    wrong = check_label_smoothing(textbook_smooth_others)
    hint = hint_of(wrong, "3 examples, 4 classes, eps = 0.1")
    assert (
        "you used the 'others' convention" in hint
        and "asks for 'uniform'" in hint
    )
    # at K = 2 with eps = 0.2 the conventions differ, at eps = 0 and K = 1
    # they agree
    assert "eps = 0 gives one-hot rows" not in failures(wrong)
    assert check_label_smoothing(textbook_smooth_others, convention="others")
    swapped = check_label_smoothing(textbook_smooth, convention="others")
    assert "you used the 'uniform' convention" in hint_of(
        swapped, "ten classes, eps = 0.3"
    )
    unnormalised = check_label_smoothing(
        lambda t, e, *, num_classes: (
            (1 - e) * np.eye(num_classes)[t] + e / (num_classes - 1)
        )
    )
    assert "summing to 1" in hint_of(
        unnormalised, "3 examples, 4 classes, eps = 0.1"
    )
    transposed = check_label_smoothing(
        lambda t, e, *, num_classes: (
            textbook_smooth(t, e, num_classes=num_classes).T
        )
    )
    assert "rows and columns are swapped" in hint_of(
        transposed, "3 examples, 4 classes, eps = 0.1"
    )
    flat = check_label_smoothing(
        lambda t, e, *, num_classes: np.full(
            (len(t), num_classes), 1.0 / num_classes
        )
    )
    assert hint_of(flat, "3 examples, 4 classes, eps = 0.1").startswith(
        "with convention='uniform': every class"
    )
    float32 = check_label_smoothing(
        lambda t, e, *, num_classes: textbook_smooth(
            t, e, num_classes=num_classes
        ).astype(np.float32)
    )
    assert float32  # any float dtype
    with pytest.raises(
        ValueError,
        match="convention: expected 'uniform' or 'others', got 'pytorch'",
    ):
        check_label_smoothing(textbook_smooth, convention="pytorch")


def test_information_slips():
    bits = check_entropy(lambda p: xent.entropy(p, base=2))
    assert "bits" in hint_of(bits, "a fair coin: log 2 = 0.693 nats")
    negative = check_entropy(lambda p: -xent.entropy(p))
    assert "wrong sign" in hint_of(negative, "four outcomes")
    summed = check_entropy(lambda p: textbook_entropy(p.reshape(-1)))
    assert "sum over the last axis only" in hint_of(
        summed, "a batch of distributions, shape (3, 4)"
    )
    swapped = check_cross_entropy(lambda p, q: xent.cross_entropy(q, p))
    assert "swapped p and q" in hint_of(
        swapped, "p = (0.5, 0.5), q = (0.9, 0.1)"
    )
    kl_as_ce = check_kl_divergence(xent.cross_entropy)
    assert "that is the cross-entropy" in hint_of(
        kl_as_ce, "p = (0.5, 0.5), q = (0.9, 0.1)"
    )
    naive_ce = check_cross_entropy(
        lambda p, q: -np.sum(p * np.log(q), axis=-1)
    )
    assert set(failures(naive_ce)) == {"p = q = 0 for an outcome"}
    clipped = check_cross_entropy(
        lambda p, q: -np.sum(p * np.log(np.clip(q, 1e-12, 1)), axis=-1)
    )
    assert clipped  # 27.6 instead of inf for q = 0 is accepted
    nan_for_q0 = check_kl_divergence(
        lambda p, q: np.where(
            np.any(q == 0, axis=-1), np.nan, textbook_kl(p, q)
        )
    )
    result = failures(nan_for_q0)["q = 0 where p > 0: infinite"]
    assert result.expected.startswith("inf (or any value of at least 15")
    assert np.isnan(result.received)


def test_bce_probabilities_clamped_or_clipped_both_pass():
    assert check_binary_cross_entropy(
        xent.binary_cross_entropy
    )  # 100 for a confident mistake
    assert check_binary_cross_entropy(clipped_bce)  # 16.1
    small = check_binary_cross_entropy(
        lambda p, y: np.mean(
            np.where(y == 1, -np.log(p + 1e-3), -np.log(1.001 - p))
        )
    )
    assert "a confident mistake (p = 0 for y = 1)" in failures(
        small
    )  # 6.9 is not a large loss


# ----------------------------------------------------------------------------
# the report
# ----------------------------------------------------------------------------


def test_report_fields_and_truthiness():
    report = check_softmax(naive.softmax)
    assert isinstance(report.results[0], CheckResult)
    first = report.results[0]
    assert (
        first.name == "a vector of 3 logits"
        and first.passed
        and not first.bonus
    )
    assert np.array_equal(first.input["z"], [1.0, 2.0, 3.0])
    assert np.allclose(
        first.received, xent.softmax(np.array([1.0, 2.0, 3.0])), rtol=1e-15
    )
    first.input["z"][0] = (
        99.0  # the report holds copies: the checker's own cases are untouched
    )
    assert check_softmax(naive.softmax).results[0].input["z"][0] == 1.0
    huge = failures(report)["huge logits (1000, -1000)"]
    assert huge.input["z"][0, 0] == 1000.0
    assert huge.expected[1, 2] == pytest.approx(0.1553624)
    assert np.isnan(huge.received[0, 0])
    assert (report.passed, report.failed, report.bonus_missed) == (7, 4, 0)
    assert bool(report) is False and bool(check_softmax(xent.softmax)) is True


def test_report_text_ignores_the_notebook_print_options():
    before = str(check_softmax(naive.softmax))
    with np.printoptions(precision=2, suppress=True, threshold=3):
        assert str(check_softmax(naive.softmax)) == before
    report = check_softmax_cross_entropy(textbook_cross_entropy)
    with np.printoptions(suppress=True):
        assert "4.276979441e-18" in str(report)  # not printed as 0


def test_report_is_deterministic_and_has_no_addresses():
    texts = {
        repr(check_softmax_cross_entropy(naive.softmax_cross_entropy))
        for _ in range(3)
    }
    assert len(texts) == 1
    text = texts.pop()
    assert not re.search(r"0x[0-9a-f]+|\d+\.\d+ ?s\b", text)
    assert repr(check_softmax(xent.softmax)) == str(
        check_softmax(xent.softmax)
    )


def test_html_repr():
    good = check_softmax(xent.softmax)._repr_html_()
    assert good == (
        '<div class="xent-check"><div style="color:#1a7f37;font-weight:bold">'
        "✓ check_softmax: all checks passed</div></div>"
    )
    bad = check_softmax(lambda z: object())._repr_html_()
    assert (
        "#cf222e" in bad
        and "<pre" in bad
        and "&lt;" not in bad.split("<pre", 1)[0][-10:]
    )
    assert "object of type object" in bad
    bonus = check_softmax_cross_entropy(textbook_cross_entropy)._repr_html_()
    assert "#1a7f37" in bonus and "○ bonus:" in bonus


def test_tolerances_documented():
    assert TOL64 == {"rtol": 1e-6, "atol": 1e-12}
    assert TOL32 == {"rtol": 1e-5, "atol": 1e-6}


def test_nothing_reaches_stderr(capfd):
    def noisy(z):
        warnings.warn("a learner's own warning", stacklevel=1)
        return naive.softmax(z)

    with warnings.catch_warnings():
        warnings.simplefilter(
            "error"
        )  # any warning that escaped would raise here
        check_softmax(noisy)
        check_logsumexp(naive.logsumexp)
        check_binary_cross_entropy(
            lambda p, y: -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
        )
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_softplus_minus_yz_misses_the_tiny_loss_bonus_with_its_own_hint():
    def softplus_minus_yz(z, y):  # softplus(40) - 40 = (40 + 4e-18) - 40 = 0
        return np.mean(np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z))) - y * z)

    report = check_binary_cross_entropy_with_logits(softplus_minus_yz)
    assert report and report.bonus_missed == 1
    (missed,) = [r for r in report.results if not r.passed]
    assert "(40 + 4.2e-18) - 40 cancels" in missed.hint


def test_a_failing_diagnosis_falls_back_to_the_case_hint():
    from xent.check import Mistake

    def broken(got, want, z):
        raise IndexError("a diagnosis must never crash a report")

    checker = check_softmax.checker
    checker = checker.with_cases(checker.cases[:1])
    checker = type(checker)(
        **{
            **checker.__dict__,
            "mistakes": (Mistake("never shown", when=broken),),
        }
    )
    report = checker(lambda z: z)
    assert (
        report.results[0].hint == "compare with the definition of the softmax"
    )

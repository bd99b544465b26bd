"""Tests of the public engine of xent.check: Case, Mistake, Checker, the
symptom-chosen hints, the report text, library_calls, and the example of the
instructors page (run from the page itself, so that it cannot rot)."""

from __future__ import annotations

import re
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest

import xent
from xent.check import (
    CHECKERS,
    TOL32,
    TOL64,
    Case,
    Checker,
    Mistake,
    check_label_smoothing,
    check_logsumexp,
    check_softmax,
    check_softmax_cross_entropy,
    library_calls,
)

ROOT = Path(__file__).resolve().parents[1]


def failed(report):
    return {r.name: r for r in report.results if not r.passed}


# ----------------------------------------------------------------------------
# the instructors page's example is run as written there
# ----------------------------------------------------------------------------


def instructors_example() -> str:
    text = (ROOT / "book" / "instructors.md").read_text(encoding="utf-8")
    match = re.search(
        r"<!-- example: check_softplus -->\s*```python\n(.*?)```", text, re.S
    )
    assert match, "the instructors page lost its check_softplus example"
    return match.group(1)


def test_the_documented_checker_fits_in_30_lines_and_works():
    code = instructors_example()
    assert len(code.strip().splitlines()) <= 30
    namespace: dict = {}
    exec(compile(code, "instructors.md", "exec"), namespace)
    report = namespace["report"]
    assert not report
    assert str(report).startswith(
        "✗ check_softplus: 1 of 4 required checks failed"
    )
    assert "np.log1p" in str(report)
    check = namespace["check_softplus"]
    assert (
        str(check(namespace["softplus"]))
        == "✓ check_softplus: all checks passed"
    )
    assert "log(1 + z)" in str(check(np.log1p))
    # the report shown on the page is the one the code gives
    page = (ROOT / "book" / "instructors.md").read_text(encoding="utf-8")
    assert str(report) in page


# ----------------------------------------------------------------------------
# the report
# ----------------------------------------------------------------------------


def test_success_line_has_no_count():
    for name, checker in CHECKERS.items():
        report = checker(checker.reference)
        assert str(report) == f"✓ {checker.name}: all checks passed", name


def test_bonus_advice_has_no_count_either():
    def textbook(z):
        m = z.max(axis=-1, keepdims=True)
        return (m + np.log(np.exp(z - m).sum(axis=-1, keepdims=True)))[..., 0]

    line = str(check_logsumexp(textbook)).split("\n")[0]
    assert line == (
        "✓ check_logsumexp: all required checks passed (advice on bonus "
        "checks below)"
    )


def test_minus_inf_is_written_as_such_and_integers_as_integers():
    def log_of_softmax(z):
        return np.log(xent.softmax(z))

    from xent.check import check_log_softmax

    report = check_log_softmax(log_of_softmax)
    assert "returned -inf (2 of 6 entries wrong)" in str(report)
    assert (
        "never take the log of a softmax"
        in failed(report)["huge logits (1000, -1000)"].hint
    )
    smooth = check_label_smoothing(lambda t, e, *, num_classes: None)
    assert "not implemented yet" in str(smooth)
    wrong = check_label_smoothing(
        lambda t, e, *, num_classes: np.zeros((len(t), num_classes))
    )
    assert "num_classes = 4\n" in str(wrong)
    assert "num_classes = 4.0" not in str(wrong)


def test_large_inputs_say_how_to_get_them():
    report = check_softmax(lambda z: xent.softmax(z) + 0.01)
    text = str(report)
    line = "z = float64 array of shape (4, 5) (report.results[1].inputs['z'])"
    assert line in text
    assert report.results[1].inputs["z"].shape == (4, 5)
    assert report.results[1].input is report.results[1].inputs


def test_nan_gets_no_dtype_hint():
    report = check_softmax(lambda z: np.full(z.shape, np.nan, dtype=z.dtype))
    f32 = failed(report)["float32 input"]
    assert f32.message.startswith("returned nan")
    assert "precision" not in f32.hint and "nan comes from" in f32.hint


def test_wrong_dtype_with_right_values_gets_the_dtype_hint():
    report = check_softmax(lambda z: xent.softmax(z.astype(np.float64)))
    assert failed(report)["float32 input"].message == (
        "returned float64 for float32 input"
    )


def test_logsumexp_never_gets_the_loss_hint():
    keeps = check_logsumexp(lambda z: xent.logsumexp(z, keepdims=True))
    hint = failed(keeps)["a vector of 3 logits"].hint
    assert "drop it" in hint and "np.mean" not in hint
    listy = check_logsumexp(lambda z: [1.0])
    hint = failed(listy)["a vector of 3 logits"].hint
    assert "np.mean" not in hint and "log-sum-exp of a vector" in hint


def test_a_torch_scalar_gets_the_item_hint():
    torch = pytest.importorskip("torch")

    def tensor_loss(z, t):
        return torch.tensor(xent.softmax_cross_entropy(z, t))

    hint = failed(check_softmax_cross_entropy(tensor_loss))[
        "a batch of 4 examples, 3 classes"
    ].hint
    assert ".item()" in hint


def test_old_label_smoothing_signature_is_told_the_new_call():
    def old(targets, num_classes, epsilon):
        return np.eye(num_classes)[targets]

    hint = failed(check_label_smoothing(old))[
        "3 examples, 4 classes, eps = 0.1"
    ].hint
    assert "fn(targets, label_smoothing, num_classes=K)" in hint


@pytest.mark.parametrize("stub", ["none", "raise"])
def test_untouched_stubs_give_one_line(stub):
    def my_function(*args, **kwargs):
        if stub == "raise":
            raise NotImplementedError
        ...  # your code here

    for name, checker in CHECKERS.items():
        text = str(checker(my_function))
        assert "\n" not in text and "not implemented yet" in text, name


# ----------------------------------------------------------------------------
# the engine's pieces
# ----------------------------------------------------------------------------


def test_tolerances_are_read_only():
    assert isinstance(TOL64, MappingProxyType)
    with pytest.raises(TypeError):
        TOL64["rtol"] = 1.0  # type: ignore[index]


def test_case_tolerance_follows_the_input_dtype():
    assert Case("x", (np.zeros(2),)).tolerance() is TOL64
    assert Case("x", (np.zeros(2, np.float32),)).tolerance() is TOL32
    assert Case(
        "x", (np.zeros(2),), tol={"rtol": 0, "atol": 0}
    ).tolerance() == {
        "rtol": 0,
        "atol": 0,
    }


def test_hints_keyed_by_symptom():
    case = Case("c", (1.0,), hint={"nan": "N", "shape": "S"})
    assert case.hint_for("nan") == "N" and case.hint_for("-inf") == ""
    plain = Case("c", (1.0,), hint="H")
    assert plain.hint_for("value") == "H" and plain.hint_for("dtype") == ""
    assert plain.hint_for("value", explicit=True) == ""


def test_mistakes_are_told_apart_and_never_crash():
    double = Mistake("doubled", fn=lambda x: 2 * x)
    boom = Mistake("never", when=lambda *a: 1 / 0)
    check = Checker(
        "check_id",
        lambda x: x + 0.0,
        ("x",),
        (Case("a vector", (np.array([1.0, 2.0]),), hint="generic"),),
        mistakes=(boom, double),
    )
    assert failed(check(lambda x: 2 * x))["a vector"].hint == "doubled"
    assert failed(check(lambda x: 3 * x))["a vector"].hint == "generic"


def test_with_cases_keeps_reference_and_mistakes():
    base = check_softmax.checker
    z = np.array([[800.0, 700.0], [-3.0, -4.0]])
    hidden = base.with_cases([Case("hidden", (z,))], name="hidden_softmax")
    assert (
        hidden.mistakes == base.mistakes and hidden.reference is base.reference
    )
    assert hidden(xent.softmax)

    def global_max(z):
        e = np.exp(z - z.max())
        return e / e.sum(axis=-1, keepdims=True)

    report = hidden(global_max)
    assert not report and "whole array (z.max())" in report.results[0].hint


def test_every_checker_is_registered():
    import xent.check as check

    names = {n for n in check.__all__ if n.startswith("check_")}
    assert set(CHECKERS) == names
    for name in names:
        assert getattr(check, name).checker is CHECKERS[name]


def test_library_calls_sees_every_import_style():
    from xent import softmax as imported

    z = np.zeros((2, 3))
    assert library_calls(lambda v: xent.softmax(v), z) == (
        "xent.numerics.softmax",
    )
    assert library_calls(lambda v: imported(v), z) == (
        "xent.numerics.softmax",
    )
    assert library_calls(lambda v: np.exp(v) / np.exp(v).sum(), z) == ()
    assert library_calls(lambda v: 1 / 0, z) == ()  # errors are swallowed
    # the checkers themselves use xent, and are not counted
    assert library_calls(lambda v: check_softmax(np.exp), z) == ()


def test_checker_for_options():
    from xent.check._checkers import LABEL_SMOOTHING_OTHERS

    assert check_softmax.checker_for() is check_softmax.checker
    others = check_label_smoothing.checker_for(convention="others")
    assert others is LABEL_SMOOTHING_OTHERS
    with pytest.raises(ValueError, match="no checker for the options"):
        check_softmax.checker_for(axis=0)

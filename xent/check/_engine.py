"""The engine of the checkers: cases, mistakes, and the checker that runs them.

A checker is a table: a reference function, the names of the arguments, the
cases to try, and the classic mistakes to recognise. Everything else (copies
of the inputs, catching what the learner's function raises, the comparison of
type, shape, values and dtype, the hint chosen by the symptom, the check that
the inputs are unchanged) is done here, once, for every checker.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from ._report import PRINT_SIZE, CheckReport, CheckResult, fmt, fmt_number

TOL64 = MappingProxyType({"rtol": 1e-6, "atol": 1e-12})
"""Tolerances (``np.isclose``) for float64 inputs."""
TOL32 = MappingProxyType({"rtol": 1e-5, "atol": 1e-6})
"""Tolerances for float32 inputs (reference computed from the same input)."""
TOL_RELATIVE = MappingProxyType({"rtol": 1e-6, "atol": 0.0})
"""Relative tolerance only, so that 0 is not close to 4e-18 (tiny losses)."""

# The symptoms a wrong result can show; a case's hint may be keyed by them.
SYMPTOMS = ("nan", "inf", "-inf", "value", "shape", "dtype")

GENERIC_HINTS = MappingProxyType(
    {
        "raised": "run your function on the input above to see the full error",
        "type": "return a NumPy array: build the result with NumPy "
        "operations (np.exp, np.sum, ...) or convert it with np.asarray(...)",
        "torch": "convert the tensor: .numpy() for an array, .item() for "
        "a single number",
        "scalar": "return a single number",
        "int": "the result should be floating point: check for integer "
        "arrays such as np.zeros_like(targets)",
        "float32": "keep the input's precision: NumPy keeps float32 through "
        "np.exp, np.log, np.sum and arithmetic with Python numbers; avoid "
        ".astype(np.float64), np.asarray(z, dtype=float) and np.float64 "
        "constants",
        "float64": "compute in the input's precision (float64 here); "
        "something rounded to a lower precision",
        "rounding": "your values agree with the reference to only a few "
        "digits: something was computed in a lower precision (float32, "
        "float16) or rounded; compute in the input's dtype",
        "nan": "nan comes from inf - inf, inf / inf, 0 * inf or 0 / 0: look "
        "for an np.exp that overflows, a log(0), or a 0 that multiplies an "
        "infinity",
        "inf": "an infinity where the answer is an ordinary number: look for "
        "an np.exp that overflows or a division by a number that underflowed "
        "to 0",
        "-inf": "-inf where the answer is an ordinary number: look for the "
        "log of a number that underflowed to 0",
        "value": "compare your formula with the definition in the exercise",
    }
)


@contextlib.contextmanager
def quiet():
    """No NumPy floating-point warnings and no Python warnings reach stderr."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            yield


@dataclass(frozen=True)
class Case:
    """One input on which the learner's function is tried.

    Parameters
    ----------
    name : str
        What the case tries, in words; shown in the report.
    args : tuple
        The positional arguments (NumPy arrays, numbers). The learner's
        function and the reference get copies.
    hint : str or mapping, optional
        How to fix a wrong result. A string is shown for wrong values
        (nan, inf, finite but wrong); a mapping keys hints by symptom:
        ``"nan"``, ``"inf"``, ``"-inf"``, ``"value"`` (finite but wrong),
        ``"shape"``, ``"dtype"``. A symptom without a hint gets a generic one.
    kwargs : mapping, optional
        Keyword arguments, given to both functions.
    tol : mapping, optional
        ``np.isclose`` tolerances; by default :data:`TOL32` if an argument
        is a float32 array, else :data:`TOL64`.
    bonus : bool, optional
        A failure is advice and does not fail the report.
    any_float : bool, optional
        Accept an array result of any float dtype (by default it must have
        the reference's dtype).
    accept : callable, optional
        ``accept(received)`` (as float64) replaces the comparison with the
        reference, for cases where several values are right.
    expected_text : str, optional
        Shown as the expected value (with ``accept``).
    """

    name: str
    args: tuple
    hint: str | Mapping[str, str] = ""
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    tol: Mapping[str, float] | None = None
    bonus: bool = False
    any_float: bool = False
    accept: Callable[[np.ndarray], bool] | None = None
    expected_text: str = ""

    def hint_for(self, symptom: str, *, explicit: bool = False) -> str:
        """The case's hint for a symptom (``""`` if it has none).

        With ``explicit=True``, only a hint keyed by this very symptom.
        """
        if isinstance(self.hint, str):
            values = symptom in ("nan", "inf", "-inf", "value")
            return self.hint if values and not explicit else ""
        return self.hint.get(symptom, "")

    def tolerance(self) -> Mapping[str, float]:
        """The tolerances the comparison uses."""
        if self.tol is not None:
            return self.tol
        float32 = any(
            isinstance(a, np.ndarray) and a.dtype == np.float32
            for a in (*self.args, *self.kwargs.values())
        )
        return TOL32 if float32 else TOL64


@dataclass(frozen=True)
class Mistake:
    """A classic mistake, recognised by what it returns, and its hint.

    Parameters
    ----------
    hint : str or callable
        What to say. A callable is called with the case's arguments
        (``hint(*args, **kwargs)``) and returns the text.
    fn : callable, optional
        The mistaken implementation, called like the learner's function.
        The mistake is recognised where the learner's result equals its
        result (nan and inf included) and the right answer does not.
    when : callable, optional
        ``when(received, expected, *args, **kwargs) -> bool``: a test of
        its own (both arrays as float64), for mistakes that are easier to
        describe than to implement. With ``fn`` too, both must hold.
    """

    hint: str | Callable[..., str]
    fn: Callable | None = None
    when: Callable[..., bool] | None = None

    def recognises(self, received, expected, case: Case) -> bool:
        """Whether ``received`` (float64) is this mistake's result."""
        if self.when is not None and not self.when(
            received, expected, *case.args, **case.kwargs
        ):
            return False
        if self.fn is not None:
            if np.ndim(received) == 0 and not np.isfinite(received):
                return (
                    False  # one inf or nan: too little to tell mistakes apart
                )
            with quiet():
                made = self.fn(*_copies(case.args), **_copies(case.kwargs))
            return same_values(received, made) and not same_values(
                expected, made
            )
        return self.when is not None

    def text(self, case: Case) -> str:
        """The hint for this case."""
        if callable(self.hint):
            return self.hint(*case.args, **case.kwargs)
        return self.hint


@dataclass(frozen=True)
class Checker:
    """A checker: call it with the learner's function to get a report.

    Parameters
    ----------
    name : str
        Shown in the report (``"check_softplus"``).
    reference : callable
        The right implementation; ``reference(*case.args, **case.kwargs)``
        is the expected result of every case.
    arg_names : tuple of str
        The names of the positional arguments, for the report.
    cases : tuple of Case
        The inputs to try, in order. The first one should be an ordinary
        input: a function that returns ``None`` or raises
        ``NotImplementedError`` there is reported as not implemented yet.
    mistakes : tuple of Mistake, optional
        Classic mistakes, tried in order on every wrong result; the first
        one recognised gives the hint.
    call : str, optional
        How the learner's function is called, shown when it raises a
        ``TypeError`` (``"fn(targets, label_smoothing, num_classes=K)"``).
    scalar_hint : str, optional
        The hint for a result that should be a single number but is not.

    Examples
    --------
    >>> import numpy as np
    >>> from xent.check import Case, Checker
    >>> check_square = Checker("check_square", np.square, ("x",),
    ...                        (Case("a vector", (np.array([1.0, -2.0]),)),))
    >>> check_square(lambda x: x * x)
    ✓ check_square: all checks passed
    >>> print(check_square(lambda x: 2 * x))
    ✗ check_square: 1 of 2 required checks failed
      ✗ a vector
          wrong values (2 of 2 entries wrong)
          input:    x = array([ 1., -2.])
          expected: array([1., 4.])
          received: array([ 2., -4.])
          hint: compare your formula with the definition in the exercise
      ✓ leaves its input unchanged
    """

    name: str
    reference: Callable
    arg_names: tuple[str, ...]
    cases: tuple[Case, ...]
    mistakes: tuple[Mistake, ...] = ()
    call: str = ""
    scalar_hint: str = GENERIC_HINTS["scalar"]

    def with_cases(self, cases, *, name: str | None = None) -> Checker:
        """The same checker (reference, mistakes) on other cases."""
        return dataclasses.replace(
            self, cases=tuple(cases), name=name or self.name
        )

    def expected(self, case: Case):
        """The reference result of a case."""
        with quiet():
            return self.reference(*_copies(case.args), **_copies(case.kwargs))

    def __call__(self, fn) -> CheckReport:
        return run(self, fn)


# ----------------------------------------------------------------------------
# running a checker
# ----------------------------------------------------------------------------


def _copy(a):
    return a.copy() if isinstance(a, np.ndarray) else a


def _copies(args):
    if isinstance(args, Mapping):
        return {k: _copy(v) for k, v in args.items()}
    return tuple(_copy(a) for a in args)


def _inputs(checker: Checker, case: Case) -> dict:
    inputs = dict(zip(checker.arg_names, _copies(case.args), strict=False))
    inputs.update(_copies(case.kwargs))
    return inputs


def _unchanged(original, passed) -> bool:
    if not isinstance(original, np.ndarray):
        return True
    if not isinstance(passed, np.ndarray) or passed.shape != original.shape:
        return False  # z.shape = ... or z.resize(...)
    equal_nan = original.dtype.kind == "f"
    return bool(np.array_equal(original, passed, equal_nan=equal_nan))


def _call_name(fn) -> str:
    return getattr(fn, "__name__", None) or "your function"


def run(checker: Checker, fn) -> CheckReport:
    """Run ``fn`` through every case of ``checker`` and report."""
    name = checker.name
    if not callable(fn):
        text = f"expected a function, got {fmt(fn)}"
        result = CheckResult("a function", False, text)
        return CheckReport(name, (result,), summary_override=text)
    who = _call_name(fn)
    results = []
    mutated = None
    with quiet():
        for i, case in enumerate(checker.cases):
            args, kwargs = _copies(case.args), _copies(case.kwargs)
            try:
                received = fn(*args, **kwargs)
            except NotImplementedError:
                if i == 0:
                    return _not_implemented(
                        name, who, "raised NotImplementedError"
                    )
                results.append(
                    _failure(
                        checker,
                        case,
                        "raised NotImplementedError",
                        None,
                        GENERIC_HINTS["raised"],
                    )
                )
                continue
            except Exception as exc:  # reported, never propagated
                message = f"raised {type(exc).__name__}: {exc}".rstrip(": ")
                hint = GENERIC_HINTS["raised"]
                if isinstance(exc, TypeError) and checker.call:
                    hint = (
                        f"the checker calls your function as {checker.call}; "
                        f"{hint}"
                    )
                results.append(_failure(checker, case, message, None, hint))
                continue
            finally:
                same = all(
                    _unchanged(a, c)
                    for a, c in zip(case.args, args, strict=True)
                ) and all(
                    _unchanged(case.kwargs[k], kwargs[k]) for k in kwargs
                )
                if mutated is None and not same:
                    mutated = case
            if i == 0 and received is None:
                return _not_implemented(name, who, "returned None")
            results.append(compare(checker, case, received))
        results.append(_mutation_result(checker, mutated))
    return CheckReport(name, tuple(results))


def _not_implemented(name: str, who: str, what: str) -> CheckReport:
    if what == "returned None":
        text = (
            f"not implemented yet ({who} returned None; if you did write "
            "it, check for a missing `return`)"
        )
    else:
        text = (
            f"not implemented yet ({who} {what}): write its body, run its "
            "cell, then run this cell again"
        )
    result = CheckResult("implemented", False, text, hint=text)
    return CheckReport(name, (result,), summary_override=text)


def _mutation_result(checker: Checker, case: Case | None) -> CheckResult:
    name = "leaves its input unchanged"
    if case is None:
        return CheckResult(name, True)
    return CheckResult(
        name,
        False,
        message=f"your function changed its input array (case: {case.name})",
        inputs=_inputs(checker, case),
        hint="work on new arrays: `z = z - z.max(...)` makes a new array, "
        "while `z -= ...`, `z[...] = ...` and `np.exp(z, out=z)` overwrite "
        "the caller's data",
    )


def _failure(checker, case, message, received, hint, expected=None):
    if expected is None and not case.expected_text:
        expected = checker.expected(case)
    return CheckResult(
        case.name,
        False,
        message=message,
        inputs=_inputs(checker, case),
        expected=case.expected_text or _copy(expected),
        received=received,
        hint=hint,
        bonus=case.bonus,
    )


def _is_number(x) -> bool:
    return isinstance(
        x, (int, float, np.integer, np.floating)
    ) and not isinstance(x, (bool, np.bool_))


def _is_torch(x) -> bool:
    return type(x).__module__.split(".")[0] == "torch"


def _describe_type(x) -> str:
    if x is None:
        return "None"
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__}"
    return f"an object of type {type(x).__name__}"


def _diagnose(checker: Checker, case: Case, got, expected) -> str:
    """The hint of the first mistake recognised, or ``""``."""
    for mistake in checker.mistakes:
        try:
            if mistake.recognises(got, expected, case):
                return mistake.text(case)
        except Exception:  # a courtesy: an odd result must not crash
            continue
    return ""


def compare(checker: Checker, case: Case, received) -> CheckResult:
    """Compare one result with the reference: type, shape, values, dtype.

    The dtype is judged only once the values are right, so that a result
    full of nan gets a hint about nan, not about precision.
    """
    expected_value = checker.expected(case)
    expected = np.asarray(expected_value)
    problem = (
        _form_problem(checker, case, received, expected)
        or _value_problem(checker, case, np.asarray(received), expected)
        or _dtype_problem(case, received, expected)
    )
    if problem is not None:
        message, hint = problem
        return _failure(checker, case, message, received, hint, expected_value)
    return CheckResult(
        case.name,
        True,
        inputs=_inputs(checker, case),
        expected=case.expected_text or _copy(expected_value),
        received=received,
        bonus=case.bonus,
    )


Problem = tuple[str, str] | None


def _shape_hint(checker, case, got, expected, default: str) -> str:
    return (
        _diagnose(checker, case, got, expected)
        or case.hint_for("shape")
        or default
    )


def _form_problem(checker, case, received, expected) -> Problem:
    """The type, the shape and the kind of numbers of the result."""
    type_hint = GENERIC_HINTS["torch" if _is_torch(received) else "type"]
    if expected.ndim == 0 and not isinstance(received, np.ndarray):
        if _is_number(received):
            return None
        hint = type_hint if _is_torch(received) else checker.scalar_hint
        return f"returned {_describe_type(received)}, expected a number", hint
    if expected.ndim > 0 and _is_number(received):
        got = np.asarray(received, dtype=np.float64)
        want = f"shape {expected.shape}"
        hint = _shape_hint(checker, case, got, expected, f"return an {want}")
        return f"returned a single number but expected {want}", hint
    if not isinstance(received, np.ndarray):
        return (
            f"returned {_describe_type(received)}, not a NumPy array",
            type_hint,
        )
    if received.shape != expected.shape:
        if expected.ndim == 0:
            want, default = "a single number", checker.scalar_hint
        else:
            want = str(expected.shape)
            default = f"return shape {want}"
        hint = _shape_hint(checker, case, received, expected, default)
        return f"returned shape {received.shape} but expected {want}", hint
    if received.dtype.kind not in "fiu":
        return (
            f"returned an array of dtype {received.dtype}, expected real "
            "numbers",
            GENERIC_HINTS["type"],
        )
    if expected.ndim > 0 and received.dtype.kind != "f":
        return (
            f"returned an array of dtype {received.dtype}, expected floats",
            GENERIC_HINTS["int"],
        )
    return None


def _value_problem(checker, case, got, expected) -> Problem:
    got64 = got.astype(np.float64)
    want64 = expected.astype(np.float64)
    tol = case.tolerance()
    if case.accept is not None:
        ok = bool(case.accept(got64))
    else:
        ok = bool(np.all(_isclose(got64, want64, tol)))
    if ok:
        return None
    symptom = _symptom(got64, want64)
    hint = (
        _diagnose(checker, case, got64, want64)
        or case.hint_for(symptom, explicit=True)
        or (symptom == "value" and _rounded(got64, want64, tol))
        or case.hint_for(symptom)
        or GENERIC_HINTS[symptom]
    )
    return _value_message(got64, want64, symptom, tol), hint


def _dtype_problem(case, received, expected) -> Problem:
    """A lower precision than the reference's (any float for any_float).

    A single number may be a Python float or any NumPy float type, but not
    one of a lower precision than the reference (a float32 loss for float64
    input); an array must have the reference's dtype.
    """
    if case.any_float:
        return None
    got = np.asarray(received)
    if expected.ndim == 0:
        lower = (
            isinstance(received, np.floating)
            and expected.dtype.kind == "f"
            and got.dtype.itemsize < expected.dtype.itemsize
        )
        if not lower:
            return None
        key = "float64"
    elif got.dtype != expected.dtype:
        key = "float32" if expected.dtype == np.float32 else "float64"
    else:
        return None
    return (
        f"returned {got.dtype} for {expected.dtype} input",
        case.hint_for("dtype") or GENERIC_HINTS[key],
    )


def _symptom(got: np.ndarray, want: np.ndarray) -> str:
    if np.isnan(got).any():
        return "nan"
    wrong_inf = np.isinf(got) & (got != want)
    if (wrong_inf & (got > 0)).any():
        return "inf"
    if wrong_inf.any():
        return "-inf"
    return "value"


def _rounded(got, want, tol) -> str:
    """The rounding hint, if the values agree to 3 to 6 digits."""
    loose = {"rtol": 1e-3, "atol": tol["atol"]}
    finite = np.isfinite(want).all()
    if finite and np.all(_isclose(got, want, loose)):
        return GENERIC_HINTS["rounding"]
    return ""


def _value_message(got, want, symptom, tol) -> str:
    what = {
        "nan": "returned nan",
        "inf": "returned inf",
        "-inf": "returned -inf",
        "value": "wrong values" if got.ndim else "wrong value",
    }[symptom]
    if got.ndim == 0:
        return what
    bad = ~_isclose(got, want, tol)
    text = f"{what} ({int(bad.sum())} of {bad.size} entries wrong)"
    if got.size > PRINT_SIZE and bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        text += (
            f"; the first at index {where}: expected "
            f"{fmt_number(want[where])}, received {fmt_number(got[where])}"
        )
    return text


def _isclose(a, b, tol: Mapping[str, float], *, equal_nan: bool = False):
    return np.isclose(
        a, b, rtol=tol["rtol"], atol=tol["atol"], equal_nan=equal_nan
    )


def same_values(a, b, tol=None) -> bool:
    """Same shape and close values, nan matching nan and inf matching inf."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return False
    tol = tol or {"rtol": 1e-5, "atol": 1e-9}
    return bool(np.all(_isclose(a, b, tol, equal_nan=True)))


# ----------------------------------------------------------------------------
# numpy only: did the function call the library?
# ----------------------------------------------------------------------------

_XENT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_CHECK_DIR = os.path.dirname(os.path.abspath(__file__))


def library_calls(fn, *args, **kwargs) -> tuple[str, ...]:
    """The functions of the :mod:`xent` library that ``fn(*args)`` calls.

    For exercises that say "NumPy only": a learner's function that returns
    ``xent.softmax(z)`` passes every check, since it *is* the reference.
    This runs ``fn`` once (on copies of the arguments, exceptions and
    warnings swallowed) under a profiler and lists the :mod:`xent`
    functions it entered, however they were imported (``xent.softmax``,
    ``from xent import softmax``); :mod:`xent.check` itself is not counted.

    Returns
    -------
    tuple of str
        ``"module.function"`` names, sorted, without repeats (empty if the
        function is NumPy only).

    Examples
    --------
    >>> import numpy as np, xent
    >>> from xent.check import library_calls
    >>> library_calls(lambda z: xent.softmax(z), np.zeros(3))
    ('xent.numerics.softmax',)
    >>> library_calls(lambda z: np.exp(z) / np.exp(z).sum(), np.zeros(3))
    ()
    """
    seen: set[str] = set()
    inside_check = [0]  # calls made by xent.check itself are not counted

    def profile(frame, event, arg):
        if event not in ("call", "return"):
            return
        path = os.path.abspath(frame.f_code.co_filename)
        if path.startswith(_CHECK_DIR + os.sep):
            inside_check[0] += 1 if event == "call" else -1
            return
        if event != "call" or inside_check[0] > 0:
            return
        if path.startswith(_XENT_DIR + os.sep):
            module = frame.f_globals.get("__name__", "xent")
            name = getattr(frame.f_code, "co_qualname", frame.f_code.co_name)
            private = module.rsplit(".", 1)[-1].startswith("_")
            if not private and not name.startswith("_") and "<" not in name:
                seen.add(f"{module}.{name}")

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        with quiet():
            fn(*_copies(args), **_copies(kwargs))
    except Exception:
        pass
    finally:
        sys.setprofile(previous)
    return tuple(sorted(seen))

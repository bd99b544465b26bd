"""Automatic feedback on a learner's implementation of the course's functions.

Each ``check_*`` function takes the learner's function, runs it on ordinary inputs and on the
numerical traps the course is about, compares what comes back with the :mod:`xent` reference, and
returns a :class:`CheckReport`: one line when everything passes, and for each failure the input,
the expected and the received value, and a hint. A notebook displays the report when it is the
last expression of a cell::

    from xent.check import check_softmax
    check_softmax(my_softmax)

The learner's function is called with NumPy arrays (and, where the exercise says so, integers and
floats), one call per case, each time on fresh copies of the inputs.

What is checked, for every function:

- ordinary inputs: a vector, a batch of rows (2-d) and, for the row-wise functions (softmax,
  log-softmax, log-sum-exp, entropy, cross-entropy, KL divergence), a 3-d batch: the function must
  work along the last axis;
- a single class (K = 1) where that is defined;
- the traps: logits of +-1000 and, in float32, of 100 (``np.exp`` overflows above about 709.78 in
  float64 and 88.72 in float32), logits of ``-inf`` (a class of probability 0), probabilities of
  exactly 0 (``0 * log(0)`` must count as 0);
- float32 input: an array result must be float32 again (as NumPy, PyTorch and :mod:`xent` do) and
  accurate to float32 precision; a scalar result (a mean loss) may be of any float type but must be
  accurate to float32 precision;
- the input arrays are unchanged after every call;
- the result's type (a NumPy array; a plain number or NumPy scalar for a mean loss), its shape and
  its dtype, and NaN where a number was expected.

Tolerances (``np.isclose``): ``rtol=1e-6, atol=1e-12`` for float64 input, ``rtol=1e-5, atol=1e-6``
for float32 input. They are loose enough for any sound way of computing the function and tight
enough to catch every mistake listed in the hints.

*Bonus* checks ask for more than the exercise: the tiny loss of a confidently correct prediction
to full relative precision (``rtol=1e-6, atol=0``: ``logsumexp(z) - z_t`` rounds it to 0, ``log1p``
keeps it), a row of all ``-inf`` in log-sum-exp, soft targets in the binary losses. A missed bonus
check is reported as advice and does not make the report fail.

A function that raises, returns ``None``, returns something that is not an array, or returns the
wrong shape or dtype is reported, never propagated: the checker does not raise, and NumPy warnings
inside the learner's function (overflow, ``log(0)``) are silenced so that nothing reaches stderr.
The reports are deterministic (no addresses, no timings), so that notebooks that display them can
be regression-tested.
"""

from __future__ import annotations

import contextlib
import html
import math
import textwrap
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

import xent

__all__ = [
    "TOL64",
    "TOL32",
    "TOL_RELATIVE",
    "CheckResult",
    "CheckReport",
    "check_softmax",
    "check_log_softmax",
    "check_logsumexp",
    "check_softmax_cross_entropy",
    "check_binary_cross_entropy_with_logits",
    "check_softmax_cross_entropy_grad",
    "check_label_smoothing",
    "check_entropy",
    "check_cross_entropy",
    "check_kl_divergence",
    "check_binary_cross_entropy",
]

TOL64 = {"rtol": 1e-6, "atol": 1e-12}
"""Tolerances (``np.isclose``) for float64 inputs."""
TOL32 = {"rtol": 1e-5, "atol": 1e-6}
"""Tolerances for float32 inputs, compared with the reference computed from the same float32 input."""
TOL_RELATIVE = {"rtol": 1e-6, "atol": 0.0}
"""Tolerances of the tiny-loss bonus checks: relative only, so that 0 is not close to 4e-18."""

# Values above this count as "a large loss" where the exact answer is inf (a confident mistake on
# probabilities): clipping p to [1e-7, 1 - 1e-7], as Keras does, gives 16.1; PyTorch's clamp 100.
_LARGE_LOSS = 15.0

# Arrays with more entries than this are described by shape, not printed, in the reports.
_PRINT_SIZE = 12
# Messages and hints are wrapped to this width (plus an indentation of 6).
_WIDTH = 90


# --------------------------------------------------------------------------------------------
# results and reports
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one case of a check.

    Attributes
    ----------
    name : str
        What the case tries, in words (``"huge logits (1000, -1000)"``).
    passed : bool
        Whether the learner's function got it right.
    message : str
        What went wrong, in one line (empty when passed).
    input : dict
        The arguments the function was called with, by name (``{"z": array(...)}``); the function
        was given copies.
    expected : object
        The reference result, or a description (a ``str``) where several values are accepted.
    received : object
        What the function returned (``None`` when it raised).
    hint : str
        How to fix it (empty when passed).
    bonus : bool
        A bonus check: a failure is advice and does not fail the report.
    """

    name: str
    passed: bool
    message: str = ""
    input: Any = None
    expected: Any = None
    received: Any = None
    hint: str = ""
    bonus: bool = False


@dataclass(frozen=True)
class CheckReport:
    """The results of one checker: truthy if and only if every required check passed.

    Attributes
    ----------
    name : str
        The checker's name (``"check_softmax"``).
    results : tuple of CheckResult
        One result per case; the last one says whether the inputs were left unchanged.
    summary_override : str
        Replaces the summary line (used when the function is not implemented yet).

    Notes
    -----
    ``str(report)`` and ``repr(report)`` are the same deterministic text: one line when every
    check passed, otherwise a line per check (``✓`` passed, ``✗`` failed, ``○`` bonus missed) with
    the input, expected and received values and a hint under each one that did not pass.
    """

    name: str
    results: tuple = field(default_factory=tuple)
    summary_override: str = ""

    @property
    def passed(self) -> int:
        """Number of checks passed (bonus checks included)."""
        return sum(r.passed for r in self.results)

    @property
    def failed(self) -> int:
        """Number of required checks failed."""
        return sum(not r.passed and not r.bonus for r in self.results)

    @property
    def bonus_missed(self) -> int:
        """Number of bonus checks not passed."""
        return sum(not r.passed and r.bonus for r in self.results)

    def __bool__(self) -> bool:
        return self.failed == 0

    def summary(self) -> str:
        """The first line of the report."""
        if self.summary_override:
            return f"✗ {self.name}: {self.summary_override}"
        total = len(self.results)
        required = sum(not r.bonus for r in self.results)
        bonus = ""
        if self.bonus_missed:
            s = "s" if self.bonus_missed > 1 else ""
            bonus = f"; {self.bonus_missed} bonus check{s} not passed"
        if self.failed:
            return f"✗ {self.name}: {self.failed} of {required} required checks failed{bonus}"
        if self.bonus_missed:
            return f"✓ {self.name}: all {required} required checks passed{bonus}"
        return f"✓ {self.name}: all {total} checks passed"

    def _lines(self) -> list[str]:
        lines = [self.summary()]
        if self.summary_override or (not self.failed and not self.bonus_missed):
            return lines
        shown_hints: dict = {}
        for r in self.results:
            if r.passed:
                if self.failed:
                    lines.append(f"  ✓ {r.name}")
                continue
            mark = "○ bonus:" if r.bonus else "✗"
            lines.append(f"  {mark} {r.name}")
            lines.extend("      " + line for line in _details(r, shown_hints))
        return lines

    def __str__(self) -> str:
        return "\n".join(self._lines())

    __repr__ = __str__

    def _repr_html_(self) -> str:
        lines = self._lines()
        colour = "#1a7f37" if self else "#cf222e"
        head = f'<div style="color:{colour};font-weight:bold">{html.escape(lines[0])}</div>'
        if len(lines) == 1:
            return f'<div class="xent-check">{head}</div>'
        body = html.escape("\n".join(lines[1:]))
        pre = '<pre style="margin:0.3em 0;white-space:pre-wrap">'
        return f'<div class="xent-check">{head}{pre}{body}</pre></div>'


def _details(r: CheckResult, shown_hints: dict) -> list[str]:
    out = []
    if r.message:
        out.extend(textwrap.wrap(r.message, _WIDTH, subsequent_indent="  ", break_on_hyphens=False))
    if r.input:
        out.extend(_labelled("input:    ", _fmt_input(r.input)))
    if r.expected is not None:
        out.extend(_labelled("expected: ", r.expected if isinstance(r.expected, str) else _fmt(r.expected)))
    if r.received is not None:
        out.extend(_labelled("received: ", _fmt(r.received)))
    if r.hint in shown_hints:
        out.append(f"hint: as for “{shown_hints[r.hint]}” above")
    elif r.hint:
        out.extend(textwrap.wrap(f"hint: {r.hint}", _WIDTH, subsequent_indent=" " * 6,
                                 break_on_hyphens=False, break_long_words=False))
        shown_hints[r.hint] = r.name
    return out


def _labelled(label: str, text: str) -> list[str]:
    lines = str(text).split("\n")
    return [label + lines[0]] + [" " * len(label) + line for line in lines[1:]]


# --------------------------------------------------------------------------------------------
# formatting (independent of the notebook's np.set_printoptions)
# --------------------------------------------------------------------------------------------


def _printoptions():
    return np.printoptions(
        precision=8, suppress=False, threshold=1000, edgeitems=3, linewidth=88,
        floatmode="maxprec", sign="-", formatter=None, legacy=False,
    )


def _fmt_number(x) -> str:
    v = float(x)
    if math.isnan(v) or math.isinf(v):
        return str(v)
    if v == int(v) and abs(v) < 1e15:
        return f"{v:.1f}"
    return f"{v:.10g}"


def _fmt(x) -> str:
    """A short, deterministic description of a value for the reports (never raises)."""
    try:
        return _fmt_value(x)
    except Exception:  # an exotic object: its type is description enough
        return f"an object of type {type(x).__name__}"


def _fmt_value(x) -> str:
    if isinstance(x, np.ndarray):
        if x.ndim == 0:
            return _fmt_scalar(x[()])
        if x.size > _PRINT_SIZE:
            return f"{x.dtype} array of shape {x.shape}"
        with _printoptions():
            return np.array_repr(x)
    if isinstance(x, (bool, np.bool_)):
        return repr(bool(x))
    if isinstance(x, (complex, np.complexfloating)):
        return repr(complex(x))
    if isinstance(x, (int, float, np.number)):
        return _fmt_scalar(x)
    if isinstance(x, (list, tuple)):
        text = repr(x) if len(repr(x)) <= 80 else repr(x)[:77] + "..."
        return f"{type(x).__name__} {text}" if "0x" not in text else f"a {type(x).__name__}"
    return f"an object of type {type(x).__name__}"


def _fmt_scalar(x) -> str:
    if isinstance(x, (np.floating, np.integer)) and not isinstance(x, np.float64):
        return f"{_fmt_number(x)} ({x.dtype})"
    if isinstance(x, (int, float, np.number)):
        return _fmt_number(x)
    return _fmt_value(x)


def _fmt_input(inputs: dict) -> str:
    return "\n".join("\n".join(_labelled(f"{n} = ", _fmt(a))) for n, a in inputs.items())


# --------------------------------------------------------------------------------------------
# the engine
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet():
    """No NumPy floating-point warnings and no Python warnings reach stderr."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            yield


@dataclass
class _Case:
    name: str
    args: tuple
    expected: Any
    hint: str = ""
    tol: dict = field(default_factory=lambda: TOL64)
    bonus: bool = False
    # expected dtype of an array result; None accepts any float dtype
    dtype: Any = "auto"
    # replaces the value comparison: accept(received_float64) -> bool
    accept: Callable | None = None
    expected_text: str = ""


# A diagnosis looks at a wrong value and may name the mistake: (case, received) -> hint or None.
Diagnose = Callable[[_Case, np.ndarray], "str | None"]

_GENERIC_HINTS = {
    "raised": "run your function on the input above to see the full error",
    "type": "return a NumPy array: build the result with NumPy operations (np.exp, np.sum, ...) "
    "or convert it with np.asarray(...)",
    "scalar": "return a single number (np.mean(...) of the per-example losses, say)",
    "int": "the result should be floating point: check for integer arrays such as np.zeros_like(targets)",
    "float32": "keep the input's precision: NumPy keeps float32 through np.exp, np.log, np.sum and "
    "arithmetic with Python numbers; avoid .astype(np.float64), np.asarray(z, dtype=float) and "
    "np.float64 constants",
    "float64": "compute in the input's precision (float64 here); something rounded to a lower precision",
    "values": "compare your formula with the definition in the exercise",
}


def _call_name(fn) -> str:
    return getattr(fn, "__name__", None) or "your function"


def _copy(a):
    return a.copy() if isinstance(a, np.ndarray) else a


def _inputs(names: tuple, args: tuple) -> dict:
    return {n: _copy(a) for n, a in zip(names, args)}


def _unchanged(original, passed) -> bool:
    if not isinstance(original, np.ndarray):
        return True
    if passed.shape != original.shape:  # z.shape = ... or z.resize(...)
        return False
    return bool(np.array_equal(original, passed, equal_nan=original.dtype.kind == "f"))


def _run(name: str, fn, arg_names: tuple, cases: list, diagnose: Diagnose) -> CheckReport:
    if not callable(fn):
        return CheckReport(name, (CheckResult("a function", False, f"expected a function, got {_fmt(fn)}"),),
                           summary_override=f"expected a function, got {_fmt(fn)}")
    who = _call_name(fn)
    results = []
    mutated = None
    with _quiet():
        for i, case in enumerate(cases):
            copies = tuple(_copy(a) for a in case.args)
            try:
                received = fn(*copies)
            except NotImplementedError:
                if i == 0:
                    return _not_implemented(name, who, "raised NotImplementedError")
                results.append(_failure(case, arg_names, "raised NotImplementedError", None,
                                        _GENERIC_HINTS["raised"]))
                continue
            except Exception as exc:  # the learner's bug is reported, never propagated
                message = f"raised {type(exc).__name__}: {exc}".rstrip(": ")
                results.append(_failure(case, arg_names, message, None, _GENERIC_HINTS["raised"]))
                continue
            finally:
                if mutated is None and not all(_unchanged(a, c) for a, c in zip(case.args, copies)):
                    mutated = case
            if i == 0 and received is None:
                return _not_implemented(name, who, "returned None")
            results.append(_compare(case, received, arg_names, diagnose))
        results.append(_mutation_result(mutated, arg_names))
    return CheckReport(name, tuple(results))


def _not_implemented(name: str, who: str, what: str) -> CheckReport:
    text = (f"not implemented yet ({who} {what}): write its body, run its cell, then run this "
            "cell again")
    if what == "returned None":
        text = (f"not implemented yet ({who} returned None; if you did write it, "
                "check for a missing `return`)")
    return CheckReport(name, (CheckResult("implemented", False, text, hint=text),), summary_override=text)


def _mutation_result(case: _Case | None, arg_names: tuple) -> CheckResult:
    name = "leaves its input unchanged"
    if case is None:
        return CheckResult(name, True)
    return CheckResult(
        name, False,
        message=f"your function changed its input array (case: {case.name})",
        input=_inputs(arg_names, case.args),
        hint="work on new arrays: `z = z - z.max(...)` makes a new array, while `z -= ...`, "
        "`z[...] = ...` and `np.exp(z, out=z)` overwrite the caller's data",
    )


def _failure(case: _Case, arg_names, message, received, hint) -> CheckResult:
    return CheckResult(
        case.name, False, message=message, input=_inputs(arg_names, case.args),
        expected=case.expected_text or _copy(case.expected), received=received, hint=hint,
        bonus=case.bonus,
    )


def _is_number(x) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def _compare(case: _Case, received, arg_names: tuple, diagnose: Diagnose) -> CheckResult:
    expected = np.asarray(case.expected)
    fail = lambda msg, hint: _failure(case, arg_names, msg, received, hint)  # noqa: E731
    # 1. the type
    if expected.ndim == 0:
        if isinstance(received, np.ndarray):
            if received.shape != ():
                return fail(f"returned shape {received.shape} but expected a single number",
                            _GENERIC_HINTS["scalar"])
        elif not _is_number(received):
            return fail(f"returned {_describe_type(received)}, expected a number", _GENERIC_HINTS["scalar"])
    elif _is_number(received):
        return fail(f"returned a single number but expected shape {expected.shape}",
                    _diagnosis(diagnose, case, np.asarray(received)) or case.hint or _GENERIC_HINTS["values"])
    elif not isinstance(received, np.ndarray):
        return fail(f"returned {_describe_type(received)}, not a NumPy array", _GENERIC_HINTS["type"])
    got = np.asarray(received)
    # 2. the shape
    if got.shape != expected.shape:
        shape = "a single number" if expected.ndim == 0 else str(expected.shape)
        return fail(f"returned shape {got.shape} but expected {shape}",
                    _diagnosis(diagnose, case, got) or case.hint or _GENERIC_HINTS["values"])
    # 3. the dtype
    if got.dtype.kind not in "fiu":
        return fail(f"returned an array of dtype {got.dtype}, expected real numbers", _GENERIC_HINTS["type"])
    if expected.ndim > 0:
        want = expected.dtype if case.dtype == "auto" else case.dtype
        if got.dtype.kind != "f":
            return fail(f"returned an array of dtype {got.dtype}, expected floats", _GENERIC_HINTS["int"])
        if want is not None and got.dtype != want:
            key = "float32" if want == np.float32 else "float64"
            return fail(f"returned {got.dtype} for {want} input", _GENERIC_HINTS[key])
    # 4. the values
    got64 = got.astype(np.float64)
    want64 = expected.astype(np.float64)
    if case.accept is not None:
        ok = bool(case.accept(got64))
    else:
        ok = bool(np.all(np.isclose(got64, want64, equal_nan=False, **case.tol)))
    if ok:
        return CheckResult(case.name, True, input=_inputs(arg_names, case.args),
                           expected=case.expected_text or _copy(case.expected), received=received,
                           bonus=case.bonus)
    hint = _diagnosis(diagnose, case, got64) or case.hint or _GENERIC_HINTS["values"]
    return fail(_value_message(got64, want64, case), hint)


def _diagnosis(diagnose: Diagnose, case: _Case, got: np.ndarray) -> str | None:
    """A specific hint for a known mistake, if ``diagnose`` recognises one (it never raises)."""
    try:
        return diagnose(case, got)
    except Exception:  # a diagnosis is a courtesy: an odd result must not crash the report
        return None


def _describe_type(x) -> str:
    if x is None:
        return "None"
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__}"
    return f"an object of type {type(x).__name__}"


def _value_message(got: np.ndarray, want: np.ndarray, case: _Case) -> str:
    if np.isnan(got).any():
        what = "returned nan"
    elif (np.isinf(got) & np.isfinite(want)).any():
        what = "returned inf"
    else:
        what = "wrong values" if got.ndim else "wrong value"
    if got.ndim == 0:
        return what
    bad = ~np.isclose(got, want, equal_nan=False, **case.tol)
    text = f"{what} ({int(bad.sum())} of {bad.size} entries wrong)"
    if got.size > _PRINT_SIZE:
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        text += (f"; the first at index {where}: expected {_fmt_number(want[where])}, "
                 f"received {_fmt_number(got[where])}")
    return text


# --------------------------------------------------------------------------------------------
# diagnoses shared by several checkers
# --------------------------------------------------------------------------------------------


def _close(a, b, tol=None) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or not np.all(np.isfinite(b)):
        return False
    tol = tol or {"rtol": 1e-5, "atol": 1e-9}
    return bool(np.all(np.isclose(a, b, **tol)))


def _matches(got, alternative, want) -> bool:
    """``got`` is the ``alternative`` (a known mistake), which is clearly not the ``want``ed value."""
    return _close(got, alternative) and not _close(want, alternative)


def _scale_diagnosis(got, case, *, count: int, what: str) -> str | None:
    """Common slips of a scalar or array result: the sum instead of the mean, the sign, bits."""
    want = np.asarray(case.expected, dtype=np.float64)
    if not np.any(want != 0):
        return None
    if count > 1 and _matches(got, want * count, want):
        return (f"your result is {count} times too large: {what} is the mean over the {count} "
                f"examples, so divide the sum by {count} (np.mean)")
    if _matches(got, -want, want):
        return "your result has the wrong sign: the loss is minus the log-probability (-log p)"
    if _matches(got, want / np.log(2), want):
        return "you computed in bits (np.log2); the reference is in nats: use the natural log, np.log"
    return None


_OVERFLOW = ("np.exp overflows to inf above about 709.78 in float64 (88.72 in float32), and inf/inf "
             "or inf - inf is nan")
_OVERFLOW_SHIFT = (f"{_OVERFLOW}. Subtract each row's maximum first: the result does not change "
                   "(shift invariance) and the largest exponent becomes exp(0) = 1")
_UNDERFLOW_SHIFT = ("every np.exp underflowed to 0 (exp(-1000) = 0), so the sum is 0: 0/0 is nan and "
                    "log(0) = -inf. Subtracting each row's maximum makes the largest term exp(0) = 1")
_NEGINF = ("a logit of -inf (a class of probability 0) gave nan: exp(-inf) = 0 is fine, but "
           "-inf - (-inf) and 0 * (-inf) are nan in floating point; subtract the (finite) row "
           "maximum and pick entries by indexing rather than by multiplying with a one-hot vector")
_ROWWISE = ("work along the last axis (axis=-1) so that every row z[..., :] is treated on its own; "
            "use keepdims=True when you reduce, so that the result broadcasts against z")
_LOG1P = ("here the answer is about 1e-18, but log(1 + 4e-18) rounds to log(1.0) = 0. Take the "
          "largest term (exp(0) = 1) out of the sum and use np.log1p on the rest: "
          "log(sum_j exp(z_j - m)) = log1p(sum_{j != argmax} exp(z_j - m)). (Bonus: few libraries "
          "do this.)")


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _logits(shape, seed) -> np.ndarray:
    return _rng(seed).normal(0.0, 2.0, size=shape).round(2)


def _distributions(shape, seed) -> np.ndarray:
    p = _rng(seed).dirichlet(np.ones(shape[-1]), size=shape[:-1])
    return p / p.sum(axis=-1, keepdims=True)


def _ref(f, *args, **kwargs):
    with _quiet():
        return f(*args, **kwargs)


# --------------------------------------------------------------------------------------------
# softmax, log-softmax, log-sum-exp
# --------------------------------------------------------------------------------------------

_Z_VEC = np.array([1.0, 2.0, 3.0])
_Z_BATCH = _logits((4, 5), 0)
_Z_3D = _logits((2, 3, 4), 1)
_Z_K1 = np.array([[0.5], [-2.0], [3.0]])
_Z_HUGE = np.array([[1000.0, 0.0, -1000.0], [1000.0, 1000.0, 999.0]])
_Z_VERY_NEGATIVE = np.array([[-1000.0, -1000.0, -1001.0]])
_Z_NEGINF = np.array([[0.0, -np.inf, 1.0], [2.0, 0.5, -np.inf]])
_Z_F32 = _logits((3, 4), 2).astype(np.float32)
_Z_F32_LARGE = np.array([[100.0, 0.0, -100.0], [90.0, 89.0, 0.0]], dtype=np.float32)


def _rowwise_cases(ref, what: str) -> list[_Case]:
    """The cases every row-wise function of logits gets."""
    return [
        _Case("a vector of 3 logits", (_Z_VEC,), ref(_Z_VEC),
              f"compare with the definition of {what}"),
        _Case("a batch of rows, shape (4, 5)", (_Z_BATCH,), ref(_Z_BATCH), _ROWWISE),
        _Case("a 3-d batch, shape (2, 3, 4)", (_Z_3D,), ref(_Z_3D), _ROWWISE),
        _Case("a single class (K = 1)", (_Z_K1,), ref(_Z_K1),
              "with one class every row has one entry: nothing may divide by K - 1 or drop the axis"),
        _Case("huge logits (1000, -1000)", (_Z_HUGE,), _ref(ref, _Z_HUGE), _OVERFLOW_SHIFT),
        _Case("very negative logits (-1000)", (_Z_VERY_NEGATIVE,), _ref(ref, _Z_VERY_NEGATIVE), _UNDERFLOW_SHIFT),
        _Case("a logit of -inf", (_Z_NEGINF,), _ref(ref, _Z_NEGINF), _NEGINF),
        _Case("float32 input", (_Z_F32,), ref(_Z_F32), _GENERIC_HINTS["float32"], tol=TOL32),
        _Case("float32 logits of 100 (exp overflows above 88.7 in float32)", (_Z_F32_LARGE,),
              ref(_Z_F32_LARGE), _OVERFLOW_SHIFT, tol=TOL32),
    ]


def _axis_diagnosis(ref, what: str) -> Diagnose:
    def diagnose(case: _Case, got: np.ndarray):
        z = np.asarray(case.args[0], dtype=np.float64)
        same_shape = z.ndim >= 2 and got.shape == z.shape == np.shape(case.expected)
        if same_shape and _matches(got, _ref(ref, z, axis=0), case.expected):
            return f"your {what} works along the first axis (axis=0); it must work along the last (axis=-1)"
        if same_shape and _matches(got, _ref(ref, z.reshape(-1)).reshape(z.shape), case.expected):
            return f"your {what} treats the whole array as one row; work along axis=-1 with keepdims=True"
        if got.shape != np.shape(case.expected):
            return _ROWWISE
        return None
    return diagnose


def check_softmax(fn) -> CheckReport:
    r"""Check a learner's softmax: ``fn(z)`` returns :math:`e^{z_i} / \sum_j e^{z_j}` along the last axis.

    Parameters
    ----------
    fn : callable
        ``fn(z)`` with ``z`` a float array of any shape ``(..., K)``; returns an array of the same
        shape and dtype.

    Returns
    -------
    CheckReport
        Truthy if every check passed. Required: a vector, a 2-d and a 3-d batch, one class, logits
        of +-1000 (overflow), of -1000 only (0/0), of ``-inf``, float32 input (float32 result) and
        float32 logits of 100, and the input left unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> from xent.check import check_softmax
    >>> def my_softmax(z):
    ...     e = np.exp(z - z.max(axis=-1, keepdims=True))
    ...     return e / e.sum(axis=-1, keepdims=True)
    >>> check_softmax(my_softmax)
    ✓ check_softmax: all 10 checks passed
    >>> from xent import naive
    >>> report = check_softmax(naive.softmax)   # no max subtraction
    >>> bool(report), report.failed
    (False, 3)
    >>> print(report.summary())
    ✗ check_softmax: 3 of 10 required checks failed
    """
    diagnose = _axis_diagnosis(xent.softmax, "softmax")

    def diagnose_rows(case, got):
        hint = diagnose(case, got)
        if hint is None and got.shape == np.shape(case.expected) and np.all(np.isfinite(got)):
            if not _close(got.sum(axis=-1), np.ones(got.shape[:-1])):
                return "each row of a softmax must sum to 1: divide by the sum over the last axis"
        return hint

    return _run("check_softmax", fn, ("z",), _rowwise_cases(xent.softmax, "the softmax"), diagnose_rows)


_Z_GAP = np.array([[0.0, -800.0], [3.0, -900.0]])
_Z_CONFIDENT = np.array([[40.0, 0.0], [0.0, -45.0]])


def check_log_softmax(fn) -> CheckReport:
    r"""Check a learner's log-softmax, :math:`z_i - \log \sum_j e^{z_j}` along the last axis.

    Parameters
    ----------
    fn : callable
        ``fn(z)`` with ``z`` a float array of shape ``(..., K)``; returns an array of the same
        shape and dtype.

    Returns
    -------
    CheckReport
        Truthy if every required check passed: those of :func:`check_softmax`, plus a gap of 800
        between logits (the softmax underflows to 0 there, so ``log(softmax(z))`` is ``-inf`` where
        the answer is -800). Bonus: the top entry of a confident row, :math:`-4.2 \times 10^{-18}`,
        to full relative precision (it needs ``log1p``).

    Examples
    --------
    >>> import numpy as np
    >>> from xent.check import check_log_softmax
    >>> def my_log_softmax(z):
    ...     shifted = z - z.max(axis=-1, keepdims=True)
    ...     return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    >>> report = check_log_softmax(my_log_softmax)
    >>> bool(report), report.bonus_missed
    (True, 1)
    >>> print(report.summary())
    ✓ check_log_softmax: all 11 required checks passed; 1 bonus check not passed
    """
    cases = _rowwise_cases(xent.log_softmax, "the log-softmax")
    cases.insert(6, _Case(
        "logits 800 apart (the softmax underflows to 0)", (_Z_GAP,), xent.log_softmax(_Z_GAP),
        "log(softmax(z)) is log(0) = -inf where the probability underflows (exp(-800) = 0), although "
        "the answer, -800, is an ordinary number: compute (z - m) - log(sum(exp(z - m))) with m the "
        "row maximum, and never take the log of a softmax"))
    cases.append(_Case("a confident row (margin 40): top entry -4.2e-18", (_Z_CONFIDENT,),
                       xent.log_softmax(_Z_CONFIDENT), _LOG1P, tol=TOL_RELATIVE, bonus=True))
    base = _axis_diagnosis(xent.log_softmax, "log-softmax")

    def diagnose(case, got):
        z = np.asarray(case.args[0], dtype=np.float64)
        if got.shape == z.shape and _matches(got, _ref(xent.softmax, z), case.expected):
            return "you returned the softmax itself; take its logarithm (computed from the logits)"
        return base(case, got)

    return _run("check_log_softmax", fn, ("z",), cases, diagnose)


_Z_ALL_NEGINF = np.array([[-np.inf, -np.inf], [0.0, 1.0]])
_Z_NEAR_ZERO = np.array([[0.0, -40.0], [-1e-3, -50.0]])


def check_logsumexp(fn) -> CheckReport:
    r"""Check a learner's log-sum-exp: ``fn(z)`` returns :math:`\log \sum_j e^{z_j}` over the last axis.

    Parameters
    ----------
    fn : callable
        ``fn(z)`` with ``z`` a float array of shape ``(..., K)``; returns shape ``z.shape[:-1]``
        (a number for a vector) in the dtype of ``z``.

    Returns
    -------
    CheckReport
        Truthy if every required check passed: a vector, a 2-d and a 3-d batch, one class, logits of
        +-1000 (``log(exp(1000))`` overflows) and of -1000 (``log(0)``), ``-inf`` entries, float32
        input and float32 logits of 100, the input unchanged. Bonus: a row of all ``-inf`` (the
        answer is ``-inf``; the max-shift gives ``-inf - (-inf) = nan``), and results near 0 to
        full relative precision (``log1p``).

    Examples
    --------
    >>> import numpy as np
    >>> from xent.check import check_logsumexp
    >>> def my_logsumexp(z):
    ...     m = z.max(axis=-1, keepdims=True)
    ...     return (m + np.log(np.exp(z - m).sum(axis=-1, keepdims=True)))[..., 0]
    >>> report = check_logsumexp(my_logsumexp)
    >>> bool(report), report.passed, report.bonus_missed
    (True, 10, 2)
    """
    cases = _rowwise_cases(xent.logsumexp, "the log-sum-exp")
    cases += [
        _Case("a row of all -inf (the sum is 0, its log -inf)", (_Z_ALL_NEGINF,), xent.logsumexp(_Z_ALL_NEGINF),
              "the row maximum is -inf here and z - m = -inf - (-inf) = nan: shift by 0 instead where the "
              "maximum is not finite, e.g. m = np.where(np.isfinite(m), m, 0). (Bonus: this is what "
              "scipy.special.logsumexp does.)", bonus=True),
        _Case("results near 0 (4.2e-18)", (_Z_NEAR_ZERO,), xent.logsumexp(_Z_NEAR_ZERO), _LOG1P,
              tol=TOL_RELATIVE, bonus=True),
    ]
    base = _axis_diagnosis(xent.logsumexp, "log-sum-exp")

    def diagnose(case, got):
        z = np.asarray(case.args[0])
        if got.shape == z.shape[:-1] + (1,):
            return ("you returned shape z.shape[:-1] + (1,): the log-sum-exp removes the last axis; "
                    "drop it (keepdims=False, or index [..., 0] at the end)")
        return base(case, got)

    return _run("check_logsumexp", fn, ("z",), cases, diagnose)


# --------------------------------------------------------------------------------------------
# losses on logits
# --------------------------------------------------------------------------------------------

_CE_BATCH = (_logits((4, 3), 3), np.array([0, 2, 1, 2]))
_CE_ONE = (_logits((1, 5), 4), np.array([3]))
_CE_K1 = (np.array([[2.0], [-1.0]]), np.array([0, 0]))
_CE_HUGE = (np.array([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 0.0]]), np.array([0, 2]))
_CE_GAP = (np.array([[0.0, -800.0]]), np.array([1]))
_CE_NEGINF = (_Z_NEGINF.copy(), np.array([0, 1]))
_CE_F32 = (_logits((4, 3), 5).astype(np.float32), np.array([1, 0, 2, 2]))
_CE_F32_LARGE = (_Z_F32_LARGE.copy(), np.array([2, 1]))
_CE_CONFIDENT = (np.array([[40.0, 0.0, 0.0], [0.0, 45.0, 0.0]]), np.array([0, 1]))


def check_softmax_cross_entropy(fn) -> CheckReport:
    r"""Check a learner's softmax cross-entropy, the mean of :math:`-\log \operatorname{softmax}(z_i)_{t_i}`.

    Parameters
    ----------
    fn : callable
        ``fn(logits, targets)`` with ``logits`` of shape ``(N, K)`` and ``targets`` integer classes
        of shape ``(N,)``; returns the mean loss, a number.

    Returns
    -------
    CheckReport
        Truthy if every required check passed: a batch, one example, one class (loss 0), logits of
        +-1000, a target 800 below the maximum (``log(0)`` if computed through the softmax), a
        ``-inf`` logit for a wrong class (``0 * -inf`` if computed with a one-hot vector), float32
        input and logits of 100, the inputs unchanged. Bonus: a confidently correct batch, loss
        :math:`4.2 \times 10^{-18}`, to full relative precision (``logsumexp(z) - z_t`` gives 0).

    Examples
    --------
    >>> import numpy as np
    >>> from xent.check import check_softmax_cross_entropy
    >>> def my_cross_entropy(logits, targets):
    ...     m = logits.max(axis=1, keepdims=True)
    ...     lse = (m + np.log(np.exp(logits - m).sum(axis=1, keepdims=True)))[:, 0]
    ...     return np.mean(lse - logits[np.arange(len(targets)), targets])
    >>> report = check_softmax_cross_entropy(my_cross_entropy)
    >>> bool(report), report.failed, report.bonus_missed
    (True, 0, 1)
    """
    ref = xent.softmax_cross_entropy
    cases = [
        _Case("a batch of 4 examples, 3 classes", _CE_BATCH, ref(*_CE_BATCH),
              "the loss of example i is -log softmax(z_i)[t_i] = logsumexp(z_i) - z_i[t_i]; return the mean"),
        _Case("one example, 5 classes", _CE_ONE, ref(*_CE_ONE)),
        _Case("a single class (K = 1): the loss is 0", _CE_K1, ref(*_CE_K1),
              "with one class its probability is 1 and the loss is 0"),
        _Case("huge logits (1000, -1000)", _CE_HUGE, ref(*_CE_HUGE), _OVERFLOW_SHIFT),
        _Case("a target 800 below the top logit (its probability underflows)", _CE_GAP, ref(*_CE_GAP),
              "the target's probability underflowed to 0 (exp(-800) = 0) and log(0) = -inf; compute the "
              "loss from the logits: -log softmax(z)_t = logsumexp(z) - z_t, with the max-shifted "
              "logsumexp"),
        _Case("a logit of -inf for a wrong class", _CE_NEGINF, ref(*_CE_NEGINF), _NEGINF),
        _Case("float32 input", _CE_F32, ref(*_CE_F32), _GENERIC_HINTS["float32"], tol=TOL32),
        _Case("float32 logits of 100 (exp overflows above 88.7 in float32)", _CE_F32_LARGE,
              ref(*_CE_F32_LARGE), _OVERFLOW_SHIFT, tol=TOL32),
        _Case("a confidently correct batch (margin 40): loss 4.2e-18", _CE_CONFIDENT, ref(*_CE_CONFIDENT),
              "logsumexp(z) - z_t subtracts two nearly equal numbers; " + _LOG1P, tol=TOL_RELATIVE, bonus=True),
    ]

    def diagnose(case, got):
        return _scale_diagnosis(got, case, count=len(case.args[1]), what="the loss")

    return _run("check_softmax_cross_entropy", fn, ("logits", "targets"), cases, diagnose)


_BCE_VEC = (np.array([2.0, -1.0, 0.5, -3.0, 0.0]), np.array([1.0, 0.0, 1.0, 0.0, 1.0]))
_BCE_BATCH = (_logits((3, 4), 6), (_rng(7).random((3, 4)) < 0.5).astype(np.float64))
_BCE_40 = (np.array([40.0, -40.0]), np.array([0.0, 1.0]))
_BCE_HUGE = (np.array([1000.0, -1000.0, 1000.0, -1000.0]), np.array([1.0, 0.0, 0.0, 1.0]))
_BCE_F32 = (_BCE_BATCH[0].astype(np.float32) * np.float32(1.5), _BCE_BATCH[1].astype(np.float32))
_BCE_F32_LARGE = (np.array([100.0, -100.0, 3.0], dtype=np.float32), np.array([0.0, 1.0, 1.0], dtype=np.float32))
_BCE_SOFT = (np.array([0.4, -2.0, 1.5]), np.array([0.25, 0.9, 0.5]))
_BCE_CONFIDENT = (np.array([40.0, -45.0]), np.array([1.0, 0.0]))

_LOGITS_FORM = ("work with the logits, never with sigmoid(z): the loss is "
                "max(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))), where no exponent is positive and "
                "1 - sigmoid(z) is never formed")


def check_binary_cross_entropy_with_logits(fn) -> CheckReport:
    r"""Check a learner's binary cross-entropy on logits, the mean of :math:`-\log \sigma(\pm z)`.

    The loss of one element is :math:`-[y \log \sigma(z) + (1-y) \log(1 - \sigma(z))]`.

    Parameters
    ----------
    fn : callable
        ``fn(logits, targets)`` with two float arrays of the same shape (targets 0.0 or 1.0);
        returns the mean over all elements, a number.

    Returns
    -------
    CheckReport
        Truthy if every required check passed: a vector, a 2-d batch (mean over all elements),
        logits of +-40 (the sigmoid rounds to exactly 1, so ``log(1 - sigmoid(z))`` is ``-inf``),
        logits of +-1000, float32 input and logits of 100, the inputs unchanged. Bonus: soft
        targets (0.25, 0.9), and a tiny loss (:math:`4 \times 10^{-18}`) to full relative
        precision. Logits of ``-inf`` are not tried: the loss is ``0 * inf`` there.

    Examples
    --------
    >>> import numpy as np
    >>> from xent.check import check_binary_cross_entropy_with_logits
    >>> def my_bce(logits, targets):
    ...     z, y = logits, targets
    ...     return np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))
    >>> check_binary_cross_entropy_with_logits(my_bce)
    ✓ check_binary_cross_entropy_with_logits: all 9 checks passed
    """
    ref = xent.binary_cross_entropy_with_logits
    cases = [
        _Case("5 logits with labels 0 and 1", _BCE_VEC, ref(*_BCE_VEC),
              "the loss of one element is -[y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))]; return the mean"),
        _Case("a 2-d batch, shape (3, 4): the mean over all elements", _BCE_BATCH, ref(*_BCE_BATCH),
              "return the mean over all elements (np.mean without an axis)"),
        _Case("logits of +-40 (sigmoid(40) rounds to exactly 1)", _BCE_40, ref(*_BCE_40),
              "sigmoid(40) is exactly 1.0 in float64, so log(1 - sigmoid(z)) = log(0) = -inf; " + _LOGITS_FORM),
        _Case("huge logits (1000, -1000)", _BCE_HUGE, ref(*_BCE_HUGE), f"{_OVERFLOW}; {_LOGITS_FORM}"),
        _Case("float32 input", _BCE_F32, ref(*_BCE_F32), _GENERIC_HINTS["float32"], tol=TOL32),
        _Case("float32 logits of 100", _BCE_F32_LARGE, ref(*_BCE_F32_LARGE),
              f"{_OVERFLOW}; {_LOGITS_FORM}", tol=TOL32),
        _Case("soft targets (0.25, 0.9, 0.5)", _BCE_SOFT, ref(*_BCE_SOFT),
              "the formula holds for any target y in [0, 1] (soft labels, label smoothing): do not "
              "branch on y == 1; use y and 1 - y as weights. (Bonus.)", bonus=True),
        _Case("tiny losses (z = 40 with y = 1: 4.2e-18)", _BCE_CONFIDENT, ref(*_BCE_CONFIDENT),
              "the answer is 4.2e-18, and two roundings lose it: log(1 + exp(-40)) is log(1.0) = 0 "
              "(np.log1p(np.exp(-40)) keeps it), and softplus(z) - y * z = (40 + 4.2e-18) - 40 cancels "
              "(40 + 4.2e-18 rounds to 40). Subtract first, (max(z, 0) - z * y) + np.log1p(np.exp(-np.abs(z))), "
              "or add non-negative terms: y * softplus(-z) + (1 - y) * softplus(z). (Bonus.)",
              tol=TOL_RELATIVE, bonus=True),
    ]

    def diagnose(case, got):
        return _scale_diagnosis(got, case, count=np.size(case.args[1]), what="the loss")

    return _run("check_binary_cross_entropy_with_logits", fn, ("logits", "targets"), cases, diagnose)


def check_softmax_cross_entropy_grad(fn) -> CheckReport:
    r"""Check a learner's gradient of the mean softmax cross-entropy with respect to the logits.

    ``fn(logits, targets)`` returns :math:`(\operatorname{softmax}(z) - y) / N`, the gradient of the
    *mean* loss over the :math:`N` examples, with :math:`y` the one-hot targets.

    Parameters
    ----------
    fn : callable
        ``fn(logits, targets)`` with ``logits`` of shape ``(N, K)`` and ``targets`` integer classes
        of shape ``(N,)``; returns an array of shape ``(N, K)`` in the dtype of ``logits``.

    Returns
    -------
    CheckReport
        Truthy if every check passed: a batch, one example, one class (gradient 0), logits of
        +-1000, a ``-inf`` logit, float32 input (float32 result) and logits of 100, the inputs
        unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> from xent.check import check_softmax_cross_entropy_grad
    >>> def my_grad(logits, targets):
    ...     e = np.exp(logits - logits.max(axis=1, keepdims=True))
    ...     g = e / e.sum(axis=1, keepdims=True)
    ...     g[np.arange(len(targets)), targets] -= 1
    ...     return g / len(targets)
    >>> check_softmax_cross_entropy_grad(my_grad)
    ✓ check_softmax_cross_entropy_grad: all 8 checks passed
    """
    ref = xent.softmax_cross_entropy_grad
    cases = [
        _Case("a batch of 4 examples, 3 classes", _CE_BATCH, ref(*_CE_BATCH),
              "the gradient of the mean loss is (softmax(z) - onehot(t)) / N"),
        _Case("one example, 5 classes", _CE_ONE, ref(*_CE_ONE)),
        _Case("a single class (K = 1): the gradient is 0", _CE_K1, ref(*_CE_K1),
              "with one class softmax(z) = 1 = y, so the gradient is 0"),
        _Case("huge logits (1000, -1000)", _CE_HUGE, ref(*_CE_HUGE), _OVERFLOW_SHIFT),
        _Case("a logit of -inf", _CE_NEGINF, ref(*_CE_NEGINF), _NEGINF),
        _Case("float32 input", _CE_F32, ref(*_CE_F32), _GENERIC_HINTS["float32"], tol=TOL32),
        _Case("float32 logits of 100", _CE_F32_LARGE, ref(*_CE_F32_LARGE), _OVERFLOW_SHIFT, tol=TOL32),
    ]

    def diagnose(case, got):
        z, t = case.args
        want = np.asarray(case.expected, dtype=np.float64)
        n = len(t)
        if got.shape != want.shape:
            return f"the gradient has one entry per logit: return shape {want.shape}, the shape of logits"
        if n > 1 and _matches(got, want * n, want):
            return (f"your gradient is {n} times too large: the loss is the mean over the N = {n} "
                    "examples, so divide softmax(z) - y by N")
        if _matches(got, -want, want):
            return "your gradient has the wrong sign: it is softmax(z) - y, not y - softmax(z)"
        p = _ref(xent.softmax, np.asarray(z, dtype=np.float64))
        if _matches(got, p / n, want) or _matches(got, p, want):
            return "subtract the one-hot targets: the gradient is softmax(z) - y (then divide by N)"
        return None

    return _run("check_softmax_cross_entropy_grad", fn, ("logits", "targets"), cases, diagnose)


# --------------------------------------------------------------------------------------------
# label smoothing
# --------------------------------------------------------------------------------------------

_CONVENTIONS = {
    "uniform": "every class gets eps/K and the true class also 1 - eps, so 1 - eps + eps/K in all "
    "(PyTorch's label_smoothing): (1 - eps) * onehot + eps / K",
    "others": "the true class gets 1 - eps and each of the K - 1 other classes eps/(K - 1) "
    "(the seed document's convention)",
}


def check_label_smoothing(fn, *, convention: str = "uniform") -> CheckReport:
    r"""Check a learner's label smoothing: ``fn(targets, num_classes, epsilon)`` gives smoothed one-hot rows.

    Parameters
    ----------
    fn : callable
        ``fn(targets, num_classes, epsilon)`` with ``targets`` integer classes of shape ``(N,)``;
        returns an array of shape ``(N, num_classes)`` of floats, each row a distribution.
    convention : {"uniform", "others"}, optional
        ``"uniform"`` (PyTorch): every class gets :math:`\epsilon / K`, so the true class gets
        :math:`1 - \epsilon + \epsilon / K`. ``"others"`` (the seed document): the true class gets
        :math:`1 - \epsilon` and every other class :math:`\epsilon / (K - 1)`. See
        :func:`xent.smooth_labels`.

    Returns
    -------
    CheckReport
        Truthy if every check passed: :math:`\epsilon` of 0.1, 0 (one-hot) and 1, two classes, ten
        classes, one class (``"uniform"`` only: the row is ``[1.0]``), the targets unchanged. Any
        float dtype is accepted.

    Raises
    ------
    ValueError
        If ``convention`` is not ``"uniform"`` or ``"others"``.

    Examples
    --------
    >>> import numpy as np
    >>> from xent.check import check_label_smoothing
    >>> def my_smooth(targets, num_classes, epsilon):
    ...     onehot = np.eye(num_classes)[targets]
    ...     return (1 - epsilon) * onehot + epsilon / num_classes
    >>> check_label_smoothing(my_smooth)
    ✓ check_label_smoothing: all 7 checks passed
    >>> print(check_label_smoothing(my_smooth, convention="others").summary())
    ✗ check_label_smoothing(convention='others'): 4 of 6 required checks failed
    """
    if convention not in _CONVENTIONS:
        raise ValueError(f"convention: expected 'uniform' or 'others', got {convention!r}")

    def ref(t, k, eps, conv=convention):
        return xent.smooth_labels(t, eps, convention=conv, num_classes=k)

    specs = [
        ("3 examples, 4 classes, eps = 0.1", (np.array([0, 3, 1]), 4, 0.1)),
        ("eps = 0 gives one-hot rows", (np.array([2, 0]), 3, 0.0)),
        ("eps = 1", (np.array([1, 0]), 3, 1.0)),
        ("two classes, eps = 0.2", (np.array([0, 1, 1]), 2, 0.2)),
        ("ten classes, eps = 0.3", (np.array([9, 0, 4, 4, 7]), 10, 0.3)),
    ]
    if convention == "uniform":
        specs.append(("a single class (K = 1): the row is [1.0]", (np.array([0, 0]), 1, 0.1)))
    cases = [_Case(name, args, ref(*args), f"with convention={convention!r}: {_CONVENTIONS[convention]}",
                   dtype=None) for name, args in specs]
    other = "others" if convention == "uniform" else "uniform"

    def diagnose(case, got):
        t, k, eps = case.args
        if got.shape == (k, len(t)) and got.shape != (len(t), k):
            return f"your rows and columns are swapped: return shape (N, K) = {(len(t), k)}"
        if k > 1 and _matches(got, ref(t, k, eps, other), case.expected):
            return (f"you used the {other!r} convention ({_CONVENTIONS[other]}); this exercise asks for "
                    f"{convention!r}: {_CONVENTIONS[convention]}")
        if got.shape == (len(t), k) and not _close(got.sum(axis=1), np.ones(len(t))):
            return f"each row must be a distribution summing to 1: {_CONVENTIONS[convention]}"
        return None

    name = "check_label_smoothing" + ("" if convention == "uniform" else "(convention='others')")
    return _run(name, fn, ("targets", "num_classes", "epsilon"), cases, diagnose)


# --------------------------------------------------------------------------------------------
# information measures (Part I)
# --------------------------------------------------------------------------------------------

_ZERO_LOG_ZERO = ("a probability of 0 gave nan: 0 * log(0) = 0 * (-inf) = nan in floating point, but "
                  "p log p -> 0 as p -> 0, so such a term counts as 0. Use np.where(p > 0, p * np.log(p), "
                  "0.0) inside np.errstate(divide='ignore', invalid='ignore'), or scipy.special.xlogy")
_LARGE_OR_INF = (f"inf (or any value of at least {_LARGE_LOSS:g} if you clip probabilities away from 0; "
                 "NaN is not accepted)")


def _accept_large(got: np.ndarray) -> bool:
    return bool(np.all(~np.isnan(got) & (got >= _LARGE_LOSS)))


def _info_diagnosis(ref, *, two: bool) -> Diagnose:
    def diagnose(case, got):
        want = np.asarray(case.expected, dtype=np.float64)
        if got.shape != want.shape:
            return ("sum over the last axis only (axis=-1): one value per distribution, shape "
                    f"{want.shape}" + (" (a single number for one distribution)" if want.ndim == 0 else ""))
        if two:
            p, q = case.args
            swapped = _ref(ref, q, p)
            if _matches(got, swapped, want):
                return "you swapped p and q: the order matters, p is the true distribution (the weights)"
            if ref is xent.kl_divergence and _matches(got, _ref(xent.cross_entropy, p, q), want):
                return "that is the cross-entropy H(p, q); the KL divergence subtracts H(p): sum p log(p / q)"
        return _scale_diagnosis(got, case, count=1, what="")
    return diagnose


_P_COIN = np.array([0.5, 0.5])
_P_FOUR = np.array([0.1, 0.2, 0.3, 0.4])
_P_BATCH = _distributions((3, 4), 8)
_P_3D = _distributions((2, 2, 3), 9)
_P_ZERO = np.array([0.5, 0.5, 0.0])
_P_CERTAIN = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
_P_K1 = np.array([[1.0], [1.0]])
_P_F32 = _distributions((3, 4), 10).astype(np.float32)


def check_entropy(fn) -> CheckReport:
    r"""Check a learner's entropy: ``fn(p)`` returns :math:`-\sum_c p_c \log p_c` in nats along the last axis.

    Parameters
    ----------
    fn : callable
        ``fn(p)`` with ``p`` distributions along the last axis, shape ``(..., K)``; returns shape
        ``p.shape[:-1]`` (a number for one distribution), with :math:`0 \log 0 = 0`.

    Returns
    -------
    CheckReport
        Truthy if every check passed: a fair coin (:math:`\log 2`), four outcomes, a 2-d and a 3-d
        batch, a probability of 0 (``0 * log(0)`` must count as 0), certain outcomes (entropy 0),
        a single outcome, float32 input (float32 result), the input unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> from xent.check import check_entropy
    >>> def my_entropy(p):
    ...     return -np.sum(p * np.log(p), axis=-1)      # forgets 0 log 0 = 0
    >>> print(check_entropy(my_entropy).summary())
    ✗ check_entropy: 2 of 9 required checks failed
    """
    ref = xent.entropy
    cases = [
        _Case("a fair coin: log 2 = 0.693 nats", (_P_COIN,), ref(_P_COIN), "H(p) = -sum_c p_c log p_c, in nats (np.log)"),
        _Case("four outcomes", (_P_FOUR,), ref(_P_FOUR)),
        _Case("a batch of distributions, shape (3, 4)", (_P_BATCH,), ref(_P_BATCH)),
        _Case("a 3-d batch, shape (2, 2, 3)", (_P_3D,), ref(_P_3D)),
        _Case("a probability of 0", (_P_ZERO,), ref(_P_ZERO), _ZERO_LOG_ZERO),
        _Case("certain outcomes: entropy 0", (_P_CERTAIN,), ref(_P_CERTAIN), _ZERO_LOG_ZERO),
        _Case("a single outcome (K = 1)", (_P_K1,), ref(_P_K1), "a single outcome is certain: entropy 0"),
        _Case("float32 input", (_P_F32,), ref(_P_F32), _GENERIC_HINTS["float32"], tol=TOL32),
    ]
    return _run("check_entropy", fn, ("p",), cases, _info_diagnosis(ref, two=False))


def _two_distribution_cases(ref) -> list[_Case]:
    pairs = {
        "coin": (_P_COIN, np.array([0.9, 0.1])),
        "onehot": (np.array([0.0, 1.0, 0.0]), np.array([0.2, 0.7, 0.1])),
        "batch": (_P_BATCH, _distributions((3, 4), 11)),
        "3d": (_P_3D, _distributions((2, 2, 3), 12)),
        "zero": (_P_ZERO, np.array([0.25, 0.25, 0.5])),
        "bothzero": (_P_ZERO, np.array([0.25, 0.75, 0.0])),
        "qzero": (np.array([0.0, 1.0]), np.array([1.0, 0.0])),
        "k1": (_P_K1, _P_K1.copy()),
        "f32": (_P_F32, _distributions((3, 4), 13).astype(np.float32)),
    }
    return [
        _Case("p = (0.5, 0.5), q = (0.9, 0.1)", pairs["coin"], ref(*pairs["coin"])),
        _Case("a one-hot p", pairs["onehot"], ref(*pairs["onehot"])),
        _Case("a batch of distributions, shape (3, 4)", pairs["batch"], ref(*pairs["batch"])),
        _Case("a 3-d batch, shape (2, 2, 3)", pairs["3d"], ref(*pairs["3d"])),
        _Case("p = 0 for an outcome", pairs["zero"], ref(*pairs["zero"]), _ZERO_LOG_ZERO),
        _Case("p = q = 0 for an outcome", pairs["bothzero"], _ref(ref, *pairs["bothzero"]), _ZERO_LOG_ZERO),
        _Case("q = 0 where p > 0: infinite", pairs["qzero"], _ref(ref, *pairs["qzero"]),
              "an outcome that happens (p > 0) but was given q = 0 costs -log(0) = inf",
              accept=_accept_large, expected_text=_LARGE_OR_INF),
        _Case("a single outcome (K = 1)", pairs["k1"], ref(*pairs["k1"])),
        _Case("float32 input", pairs["f32"], ref(*pairs["f32"]), _GENERIC_HINTS["float32"], tol=TOL32),
    ]


def check_cross_entropy(fn) -> CheckReport:
    r"""Check a learner's cross-entropy of distributions, :math:`-\sum_c p_c \log q_c` in nats.

    Parameters
    ----------
    fn : callable
        ``fn(p, q)`` with ``p`` and ``q`` distributions along the last axis, of the same shape
        ``(..., K)``; returns shape ``p.shape[:-1]`` (a number for one pair).

    Returns
    -------
    CheckReport
        Truthy if every check passed: a pair of vectors, a one-hot ``p`` (the loss
        :math:`-\log q_t`), a 2-d and a 3-d batch, ``p = 0`` (also where ``q = 0``: ``0 * log(0)``
        must count as 0), ``q = 0`` where ``p > 0`` (``inf``, or a large value if you clip), a
        single outcome, float32 input (float32 result), the inputs unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> from xent.check import check_cross_entropy
    >>> def my_cross_entropy(p, q):
    ...     with np.errstate(divide="ignore", invalid="ignore"):
    ...         return -np.sum(np.where(p > 0, p * np.log(q), 0.0), axis=-1)
    >>> check_cross_entropy(my_cross_entropy)
    ✓ check_cross_entropy: all 10 checks passed
    """
    ref = xent.cross_entropy
    return _run("check_cross_entropy", fn, ("p", "q"), _two_distribution_cases(ref), _info_diagnosis(ref, two=True))


def check_kl_divergence(fn) -> CheckReport:
    r"""Check a learner's KL divergence: ``fn(p, q)`` returns :math:`\sum_c p_c \log(p_c / q_c)` in nats.

    Parameters
    ----------
    fn : callable
        ``fn(p, q)`` with ``p`` and ``q`` distributions along the last axis, of the same shape
        ``(..., K)``; returns shape ``p.shape[:-1]`` (a number for one pair).

    Returns
    -------
    CheckReport
        Truthy if every check passed: the cases of :func:`check_cross_entropy` and ``q = p``
        (divergence 0).

    Examples
    --------
    >>> import numpy as np
    >>> from xent.check import check_kl_divergence
    >>> def my_kl(p, q):
    ...     with np.errstate(divide="ignore", invalid="ignore"):
    ...         return np.sum(np.where(p > 0, p * np.log(p / q), 0.0), axis=-1)
    >>> check_kl_divergence(my_kl)
    ✓ check_kl_divergence: all 11 checks passed
    """
    ref = xent.kl_divergence
    cases = _two_distribution_cases(ref)
    cases.insert(2, _Case("q = p: divergence 0", (_P_BATCH, _P_BATCH.copy()), ref(_P_BATCH, _P_BATCH)))
    return _run("check_kl_divergence", fn, ("p", "q"), cases, _info_diagnosis(ref, two=True))


_BCEP_VEC = (np.array([0.9, 0.2, 0.6, 0.3]), np.array([1.0, 0.0, 1.0, 1.0]))
_BCEP_BATCH = (_rng(14).uniform(0.05, 0.95, (3, 4)).round(2), (_rng(15).random((3, 4)) < 0.5).astype(np.float64))
_BCEP_EDGE = (np.array([1.0, 0.0, 0.8]), np.array([1.0, 0.0, 1.0]))
_BCEP_WRONG = (np.array([0.0, 1.0]), np.array([1.0, 0.0]))
_BCEP_F32 = (_BCEP_BATCH[0].astype(np.float32), _BCEP_BATCH[1].astype(np.float32))
_BCEP_SOFT = (np.array([0.4, 0.6, 0.1]), np.array([0.3, 0.8, 0.5]))


def check_binary_cross_entropy(fn) -> CheckReport:
    r"""Check a learner's binary cross-entropy of probabilities, the mean of :math:`-[y \log p + (1-y) \log(1-p)]`.

    Parameters
    ----------
    fn : callable
        ``fn(probs, targets)`` with two float arrays of the same shape, probabilities in [0, 1] and
        targets 0.0 or 1.0; returns the mean over all elements, a number.

    Returns
    -------
    CheckReport
        Truthy if every required check passed: a vector, a 2-d batch, probabilities of exactly 0
        and 1 for the matching label (loss 0: ``0 * log(0)`` must count as 0; a loss below
        ``1e-6``, as from clipping p to ``[1e-7, 1 - 1e-7]``, is accepted), a confident mistake
        (``p = 0`` for ``y = 1``: ``inf``, or any value of at least 15, e.g. PyTorch's 100, which
        clamps each log at -100), float32 input, the inputs unchanged. Bonus: soft targets.

    Examples
    --------
    >>> import numpy as np
    >>> from xent.check import check_binary_cross_entropy
    >>> def my_bce(p, y):
    ...     return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))   # 0 * log(0) = nan
    >>> report = check_binary_cross_entropy(my_bce)
    >>> print(report.summary())
    ✗ check_binary_cross_entropy: 1 of 6 required checks failed
    """
    ref = xent.binary_cross_entropy
    cases = [
        _Case("4 probabilities with labels 0 and 1", _BCEP_VEC, ref(*_BCEP_VEC),
              "the loss of one element is -[y log p + (1 - y) log(1 - p)]; return the mean"),
        _Case("a 2-d batch, shape (3, 4): the mean over all elements", _BCEP_BATCH, ref(*_BCEP_BATCH),
              "return the mean over all elements (np.mean without an axis)"),
        _Case("p exactly 1 for y = 1 and 0 for y = 0", _BCEP_EDGE, ref(*_BCEP_EDGE),
              "a term whose weight is 0 counts as 0 even where its log is -inf: 0 * log(0) = nan in "
              "floating point; use np.where(y == 1, np.log(p), 0.0)-style selection, or clip p",
              tol={"rtol": 1e-6, "atol": 1e-6}),
        _Case("a confident mistake (p = 0 for y = 1)", _BCEP_WRONG, ref(*_BCEP_WRONG),
              "the exact loss of p = 0 for y = 1 is -log(0) = inf (PyTorch clamps each log at -100); "
              "NaN means a 0 * log(0) somewhere",
              accept=_accept_large, expected_text=_LARGE_OR_INF),
        _Case("float32 input", _BCEP_F32, ref(*_BCEP_F32), _GENERIC_HINTS["float32"], tol=TOL32),
        _Case("soft targets (0.3, 0.8, 0.5)", _BCEP_SOFT, ref(*_BCEP_SOFT),
              "the formula holds for any target y in [0, 1]: do not branch on y == 1; use y and 1 - y "
              "as weights. (Bonus.)", bonus=True),
    ]

    def diagnose(case, got):
        return _scale_diagnosis(got, case, count=np.size(case.args[1]), what="the loss")

    return _run("check_binary_cross_entropy", fn, ("probs", "targets"), cases, diagnose)

"""Results and reports of the checkers, and how values are written in them.

Everything here is deterministic text: no memory addresses, no timings,
independent of the notebook's ``np.set_printoptions``, so that notebooks which
display a report can be regression-tested.
"""

from __future__ import annotations

import html
import math
import textwrap
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Arrays with more entries than this are described by shape, not printed.
PRINT_SIZE = 12
# Messages and hints are wrapped to this width (plus an indentation of 6).
WIDTH = 90


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
    inputs : dict
        The arguments the function was called with, by name
        (``{"z": array(...)}``); the function was given copies. Also the
        way to get an input too large to print in the report:
        ``report.results[4].inputs["z"]``.
    expected : object
        The reference result, or a description (a ``str``) where several
        values are accepted.
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
    inputs: Any = None
    expected: Any = None
    received: Any = None
    hint: str = ""
    bonus: bool = False

    @property
    def input(self):
        """The same as :attr:`inputs` (the name of earlier versions)."""
        return self.inputs


@dataclass(frozen=True)
class CheckReport:
    """The results of one checker: truthy iff every required check passed.

    Attributes
    ----------
    name : str
        The checker's name (``"check_softmax"``).
    results : tuple of CheckResult
        One result per case; the last one says whether the inputs were left
        unchanged.
    summary_override : str
        Replaces the summary line (used when the function is not
        implemented yet, or is not a function).

    Notes
    -----
    ``str(report)`` and ``repr(report)`` are the same deterministic text: one
    line when every check passed (``✓ check_softmax: all checks passed``:
    no count, so that adding a case to a checker does not change the output
    of every notebook that displays it), otherwise a line per check (``✓``
    passed, ``✗`` failed, ``○`` bonus missed) with the input, the expected
    and the received value and a hint under each one that did not pass.
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
        return self.failed == 0 and not self.summary_override

    def summary(self) -> str:
        """The first line of the report."""
        if self.summary_override:
            return f"✗ {self.name}: {self.summary_override}"
        if self.failed:
            required = sum(not r.bonus for r in self.results)
            return (
                f"✗ {self.name}: {self.failed} of {required} required "
                "checks failed"
            )
        if self.bonus_missed:
            return (
                f"✓ {self.name}: all required checks passed "
                "(advice on bonus checks below)"
            )
        return f"✓ {self.name}: all checks passed"

    def _lines(self) -> list[str]:
        lines = [self.summary()]
        if self.summary_override or (
            not self.failed and not self.bonus_missed
        ):
            return lines
        shown_hints: dict = {}
        for index, r in enumerate(self.results):
            if r.passed:
                if self.failed:
                    lines.append(f"  ✓ {r.name}")
                continue
            mark = "○ bonus:" if r.bonus else "✗"
            lines.append(f"  {mark} {r.name}")
            details = _details(r, index, shown_hints)
            lines.extend("      " + line for line in details)
        return lines

    def __str__(self) -> str:
        return "\n".join(self._lines())

    __repr__ = __str__

    def _repr_html_(self) -> str:
        lines = self._lines()
        colour = "#1a7f37" if self else "#cf222e"
        head = (
            f'<div style="color:{colour};font-weight:bold">'
            f"{html.escape(lines[0])}</div>"
        )
        if len(lines) == 1:
            return f'<div class="xent-check">{head}</div>'
        body = html.escape("\n".join(lines[1:]))
        pre = '<pre style="margin:0.3em 0;white-space:pre-wrap">'
        return f'<div class="xent-check">{head}{pre}{body}</pre></div>'


def _wrap(text: str, indent: int = 2) -> list[str]:
    return textwrap.wrap(
        text,
        WIDTH,
        subsequent_indent=" " * indent,
        break_on_hyphens=False,
        break_long_words=False,
    )


def _details(r: CheckResult, index: int, shown_hints: dict) -> list[str]:
    out = []
    if r.message:
        out.extend(_wrap(r.message))
    if r.inputs:
        out.extend(_labelled("input:    ", fmt_inputs(r.inputs, index)))
    if r.expected is not None:
        text = r.expected if isinstance(r.expected, str) else fmt(r.expected)
        out.extend(_labelled("expected: ", text))
    if r.received is not None:
        out.extend(_labelled("received: ", fmt(r.received)))
    if r.hint in shown_hints:
        out.append(f"hint: as for “{shown_hints[r.hint]}” above")
    elif r.hint:
        out.extend(_wrap(f"hint: {r.hint}", 6))
        shown_hints[r.hint] = r.name
    return out


def _labelled(label: str, text: str) -> list[str]:
    lines = str(text).split("\n")
    return [label + lines[0]] + [" " * len(label) + x for x in lines[1:]]


def _printoptions():
    return np.printoptions(
        precision=8,
        suppress=False,
        threshold=1000,
        edgeitems=3,
        linewidth=88,
        floatmode="maxprec",
        sign="-",
        formatter=None,
        legacy=False,
    )


def fmt_number(x) -> str:
    """A number as the reports write it: ``-inf``, ``4`` for an integer."""
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return str(int(x))
    v = float(x)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == int(v) and abs(v) < 1e15:
        return f"{v:.1f}"
    return f"{v:.10g}"


def fmt(x) -> str:
    """A short, deterministic description of a value (never raises)."""
    try:
        return _fmt_value(x)
    except Exception:  # an exotic object: its type is description enough
        return f"an object of type {type(x).__name__}"


def _fmt_value(x) -> str:
    if isinstance(x, np.ndarray):
        if x.ndim == 0:
            return _fmt_scalar(x[()])
        if x.size > PRINT_SIZE:
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
        if "0x" in text:
            return f"a {type(x).__name__}"
        return f"{type(x).__name__} {text}"
    return f"an object of type {type(x).__name__}"


def _fmt_scalar(x) -> str:
    if isinstance(x, (np.floating, np.integer)) and not isinstance(
        x, (np.float64, np.int64)
    ):
        return f"{fmt_number(x)} ({x.dtype})"
    if isinstance(x, (int, float, np.number)):
        return fmt_number(x)
    return _fmt_value(x)


def fmt_inputs(inputs: dict, index: int | None = None) -> str:
    """The arguments of a case, one per line, by name."""
    lines = []
    for name, value in inputs.items():
        text = fmt(value)
        if (
            index is not None
            and isinstance(value, np.ndarray)
            and value.size > PRINT_SIZE
        ):
            text += f" (report.results[{index}].inputs[{name!r}])"
        lines.extend(_labelled(f"{name} = ", text))
    return "\n".join(lines)

"""Automatic feedback on a learner's implementation of the course's functions.

Each ``check_*`` function takes the learner's function, runs it on ordinary
inputs and on the numerical traps the course is about, compares what comes
back with the :mod:`xent` reference, and returns a :class:`CheckReport`: one
line when everything passes, and for each failure the input, the expected
and the received value, and a hint. A notebook displays the report when it
is the last expression of a cell::

    from xent.check import check_softmax
    check_softmax(my_softmax)

The learner's function is called with NumPy arrays (and, where the exercise
says so, integers and floats), one call per case, each time on fresh copies
of the inputs.

What is checked, for every function:

- ordinary inputs: a vector, a batch of rows (2-d) and, for the row-wise
  functions (softmax, log-softmax, log-sum-exp, entropy, cross-entropy, KL
  divergence), a 3-d batch: the function must work along the last axis;
- rows of very different scales (``[1000.1, 999.3, 997.7]`` beside
  ``[1.4, -1.2, -2.9]``): a shift by the maximum of the whole array instead
  of each row's gives 0/0 there, and float32 arithmetic loses their digits;
- a single class (K = 1) where that is defined;
- the traps: logits of +-1000 and, in float32, of 100 (``np.exp`` overflows
  above about 709.78 in float64 and 88.72 in float32), logits of ``-inf`` (a
  class of probability 0), probabilities of exactly 0 (``0 * log(0)`` must
  count as 0), a subnormal probability (``p / q`` overflows);
- float32 input: an array result must be float32 again (as NumPy, PyTorch
  and :mod:`xent` do) and accurate to float32 precision; a scalar result (a
  mean loss) may be of any float type but must be accurate to float32
  precision;
- the input arrays are unchanged after every call;
- the result's type (a NumPy array; a plain number or NumPy scalar for a
  mean loss), its shape and its dtype, and NaN where a number was expected.

Tolerances (``np.isclose``): ``rtol=1e-6, atol=1e-12`` for float64 input,
``rtol=1e-5, atol=1e-6`` for float32 input. They are loose enough for any
sound way of computing the function and tight enough to catch every mistake
listed in the hints.

*Bonus* checks ask for more than the exercise: the tiny loss of a confidently
correct prediction to full relative precision (``rtol=1e-6, atol=0``:
``logsumexp(z) - z_t`` rounds it to 0, ``log1p`` keeps it), a row of all
``-inf`` in log-sum-exp, soft targets in the binary losses. A missed bonus
check is reported as advice and does not make the report fail.

A function that raises, returns ``None``, returns something that is not an
array, or returns the wrong shape or dtype is reported, never propagated:
the checker does not raise, and NumPy warnings inside the learner's function
(overflow, ``log(0)``) are silenced so that nothing reaches stderr. The
reports are deterministic (no addresses, no timings, no count of checks on
success), so that notebooks that display them can be regression-tested and
a new case does not change them.

Writing a checker of your own
-----------------------------
Every checker here is a table, a :class:`Checker`: a reference function,
the names of its arguments, the :class:`Case` s to try and the classic
:class:`Mistake` s to recognise. The same public classes serve an
instructor's own exercise; see the *For instructors* page of the book and
``help(Checker)``. ``check_softmax.checker`` is the table behind
:func:`check_softmax`, and :data:`CHECKERS` maps every name to its table.
:func:`library_calls` tells whether a function calls :mod:`xent` itself
(for exercises that say "NumPy only").
"""

from __future__ import annotations

from types import MappingProxyType

from ._checkers import (
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
from ._engine import (
    TOL32,
    TOL64,
    TOL_RELATIVE,
    Case,
    Checker,
    Mistake,
    library_calls,
)
from ._report import CheckReport, CheckResult

__all__ = [
    "CHECKERS",
    "TOL32",
    "TOL64",
    "TOL_RELATIVE",
    "Case",
    "CheckReport",
    "CheckResult",
    "Checker",
    "Mistake",
    "check_binary_cross_entropy",
    "check_binary_cross_entropy_with_logits",
    "check_cross_entropy",
    "check_entropy",
    "check_kl_divergence",
    "check_label_smoothing",
    "check_log_softmax",
    "check_logsumexp",
    "check_softmax",
    "check_softmax_cross_entropy",
    "check_softmax_cross_entropy_grad",
    "library_calls",
]

CHECKERS = MappingProxyType(
    {
        f.__name__: f.checker
        for f in (
            check_entropy,
            check_cross_entropy,
            check_binary_cross_entropy_with_logits,
            check_binary_cross_entropy,
            check_softmax,
            check_softmax_cross_entropy,
            check_logsumexp,
            check_log_softmax,
            check_softmax_cross_entropy_grad,
            check_kl_divergence,
            check_label_smoothing,
        )
    }
)
"""Every checker's table (a :class:`Checker`), by the checker's name."""

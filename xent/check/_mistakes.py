"""Hints, and the classic mistakes that several checkers recognise.

Each mistake is a :class:`~xent.check.Mistake`: an implementation of the
mistake (or a test), beside the hint that names it. The checkers list the
ones that apply to them.
"""

from __future__ import annotations

import numpy as np

from ._engine import GENERIC_HINTS, Mistake, same_values

# ----------------------------------------------------------------------------
# hints
# ----------------------------------------------------------------------------

OVERFLOW = (
    "np.exp overflows to inf above about 709.78 in float64 (88.72 in "
    "float32), and inf/inf or inf - inf is nan"
)
OVERFLOW_SHIFT = (
    f"{OVERFLOW}. Subtract each row's maximum first: the result does not "
    "change (shift invariance) and the largest exponent becomes exp(0) = 1"
)
UNDERFLOW_SHIFT = (
    "every np.exp underflowed to 0 (exp(-1000) = 0), so the sum is 0: 0/0 "
    "is nan and log(0) = -inf. Subtracting each row's maximum makes the "
    "largest term exp(0) = 1"
)
NEGINF = (
    "a logit of -inf (a class of probability 0) gave nan: exp(-inf) = 0 is "
    "fine, but -inf - (-inf) and 0 * (-inf) are nan in floating point; "
    "subtract the (finite) row maximum and pick entries by indexing rather "
    "than by multiplying with a one-hot vector"
)
ROWWISE = (
    "work along the last axis (axis=-1) so that every row z[..., :] is "
    "treated on its own; use keepdims=True when you reduce, so that the "
    "result broadcasts against z"
)
MIXED_SCALES = (
    "the two rows have very different scales, so each needs its own shift: "
    "subtract each row's maximum, z.max(axis=-1, keepdims=True). Without a "
    "shift exp(1000.1) overflows to inf; with the maximum of the whole "
    "array (z.max()) every exp of the row [1.4, -1.2, -2.9] underflows to "
    "0, and 0/0 is nan, log(0) is -inf"
)
GLOBAL_MAX = (
    "you subtracted the maximum of the whole array (z.max()) instead of "
    "each row's own maximum: in a row far below the global maximum, here "
    "[1.4, -1.2, -2.9] beside [1000.1, 999.3, 997.7], every exp underflows "
    "to 0, and 0/0 is nan, log(0) is -inf. Use m = z.max(axis=-1, "
    "keepdims=True)"
)
LOG1P = (
    "here the answer is about 1e-18, but log(1 + 4e-18) rounds to "
    "log(1.0) = 0. Take the largest term (exp(0) = 1) out of the sum and "
    "use np.log1p on the rest: log(sum_j exp(z_j - m)) = "
    "log1p(sum_{j != argmax} exp(z_j - m)). (Bonus: few libraries do this.)"
)
NEVER_LOG_OF_SOFTMAX = (
    "log(softmax(z)) is log(0) = -inf where a probability underflows "
    "(exp(-800) = 0), although the answer, -800, is an ordinary number: "
    "compute (z - m) - log(sum(exp(z - m))) with m the row maximum, and "
    "never take the log of a softmax"
)
ZERO_LOG_ZERO = (
    "a probability of 0 gave nan: 0 * log(0) = 0 * (-inf) = nan in "
    "floating point, but p log p -> 0 as p -> 0, so such a term counts as "
    "0. Use np.where(p > 0, p * np.log(p), 0.0) inside np.errstate(divide="
    "'ignore', invalid='ignore'), or scipy.special.xlogy"
)
FLOAT32 = {"dtype": GENERIC_HINTS["float32"]}
PRECISION = (
    "this case needs float64 precision: the logits differ in their 5th to "
    "7th digit, which float32 (about 7 digits) rounds away. Compute in the "
    "input's dtype: no .astype(np.float32), no float32 constants"
)
LOGITS_FORM = (
    "work with the logits, never with sigmoid(z): the loss is "
    "max(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))), where no exponent is "
    "positive and 1 - sigmoid(z) is never formed"
)


# ----------------------------------------------------------------------------
# mistakes shared by several checkers
# ----------------------------------------------------------------------------


def _scaled(factor, got, want) -> bool:
    """``got`` is ``want`` times ``factor``, a result clearly not ``want``."""
    return bool(
        np.all(np.isfinite(want))
        and np.any(want != 0)
        and same_values(got, want * factor)
        and not same_values(want, want * factor)
    )


def _count(*args, **kwargs) -> int:
    return int(np.size(args[1]))


def sum_instead_of_mean(what: str = "the loss", count=_count) -> Mistake:
    """The sum over the examples where the mean was asked for."""

    def when(got, want, *args, **kwargs):
        n = count(*args, **kwargs)
        return n > 1 and _scaled(n, got, want)

    def hint(*args, **kwargs):
        n = count(*args, **kwargs)
        return (
            f"your result is {n} times too large: {what} is the mean over "
            f"the {n} examples, so divide the sum by {n} (np.mean)"
        )

    return Mistake(hint, when=when)


WRONG_SIGN = Mistake(
    "your result has the wrong sign: the loss is minus the log-probability "
    "(-log p)",
    when=lambda got, want, *a, **k: _scaled(-1.0, got, want),
)
BITS = Mistake(
    "you computed in bits (np.log2); the reference is in nats: use the "
    "natural log, np.log",
    when=lambda got, want, *a, **k: _scaled(1 / np.log(2), got, want),
)


def _globally_shifted(z):
    z = np.asarray(z)
    return z - z.max()


def global_max(fn) -> Mistake:
    """``fn`` applied after subtracting the maximum of the whole array."""
    return Mistake(GLOBAL_MAX, fn=fn)


def rowwise(ref, what: str) -> tuple[Mistake, ...]:
    """Wrong axis, the whole array as one row, a wrong shape."""

    def axis0(z):
        return ref(z, axis=0)

    def whole(z):
        return ref(np.asarray(z).reshape(-1)).reshape(np.shape(z))

    def two_d(got, want, z, **kwargs):
        return np.ndim(z) >= 2

    return (
        Mistake(
            f"your {what} works along the first axis (axis=0); it must work "
            "along the last (axis=-1)",
            fn=axis0,
            when=two_d,
        ),
        Mistake(
            f"your {what} treats the whole array as one row; work along "
            "axis=-1 with keepdims=True",
            fn=whole,
            when=two_d,
        ),
        Mistake(
            ROWWISE,
            when=lambda got, want, *a, **k: np.shape(got) != np.shape(want),
        ),
    )

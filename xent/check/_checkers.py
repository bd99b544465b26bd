"""The course's checkers: one table of cases and mistakes per exercise."""

from __future__ import annotations

from typing import Literal

import numpy as np

import xent

from . import _mistakes as m
from ._engine import TOL_RELATIVE, Case, Checker, Mistake, same_values
from ._report import CheckReport

# Values above this count as "a large loss" where the exact answer is inf (a
# confident mistake on probabilities): clipping p to [1e-7, 1 - 1e-7], as
# Keras does, gives 16.1; PyTorch's clamp 100.
LARGE_LOSS = 15.0


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _logits(shape, seed) -> np.ndarray:
    return _rng(seed).normal(0.0, 2.0, size=shape).round(2)


def _distributions(shape, seed) -> np.ndarray:
    p = _rng(seed).dirichlet(np.ones(shape[-1]), size=shape[:-1])
    return p / p.sum(axis=-1, keepdims=True)


def _registered(checker: Checker, **variants: Checker):
    """Attach the tables to the public function.

    ``check_softmax.checker`` is the table the function runs by default;
    ``check_label_smoothing.checker_for(convention="others")`` the one it
    runs with that option (the same ``checker`` without options).
    """

    def checker_for(**options) -> Checker:
        if not options:
            return checker
        key = ",".join(f"{k}={v}" for k, v in sorted(options.items()))
        if key not in variants:
            raise ValueError(f"no checker for the options {options!r}")
        return variants[key]

    def attach(function):
        function.checker = checker
        function.checker_for = checker_for
        return function

    return attach


# ----------------------------------------------------------------------------
# softmax, log-softmax, log-sum-exp
# ----------------------------------------------------------------------------

Z_VEC = np.array([1.0, 2.0, 3.0])
Z_BATCH = _logits((4, 5), 0)
Z_3D = _logits((2, 3, 4), 1)
Z_K1 = np.array([[0.5], [-2.0], [3.0]])
Z_HUGE = np.array([[1000.0, 0.0, -1000.0], [1000.0, 1000.0, 999.0]])
# Rows of different scales (a global max shift gives 0/0 in the second) with
# digits that float32 rounds away (1000.1 is 1000.0999755859375 there).
Z_MIXED = np.array([[1000.1, 999.3, 997.7], [1.4, -1.2, -2.9]])
Z_VERY_NEGATIVE = np.array([[-1000.0, -1000.0, -1001.0]])
Z_NEGINF = np.array([[0.0, -np.inf, 1.0], [2.0, 0.5, -np.inf]])
Z_F32 = _logits((3, 4), 2).astype(np.float32)
Z_F32_LARGE = np.array(
    [[100.0, 0.0, -100.0], [90.0, 89.0, 0.0]], dtype=np.float32
)
Z_GAP = np.array([[0.0, -800.0], [3.0, -900.0]])
Z_CONFIDENT = np.array([[40.0, 0.0], [0.0, -45.0]])
Z_ALL_NEGINF = np.array([[-np.inf, -np.inf], [0.0, 1.0]])
Z_NEAR_ZERO = np.array([[0.0, -40.0], [-1e-3, -50.0]])
# log(2 exp(-0.6931)) = 4.7e-5: float32 keeps only 3 digits of it.
Z_SMALL_RESULT = np.array([[-0.6931, -0.6931], [0.25, -1000.0]])


def _rowwise_cases(what: str) -> tuple[Case, ...]:
    """The cases every row-wise function of logits gets."""
    return (
        Case(
            "a vector of 3 logits",
            (Z_VEC,),
            {"value": f"compare with the definition of {what}"},
        ),
        Case(
            "a batch of rows, shape (4, 5)",
            (Z_BATCH,),
            {"value": m.ROWWISE, "shape": m.ROWWISE},
        ),
        Case(
            "a 3-d batch, shape (2, 3, 4)",
            (Z_3D,),
            {"value": m.ROWWISE, "shape": m.ROWWISE},
        ),
        Case(
            "a single class (K = 1)",
            (Z_K1,),
            dict.fromkeys(
                ("value", "shape"),
                "with one class every row has one entry: nothing may divide "
                "by K - 1 or drop the axis",
            ),
        ),
        Case("huge logits (1000, -1000)", (Z_HUGE,), m.OVERFLOW_SHIFT),
        Case(
            "rows of different scales (1000.1 ... and 1.4 ...)",
            (Z_MIXED,),
            {
                "nan": m.MIXED_SCALES,
                "-inf": m.MIXED_SCALES,
                "inf": m.MIXED_SCALES,
                "value": m.PRECISION,
            },
        ),
        Case(
            "very negative logits (-1000)",
            (Z_VERY_NEGATIVE,),
            m.UNDERFLOW_SHIFT,
        ),
        Case("a logit of -inf", (Z_NEGINF,), {"nan": m.NEGINF}),
        Case("float32 input", (Z_F32,), m.FLOAT32),
        Case(
            "float32 logits of 100 (exp overflows above 88.7 in float32)",
            (Z_F32_LARGE,),
            {
                "dtype": m.FLOAT32["dtype"],
                "nan": m.OVERFLOW_SHIFT,
                "inf": m.OVERFLOW_SHIFT,
                "-inf": m.OVERFLOW_SHIFT,
            },
        ),
    )


def _stable_softmax(z):
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _softmax_global(z):
    e = np.exp(m._globally_shifted(z))
    return e / e.sum(axis=-1, keepdims=True)


def _rows_not_normalised(got, want, z, **kwargs):
    return (
        np.shape(got) == np.shape(want)
        and np.all(np.isfinite(got))
        and not same_values(got.sum(axis=-1), np.ones(got.shape[:-1]))
    )


SOFTMAX = Checker(
    "check_softmax",
    xent.softmax,
    ("z",),
    _rowwise_cases("the softmax"),
    mistakes=(
        m.global_max(_softmax_global),
        *m.rowwise(xent.softmax, "softmax"),
        Mistake(
            "each row of a softmax must sum to 1: divide by the sum over "
            "the last axis",
            when=_rows_not_normalised,
        ),
    ),
)


@_registered(SOFTMAX)
def check_softmax(fn) -> CheckReport:
    r"""Check a learner's softmax along the last axis.

    The softmax is :math:`e^{z_i} / \sum_j e^{z_j}`.

    Parameters
    ----------
    fn : callable
        ``fn(z)`` with ``z`` a float array of any shape ``(..., K)``;
        returns an array of the same shape and dtype.

    Returns
    -------
    CheckReport
        Truthy if every check passed. Required: a vector, a 2-d and a 3-d
        batch, one class, logits of +-1000 (overflow), rows of very
        different scales (a shift by the maximum of the whole array gives
        0/0 there; float32 arithmetic loses their digits), logits of -1000
        only (0/0), of ``-inf``, float32 input (float32 result) and float32
        logits of 100, and the input left unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> from xent.check import check_softmax
    >>> def my_softmax(z):
    ...     e = np.exp(z - z.max(axis=-1, keepdims=True))
    ...     return e / e.sum(axis=-1, keepdims=True)
    >>> check_softmax(my_softmax)
    ✓ check_softmax: all checks passed
    >>> from xent import naive
    >>> report = check_softmax(naive.softmax)   # no max subtraction
    >>> bool(report), report.failed
    (False, 4)
    """
    return SOFTMAX(fn)


def _log_softmax_global(z):
    shifted = m._globally_shifted(z)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _log_of_softmax(z):
    return np.log(_stable_softmax(z))


def _cases_log_softmax() -> tuple[Case, ...]:
    cases = list(_rowwise_cases("the log-softmax"))
    cases.append(
        Case(
            "logits 800 apart (the softmax underflows to 0)",
            (Z_GAP,),
            m.NEVER_LOG_OF_SOFTMAX,
        )
    )
    cases.append(
        Case(
            "a confident row (margin 40): top entry -4.2e-18",
            (Z_CONFIDENT,),
            m.LOG1P,
            tol=TOL_RELATIVE,
            bonus=True,
        )
    )
    return tuple(cases)


LOG_SOFTMAX = Checker(
    "check_log_softmax",
    xent.log_softmax,
    ("z",),
    _cases_log_softmax(),
    mistakes=(
        m.global_max(_log_softmax_global),
        Mistake(
            "you returned the softmax itself; take its logarithm (computed "
            "from the logits)",
            fn=_stable_softmax,
        ),
        Mistake(m.NEVER_LOG_OF_SOFTMAX, fn=_log_of_softmax),
        *m.rowwise(xent.log_softmax, "log-softmax"),
    ),
)


@_registered(LOG_SOFTMAX)
def check_log_softmax(fn) -> CheckReport:
    r"""Check a learner's log-softmax along the last axis.

    The log-softmax is :math:`z_i - \log \sum_j e^{z_j}`.

    Parameters
    ----------
    fn : callable
        ``fn(z)`` with ``z`` a float array of shape ``(..., K)``; returns an
        array of the same shape and dtype.

    Returns
    -------
    CheckReport
        Truthy if every required check passed: those of
        :func:`check_softmax`, plus a gap of 800 between logits (the softmax
        underflows to 0 there, so ``log(softmax(z))`` is ``-inf`` where the
        answer is -800). Bonus: the top entry of a confident row,
        :math:`-4.2 \times 10^{-18}`, to full relative precision (it needs
        ``log1p``).

    Examples
    --------
    >>> import numpy as np
    >>> from xent.check import check_log_softmax
    >>> def my_log_softmax(z):
    ...     shifted = z - z.max(axis=-1, keepdims=True)
    ...     s = np.exp(shifted).sum(axis=-1, keepdims=True)
    ...     return shifted - np.log(s)
    >>> report = check_log_softmax(my_log_softmax)
    >>> bool(report), report.bonus_missed
    (True, 1)
    >>> print(report.summary())  # doctest: +ELLIPSIS
    ✓ check_log_softmax: all required checks passed (advice on bonus ...
    """
    return LOG_SOFTMAX(fn)


def _logsumexp_global(z):
    z = np.asarray(z)
    g = z.max()
    return g + np.log(np.exp(z - g).sum(axis=-1))


def _cases_logsumexp() -> tuple[Case, ...]:
    cases = list(_rowwise_cases("the log-sum-exp"))
    cases.insert(
        6,
        Case(
            "a result near 0 (4.7e-5)",
            (Z_SMALL_RESULT,),
            {
                "value": m.PRECISION.replace(
                    "the logits differ in their 5th to 7th digit",
                    "the result is "
                    "4.7e-5, the difference of two "
                    "numbers near 0.69,",
                )
            },
        ),
    )
    cases += [
        Case(
            "a row of all -inf (the sum is 0, its log -inf)",
            (Z_ALL_NEGINF,),
            "the row maximum is -inf here and z - m = -inf - (-inf) = nan: "
            "shift by 0 instead where the maximum is not finite, e.g. "
            "m = np.where(np.isfinite(m), m, 0). (Bonus: this is what "
            "scipy.special.logsumexp does.)",
            bonus=True,
        ),
        Case(
            "results near 0 (4.2e-18)",
            (Z_NEAR_ZERO,),
            m.LOG1P,
            tol=TOL_RELATIVE,
            bonus=True,
        ),
    ]
    return tuple(cases)


def _kept_axis(got, want, z, **kwargs):
    return np.shape(got) == (*np.shape(z)[:-1], 1)


LOGSUMEXP = Checker(
    "check_logsumexp",
    xent.logsumexp,
    ("z",),
    _cases_logsumexp(),
    mistakes=(
        Mistake(
            "you returned shape z.shape[:-1] + (1,): the log-sum-exp removes "
            "the last axis; drop it (keepdims=False, or index [..., 0] at the "
            "end)",
            when=_kept_axis,
        ),
        m.global_max(_logsumexp_global),
        *m.rowwise(xent.logsumexp, "log-sum-exp"),
    ),
    scalar_hint="the log-sum-exp of a vector is a single number: reduce "
    "over the last axis without keepdims",
)


@_registered(LOGSUMEXP)
def check_logsumexp(fn) -> CheckReport:
    r"""Check a learner's log-sum-exp over the last axis.

    The log-sum-exp is :math:`\log \sum_j e^{z_j}`.

    Parameters
    ----------
    fn : callable
        ``fn(z)`` with ``z`` a float array of shape ``(..., K)``; returns
        shape ``z.shape[:-1]`` (a number for a vector) in the dtype of ``z``.

    Returns
    -------
    CheckReport
        Truthy if every required check passed: a vector, a 2-d and a 3-d
        batch, one class, logits of +-1000, rows of different scales, a
        result near 0 (4.7e-5, to float64 precision), logits of -1000,
        ``-inf`` entries, float32 input and float32 logits of 100, the input
        unchanged. Bonus: a row of all ``-inf`` (the answer is ``-inf``;
        the max-shift gives ``-inf - (-inf) = nan``), and results near 0 to
        full relative precision (``log1p``).

    Examples
    --------
    >>> import numpy as np
    >>> from xent.check import check_logsumexp
    >>> def my_logsumexp(z):
    ...     m = z.max(axis=-1, keepdims=True)
    ...     s = np.exp(z - m).sum(axis=-1, keepdims=True)
    ...     return (m + np.log(s))[..., 0]
    >>> report = check_logsumexp(my_logsumexp)
    >>> bool(report), report.bonus_missed
    (True, 2)
    """
    return LOGSUMEXP(fn)


# ----------------------------------------------------------------------------
# losses on logits
# ----------------------------------------------------------------------------

CE_BATCH = (_logits((4, 3), 3), np.array([0, 2, 1, 2]))
CE_ONE = (_logits((1, 5), 4), np.array([3]))
CE_K1 = (np.array([[2.0], [-1.0]]), np.array([0, 0]))
CE_HUGE = (
    np.array([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 0.0]]),
    np.array([0, 2]),
)
CE_MIXED = (Z_MIXED.copy(), np.array([1, 0]))
CE_GAP = (np.array([[0.0, -800.0]]), np.array([1]))
CE_NEGINF = (Z_NEGINF.copy(), np.array([0, 1]))
CE_F32 = (_logits((4, 3), 5).astype(np.float32), np.array([1, 0, 2, 2]))
CE_F32_LARGE = (Z_F32_LARGE.copy(), np.array([2, 1]))
CE_CONFIDENT = (
    np.array([[40.0, 0.0, 0.0], [0.0, 45.0, 0.0]]),
    np.array([0, 1]),
)

_GAP_HINT = (
    "the target's probability underflowed to 0 (exp(-800) = 0) and log(0) "
    "= -inf; compute the loss from the logits: -log softmax(z)_t = "
    "logsumexp(z) - z_t, with the max-shifted logsumexp"
)


def _rows(targets):
    return np.arange(len(targets))


def _ce_global(logits, targets):
    lse = _logsumexp_global(logits)
    return np.mean(lse - logits[_rows(targets), targets])


def _ce_log_of_softmax(logits, targets):
    return -np.mean(np.log(_stable_softmax(logits))[_rows(targets), targets])


def _ce_onehot(logits, targets):
    onehot = np.eye(logits.shape[-1])[targets]
    return -np.mean(np.sum(onehot * xent.log_softmax(logits), axis=-1))


SOFTMAX_CROSS_ENTROPY = Checker(
    "check_softmax_cross_entropy",
    xent.softmax_cross_entropy,
    ("logits", "targets"),
    (
        Case(
            "a batch of 4 examples, 3 classes",
            CE_BATCH,
            "the loss of example i is -log softmax(z_i)[t_i] = "
            "logsumexp(z_i) - z_i[t_i]; return the mean",
        ),
        Case("one example, 5 classes", CE_ONE),
        Case(
            "a single class (K = 1): the loss is 0",
            CE_K1,
            "with one class its probability is 1 and the loss is 0",
        ),
        Case("huge logits (1000, -1000)", CE_HUGE, m.OVERFLOW_SHIFT),
        Case(
            "rows of different scales (1000.1 ... and 1.4 ...)",
            CE_MIXED,
            {
                "nan": m.MIXED_SCALES,
                "inf": m.MIXED_SCALES,
                "-inf": m.MIXED_SCALES,
                "value": m.PRECISION,
            },
        ),
        Case(
            "a target 800 below the top logit (its probability underflows)",
            CE_GAP,
            _GAP_HINT,
        ),
        Case(
            "a logit of -inf for a wrong class", CE_NEGINF, {"nan": m.NEGINF}
        ),
        Case("float32 input", CE_F32),
        Case(
            "float32 logits of 100 (exp overflows above 88.7 in float32)",
            CE_F32_LARGE,
            m.OVERFLOW_SHIFT,
        ),
        Case(
            "a confidently correct batch (margin 40): loss 4.2e-18",
            CE_CONFIDENT,
            "logsumexp(z) - z_t subtracts two nearly equal numbers; "
            + m.LOG1P,
            tol=TOL_RELATIVE,
            bonus=True,
        ),
    ),
    mistakes=(
        m.sum_instead_of_mean(),
        m.WRONG_SIGN,
        m.BITS,
        m.global_max(_ce_global),
        Mistake(_GAP_HINT, fn=_ce_log_of_softmax),
        Mistake(m.NEGINF, fn=_ce_onehot),
    ),
    scalar_hint="return a single number: the mean of the per-example losses "
    "(np.mean)",
)


@_registered(SOFTMAX_CROSS_ENTROPY)
def check_softmax_cross_entropy(fn) -> CheckReport:
    r"""Check a learner's softmax cross-entropy of class targets.

    The loss is the mean of :math:`-\log \operatorname{softmax}(z_i)_{t_i}`.

    Parameters
    ----------
    fn : callable
        ``fn(logits, targets)`` with ``logits`` of shape ``(N, K)`` and
        ``targets`` integer classes of shape ``(N,)``; returns the mean
        loss, a number.

    Returns
    -------
    CheckReport
        Truthy if every required check passed: a batch, one example, one
        class (loss 0), logits of +-1000, rows of different scales, a target
        800 below the maximum (``log(0)`` if computed through the softmax),
        a ``-inf`` logit for a wrong class (``0 * -inf`` if computed with a
        one-hot vector), float32 input and logits of 100, the inputs
        unchanged. Bonus: a confidently correct batch, loss
        :math:`4.2 \times 10^{-18}`, to full relative precision
        (``logsumexp(z) - z_t`` gives 0).

    Examples
    --------
    >>> import numpy as np
    >>> from xent.check import check_softmax_cross_entropy
    >>> def my_cross_entropy(logits, targets):
    ...     m = logits.max(axis=1, keepdims=True)
    ...     s = np.exp(logits - m).sum(axis=1, keepdims=True)
    ...     lse = (m + np.log(s))[:, 0]
    ...     return np.mean(lse - logits[np.arange(len(targets)), targets])
    >>> report = check_softmax_cross_entropy(my_cross_entropy)
    >>> bool(report), report.failed, report.bonus_missed
    (True, 0, 1)
    """
    return SOFTMAX_CROSS_ENTROPY(fn)


BCE_VEC = (
    np.array([2.0, -1.0, 0.5, -3.0, 0.0]),
    np.array([1.0, 0.0, 1.0, 0.0, 1.0]),
)
BCE_BATCH = (
    _logits((3, 4), 6),
    (_rng(7).random((3, 4)) < 0.5).astype(np.float64),
)
BCE_40 = (np.array([40.0, -40.0]), np.array([0.0, 1.0]))
BCE_HUGE = (
    np.array([1000.0, -1000.0, 1000.0, -1000.0]),
    np.array([1.0, 0.0, 0.0, 1.0]),
)
BCE_F32 = (
    BCE_BATCH[0].astype(np.float32) * np.float32(1.5),
    BCE_BATCH[1].astype(np.float32),
)
BCE_F32_LARGE = (
    np.array([100.0, -100.0, 3.0], dtype=np.float32),
    np.array([0.0, 1.0, 1.0], dtype=np.float32),
)
BCE_SOFT = (np.array([0.4, -2.0, 1.5]), np.array([0.25, 0.9, 0.5]))
BCE_CONFIDENT = (np.array([40.0, -45.0]), np.array([1.0, 0.0]))

_SOFT_TARGETS = (
    "the formula holds for any target y in [0, 1] (soft labels, label "
    "smoothing): do not branch on y == 1; use y and 1 - y as weights. "
    "(Bonus.)"
)

BINARY_CROSS_ENTROPY_WITH_LOGITS = Checker(
    "check_binary_cross_entropy_with_logits",
    xent.binary_cross_entropy_with_logits,
    ("logits", "targets"),
    (
        Case(
            "5 logits with labels 0 and 1",
            BCE_VEC,
            "the loss of one element is -[y log sigmoid(z) + (1 - y) "
            "log(1 - sigmoid(z))]; return the mean",
        ),
        Case(
            "a 2-d batch, shape (3, 4): the mean over all elements",
            BCE_BATCH,
            "return the mean over all elements (np.mean without an axis)",
        ),
        Case(
            "logits of +-40 (sigmoid(40) rounds to exactly 1)",
            BCE_40,
            "sigmoid(40) is exactly 1.0 in float64, so log(1 - sigmoid(z)) "
            "= log(0) = -inf; " + m.LOGITS_FORM,
        ),
        Case(
            "huge logits (1000, -1000)",
            BCE_HUGE,
            f"{m.OVERFLOW}; {m.LOGITS_FORM}",
        ),
        Case("float32 input", BCE_F32),
        Case(
            "float32 logits of 100",
            BCE_F32_LARGE,
            f"{m.OVERFLOW}; {m.LOGITS_FORM}",
        ),
        Case(
            "soft targets (0.25, 0.9, 0.5)",
            BCE_SOFT,
            _SOFT_TARGETS,
            bonus=True,
        ),
        Case(
            "tiny losses (z = 40 with y = 1: 4.2e-18)",
            BCE_CONFIDENT,
            "the answer is 4.2e-18, and two roundings lose it: "
            "log(1 + exp(-40)) is log(1.0) = 0 (np.log1p(np.exp(-40)) keeps "
            "it), and softplus(z) - y * z = (40 + 4.2e-18) - 40 cancels "
            "(40 + 4.2e-18 rounds to 40). Subtract first, (max(z, 0) - z * "
            "y) + np.log1p(np.exp(-np.abs(z))), or add non-negative terms: "
            "y * softplus(-z) + (1 - y) * softplus(z). (Bonus.)",
            tol=TOL_RELATIVE,
            bonus=True,
        ),
    ),
    mistakes=(m.sum_instead_of_mean(), m.WRONG_SIGN, m.BITS),
    scalar_hint="return a single number: the mean over all elements "
    "(np.mean without an axis)",
)


@_registered(BINARY_CROSS_ENTROPY_WITH_LOGITS)
def check_binary_cross_entropy_with_logits(fn) -> CheckReport:
    r"""Check a learner's binary cross-entropy on logits.

    The loss is the mean of :math:`-\log \sigma(\pm z)`.

    The loss of one element is
    :math:`-[y \log \sigma(z) + (1-y) \log(1 - \sigma(z))]`.

    Parameters
    ----------
    fn : callable
        ``fn(logits, targets)`` with two float arrays of the same shape
        (targets 0.0 or 1.0); returns the mean over all elements, a number.

    Returns
    -------
    CheckReport
        Truthy if every required check passed: a vector, a 2-d batch (mean
        over all elements), logits of +-40 (the sigmoid rounds to exactly 1,
        so ``log(1 - sigmoid(z))`` is ``-inf``), logits of +-1000, float32
        input and logits of 100, the inputs unchanged. Bonus: soft targets
        (0.25, 0.9), and a tiny loss (:math:`4 \times 10^{-18}`) to full
        relative precision. Logits of ``-inf`` are not tried: the loss is
        ``0 * inf`` there.

    Examples
    --------
    >>> import numpy as np
    >>> from xent.check import check_binary_cross_entropy_with_logits
    >>> def my_bce(logits, targets):
    ...     z, y = logits, targets
    ...     first = np.maximum(z, 0) - z * y   # subtract before adding
    ...     return np.mean(first + np.log1p(np.exp(-np.abs(z))))
    >>> check_binary_cross_entropy_with_logits(my_bce)
    ✓ check_binary_cross_entropy_with_logits: all checks passed
    """
    return BINARY_CROSS_ENTROPY_WITH_LOGITS(fn)


def _n_times(got, want, logits, targets):
    n = len(targets)
    return n > 1 and m._scaled(n, got, want)


def _grad_global(logits, targets):
    g = _softmax_global(logits)
    g[_rows(targets), targets] -= 1
    return g / len(targets)


def _probs_only(logits, targets):
    return _stable_softmax(logits) / len(targets)


SOFTMAX_CROSS_ENTROPY_GRAD = Checker(
    "check_softmax_cross_entropy_grad",
    xent.softmax_cross_entropy_grad,
    ("logits", "targets"),
    (
        Case(
            "a batch of 4 examples, 3 classes",
            CE_BATCH,
            "the gradient of the mean loss is (softmax(z) - onehot(t)) / N",
        ),
        Case("one example, 5 classes", CE_ONE),
        Case(
            "a single class (K = 1): the gradient is 0",
            CE_K1,
            "with one class softmax(z) = 1 = y, so the gradient is 0",
        ),
        Case("huge logits (1000, -1000)", CE_HUGE, m.OVERFLOW_SHIFT),
        Case(
            "rows of different scales (1000.1 ... and 1.4 ...)",
            CE_MIXED,
            {"nan": m.MIXED_SCALES, "value": m.PRECISION},
        ),
        Case("a logit of -inf", CE_NEGINF, {"nan": m.NEGINF}),
        Case("float32 input", CE_F32, m.FLOAT32),
        Case(
            "float32 logits of 100",
            CE_F32_LARGE,
            {"dtype": m.FLOAT32["dtype"], "nan": m.OVERFLOW_SHIFT},
        ),
    ),
    mistakes=(
        Mistake(
            lambda z, t: (
                "the gradient has one entry per logit: return "
                f"shape {np.shape(z)}, the shape of logits"
            ),
            when=lambda got, want, *a: np.shape(got) != np.shape(want),
        ),
        Mistake(
            lambda z, t: (
                f"your gradient is {len(t)} times too large: the "
                f"loss is the mean over the N = {len(t)} examples, so divide "
                "softmax(z) - y by N"
            ),
            when=_n_times,
        ),
        Mistake(
            "your gradient has the wrong sign: it is softmax(z) - y, not "
            "y - softmax(z)",
            when=lambda got, want, *a: m._scaled(-1.0, got, want),
        ),
        m.global_max(_grad_global),
        Mistake(
            "subtract the one-hot targets: the gradient is softmax(z) - y "
            "(then divide by N)",
            fn=_probs_only,
        ),
        Mistake(
            "subtract the one-hot targets: the gradient is softmax(z) - y "
            "(then divide by N)",
            fn=lambda z, t: _stable_softmax(z),
        ),
    ),
)


@_registered(SOFTMAX_CROSS_ENTROPY_GRAD)
def check_softmax_cross_entropy_grad(fn) -> CheckReport:
    r"""Check a learner's gradient of the mean softmax cross-entropy.

    ``fn(logits, targets)`` returns :math:`(\operatorname{softmax}(z) - y) /
    N`, the gradient of the *mean* loss over the :math:`N` examples, with
    :math:`y` the one-hot targets.

    Parameters
    ----------
    fn : callable
        ``fn(logits, targets)`` with ``logits`` of shape ``(N, K)`` and
        ``targets`` integer classes of shape ``(N,)``; returns an array of
        shape ``(N, K)`` in the dtype of ``logits``.

    Returns
    -------
    CheckReport
        Truthy if every check passed: a batch, one example, one class
        (gradient 0), logits of +-1000, rows of different scales, a ``-inf``
        logit, float32 input (float32 result) and logits of 100, the inputs
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
    ✓ check_softmax_cross_entropy_grad: all checks passed
    """
    return SOFTMAX_CROSS_ENTROPY_GRAD(fn)


# ----------------------------------------------------------------------------
# label smoothing
# ----------------------------------------------------------------------------

CONVENTIONS = {
    "uniform": "every class gets eps/K and the true class also 1 - eps, so "
    "1 - eps + eps/K in all (PyTorch's label_smoothing): (1 - eps) * onehot "
    "+ eps / K",
    "others": "the true class gets 1 - eps and each of the K - 1 other "
    "classes eps/(K - 1), the convention of fairseq's "
    "label_smoothed_nll_loss",
}


_SMOOTHING_SPECS = (
    ("3 examples, 4 classes, eps = 0.1", np.array([0, 3, 1]), 0.1, 4),
    ("eps = 0 gives one-hot rows", np.array([2, 0]), 0.0, 3),
    ("eps = 1", np.array([1, 0]), 1.0, 3),
    ("two classes, eps = 0.2", np.array([0, 1, 1]), 0.2, 2),
    ("ten classes, eps = 0.3", np.array([9, 0, 4, 4, 7]), 0.3, 10),
)


Convention = Literal["uniform", "others"]


def _smoothing_checker(convention: Convention) -> Checker:
    other: Convention = "others" if convention == "uniform" else "uniform"
    specs = list(_SMOOTHING_SPECS)
    if convention == "uniform":
        specs.append(
            (
                "a single class (K = 1): the row is [1.0]",
                np.array([0, 0]),
                0.1,
                1,
            )
        )
    hint = f"with convention={convention!r}: {CONVENTIONS[convention]}"
    cases = tuple(
        Case(name, (t, eps), hint, kwargs={"num_classes": k}, any_float=True)
        for name, t, eps, k in specs
    )

    def reference(targets, label_smoothing, *, num_classes):
        return xent.smooth_labels(
            targets,
            label_smoothing,
            num_classes=num_classes,
            convention=convention,
        )

    def other_convention(targets, label_smoothing, *, num_classes):
        return xent.smooth_labels(
            targets, label_smoothing, num_classes=num_classes, convention=other
        )

    def transposed(got, want, targets, label_smoothing, *, num_classes):
        return np.shape(got) == (num_classes, len(targets)) != np.shape(want)

    def not_distributions(got, want, *args, **kwargs):
        return np.shape(got) == np.shape(want) and not same_values(
            got.sum(axis=-1), np.ones(got.shape[:-1])
        )

    name = "check_label_smoothing"
    if convention != "uniform":
        name += "(convention='others')"
    return Checker(
        name,
        reference,
        ("targets", "label_smoothing"),
        cases,
        mistakes=(
            Mistake(
                lambda t, eps, *, num_classes: (
                    "your rows and columns are "
                    f"swapped: return shape (N, K) = {(len(t), num_classes)}"
                ),
                when=transposed,
            ),
            Mistake(
                f"you used the {other!r} convention ({CONVENTIONS[other]}); "
                f"this exercise asks for {convention!r}: "
                f"{CONVENTIONS[convention]}",
                fn=other_convention,
                when=lambda got, want, t, eps, *, num_classes: num_classes > 1,
            ),
            Mistake(
                "each row must be a distribution summing to 1: "
                + CONVENTIONS[convention],
                when=not_distributions,
            ),
        ),
        call="fn(targets, label_smoothing, num_classes=K)",
    )


LABEL_SMOOTHING = _smoothing_checker("uniform")
LABEL_SMOOTHING_OTHERS = _smoothing_checker("others")


@_registered(
    LABEL_SMOOTHING,
    **{
        "convention=uniform": LABEL_SMOOTHING,
        "convention=others": LABEL_SMOOTHING_OTHERS,
    },
)
def check_label_smoothing(fn, *, convention: str = "uniform") -> CheckReport:
    r"""Check a learner's label smoothing.

    The learner's ``fn(targets, label_smoothing, num_classes=K)`` returns
    smoothed one-hot rows.

    Parameters
    ----------
    fn : callable
        ``fn(targets, label_smoothing, num_classes=K)`` with ``targets``
        integer classes of shape ``(N,)`` and ``label_smoothing`` the
        strength :math:`\epsilon`; returns an array of shape ``(N, K)`` of
        floats, each row a distribution (the signature of
        :func:`xent.smooth_labels`).
    convention : {"uniform", "others"}, optional
        ``"uniform"`` (PyTorch): every class gets :math:`\epsilon / K`, so
        the true class gets :math:`1 - \epsilon + \epsilon / K`.
        ``"others"`` (fairseq's ``label_smoothed_nll_loss``): the true class
        gets :math:`1 - \epsilon` and every other class
        :math:`\epsilon / (K - 1)`.

    Returns
    -------
    CheckReport
        Truthy if every check passed: :math:`\epsilon` of 0.1, 0 (one-hot)
        and 1, two classes, ten classes, one class (``"uniform"`` only: the
        row is ``[1.0]``), the targets unchanged. Any float dtype is
        accepted.

    Raises
    ------
    ValueError
        If ``convention`` is not ``"uniform"`` or ``"others"``.

    Examples
    --------
    >>> import numpy as np
    >>> from xent.check import check_label_smoothing
    >>> def my_smooth(targets, label_smoothing, *, num_classes):
    ...     onehot = np.eye(num_classes)[targets]
    ...     eps = label_smoothing
    ...     return (1 - eps) * onehot + eps / num_classes
    >>> check_label_smoothing(my_smooth)
    ✓ check_label_smoothing: all checks passed
    >>> print(check_label_smoothing(my_smooth, convention="others").summary())
    ✗ check_label_smoothing(convention='others'): 4 of 6 required checks failed
    """
    if convention == "uniform":
        return LABEL_SMOOTHING(fn)
    if convention == "others":
        return LABEL_SMOOTHING_OTHERS(fn)
    raise ValueError(
        f"convention: expected 'uniform' or 'others', got {convention!r}"
    )


# ----------------------------------------------------------------------------
# information measures
# ----------------------------------------------------------------------------

_LARGE_OR_INF = (
    f"inf (or any value of at least {LARGE_LOSS:g} if you clip "
    "probabilities away from 0; NaN is not accepted)"
)


def _accept_large(got: np.ndarray) -> bool:
    return bool(np.all(~np.isnan(got) & (got >= LARGE_LOSS)))


P_COIN = np.array([0.5, 0.5])
P_FOUR = np.array([0.1, 0.2, 0.3, 0.4])
P_BATCH = _distributions((3, 4), 8)
P_3D = _distributions((2, 2, 3), 9)
P_ZERO = np.array([0.5, 0.5, 0.0])
P_CERTAIN = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
P_K1 = np.array([[1.0], [1.0]])
P_F32 = _distributions((3, 4), 10).astype(np.float32)
# Nearly certain: the entropy, 1.5e-5, comes from digits float32 rounds away.
P_SHARP = np.array([[1 - 1e-6, 1e-6], [0.3, 0.7]])
Q_SHARP = np.array([[1 - 2e-6, 2e-6], [0.25, 0.75]])
# A subnormal probability: p / q overflows to inf, log p - log q does not.
P_HALF = np.array([0.5, 0.5])
Q_SUBNORMAL = np.array([1e-310, 1 - 1e-310])

_SUBNORMAL_HINT = (
    "q = 1e-310 is a subnormal number: p / q = 5e309 overflows to inf "
    "(float64 ends at 1.8e308), and float32 rounds 1e-310 to 0. Compute "
    "p * (log(p) - log(q)), in float64: the exact answer is 356.2"
)
_PRECISION_P = (
    "the answer is about 1e-5 and comes from digits that float32 (about 7 "
    "digits) rounds away from p = 1 - 1e-6: compute in the input's dtype"
)


def _info_mistakes(ref, *, two: bool) -> tuple[Mistake, ...]:
    def shape(got, want, *args):
        return np.shape(got) != np.shape(want)

    def shape_hint(*args):
        want = np.shape(args[0])[:-1]
        extra = " (a single number for one distribution)" if not want else ""
        return (
            "sum over the last axis only (axis=-1): one value per "
            f"distribution, shape {want}{extra}"
        )

    mistakes = [Mistake(shape_hint, when=shape)]
    if two:
        mistakes.append(
            Mistake(
                "you swapped p and q: the order matters, p is the true "
                "distribution (the weights)",
                fn=lambda p, q: ref(q, p),
            )
        )
        if ref is xent.kl_divergence:
            mistakes.append(
                Mistake(
                    "that is the cross-entropy H(p, q); the KL divergence "
                    "subtracts H(p): sum p log(p / q)",
                    fn=xent.cross_entropy,
                )
            )
    mistakes += [m.WRONG_SIGN, m.BITS]
    return tuple(mistakes)


ENTROPY = Checker(
    "check_entropy",
    xent.entropy,
    ("p",),
    (
        Case(
            "a fair coin: log 2 = 0.693 nats",
            (P_COIN,),
            "H(p) = -sum_c p_c log p_c, in nats (np.log)",
        ),
        Case("four outcomes", (P_FOUR,)),
        Case("a batch of distributions, shape (3, 4)", (P_BATCH,)),
        Case("a 3-d batch, shape (2, 2, 3)", (P_3D,)),
        Case("a probability of 0", (P_ZERO,), {"nan": m.ZERO_LOG_ZERO}),
        Case(
            "certain outcomes: entropy 0",
            (P_CERTAIN,),
            {"nan": m.ZERO_LOG_ZERO},
        ),
        Case(
            "a nearly certain outcome (p = 1 - 1e-6)",
            (P_SHARP,),
            {"value": _PRECISION_P},
        ),
        Case(
            "a single outcome (K = 1)",
            (P_K1,),
            "a single outcome is certain: entropy 0",
        ),
        Case("float32 input", (P_F32,), m.FLOAT32),
    ),
    mistakes=_info_mistakes(xent.entropy, two=False),
    scalar_hint="the entropy of one distribution is a single number: sum "
    "over the last axis",
)


@_registered(ENTROPY)
def check_entropy(fn) -> CheckReport:
    r"""Check a learner's entropy, in nats, along the last axis.

    The entropy is :math:`-\sum_c p_c \log p_c`.

    Parameters
    ----------
    fn : callable
        ``fn(p)`` with ``p`` distributions along the last axis, shape
        ``(..., K)``; returns shape ``p.shape[:-1]`` (a number for one
        distribution), with :math:`0 \log 0 = 0`.

    Returns
    -------
    CheckReport
        Truthy if every check passed: a fair coin (:math:`\log 2`), four
        outcomes, a 2-d and a 3-d batch, a probability of 0 (``0 * log(0)``
        must count as 0), certain outcomes (entropy 0), a nearly certain one
        (float64 precision), a single outcome, float32 input (float32
        result), the input unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> from xent.check import check_entropy
    >>> def my_entropy(p):
    ...     return -np.sum(p * np.log(p), axis=-1)      # forgets 0 log 0 = 0
    >>> print(check_entropy(my_entropy).summary())
    ✗ check_entropy: 2 of 10 required checks failed
    """
    return ENTROPY(fn)


def _two_distribution_cases(*, kl: bool) -> tuple[Case, ...]:
    cases = [
        Case("p = (0.5, 0.5), q = (0.9, 0.1)", (P_COIN, np.array([0.9, 0.1]))),
        Case(
            "a one-hot p",
            (np.array([0.0, 1.0, 0.0]), np.array([0.2, 0.7, 0.1])),
        ),
        Case(
            "a batch of distributions, shape (3, 4)",
            (P_BATCH, _distributions((3, 4), 11)),
        ),
        Case(
            "a 3-d batch, shape (2, 2, 3)",
            (P_3D, _distributions((2, 2, 3), 12)),
        ),
        Case(
            "p = 0 for an outcome",
            (P_ZERO, np.array([0.25, 0.25, 0.5])),
            {"nan": m.ZERO_LOG_ZERO},
        ),
        Case(
            "p = q = 0 for an outcome",
            (P_ZERO, np.array([0.25, 0.75, 0.0])),
            {"nan": m.ZERO_LOG_ZERO},
        ),
        Case(
            "q = 0 where p > 0: infinite",
            (np.array([0.0, 1.0]), np.array([1.0, 0.0])),
            "an outcome that happens (p > 0) but was given q = 0 costs "
            "-log(0) = inf",
            accept=_accept_large,
            expected_text=_LARGE_OR_INF,
        ),
        Case(
            "nearly certain distributions (p = 1 - 1e-6)",
            (P_SHARP, Q_SHARP),
            {"value": _PRECISION_P},
        ),
        Case("a single outcome (K = 1)", (P_K1, P_K1.copy())),
        Case(
            "float32 input",
            (P_F32, _distributions((3, 4), 13).astype(np.float32)),
            m.FLOAT32,
        ),
    ]
    if kl:
        cases.insert(2, Case("q = p: divergence 0", (P_BATCH, P_BATCH.copy())))
        cases.insert(
            8,
            Case(
                "a tiny (subnormal) q = 1e-310",
                (P_HALF, Q_SUBNORMAL),
                _SUBNORMAL_HINT,
            ),
        )
    return tuple(cases)


CROSS_ENTROPY = Checker(
    "check_cross_entropy",
    xent.cross_entropy,
    ("p", "q"),
    _two_distribution_cases(kl=False),
    mistakes=_info_mistakes(xent.cross_entropy, two=True),
    scalar_hint="the cross-entropy of one pair of distributions is a single "
    "number: sum over the last axis",
)


@_registered(CROSS_ENTROPY)
def check_cross_entropy(fn) -> CheckReport:
    r"""Check a learner's cross-entropy of distributions, in nats.

    The cross-entropy is :math:`-\sum_c p_c \log q_c`.

    Parameters
    ----------
    fn : callable
        ``fn(p, q)`` with ``p`` and ``q`` distributions along the last axis,
        of the same shape ``(..., K)``; returns shape ``p.shape[:-1]`` (a
        number for one pair).

    Returns
    -------
    CheckReport
        Truthy if every check passed: a pair of vectors, a one-hot ``p``
        (the loss :math:`-\log q_t`), a 2-d and a 3-d batch, ``p = 0`` (also
        where ``q = 0``: ``0 * log(0)`` must count as 0), ``q = 0`` where
        ``p > 0`` (``inf``, or a large value if you clip),
        nearly certain distributions (float64 precision), a single outcome,
        float32 input (float32 result), the inputs unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> from xent.check import check_cross_entropy
    >>> def my_cross_entropy(p, q):
    ...     with np.errstate(divide="ignore", invalid="ignore"):
    ...         return -np.sum(np.where(p > 0, p * np.log(q), 0.0), axis=-1)
    >>> check_cross_entropy(my_cross_entropy)
    ✓ check_cross_entropy: all checks passed
    """
    return CROSS_ENTROPY(fn)


KL_DIVERGENCE = Checker(
    "check_kl_divergence",
    xent.kl_divergence,
    ("p", "q"),
    _two_distribution_cases(kl=True),
    mistakes=_info_mistakes(xent.kl_divergence, two=True),
    scalar_hint="the divergence of one pair of distributions is a single "
    "number: sum over the last axis",
)


@_registered(KL_DIVERGENCE)
def check_kl_divergence(fn) -> CheckReport:
    r"""Check a learner's KL divergence, in nats.

    The divergence is :math:`\sum_c p_c \log(p_c / q_c)`.

    Parameters
    ----------
    fn : callable
        ``fn(p, q)`` with ``p`` and ``q`` distributions along the last axis,
        of the same shape ``(..., K)``; returns shape ``p.shape[:-1]`` (a
        number for one pair).

    Returns
    -------
    CheckReport
        Truthy if every check passed: the cases of
        :func:`check_cross_entropy` (with a subnormal ``q``, where the ratio
        ``p / q`` overflows although the answer is 356.2) and ``q = p``
        (divergence 0).

    Examples
    --------
    >>> import numpy as np
    >>> from xent.check import check_kl_divergence
    >>> def my_kl(p, q):
    ...     with np.errstate(divide="ignore", invalid="ignore"):
    ...         logs = np.log(p) - np.log(q)
    ...         return np.sum(np.where(p > 0, p * logs, 0.0), axis=-1)
    >>> check_kl_divergence(my_kl)
    ✓ check_kl_divergence: all checks passed
    """
    return KL_DIVERGENCE(fn)


BCEP_VEC = (np.array([0.9, 0.2, 0.6, 0.3]), np.array([1.0, 0.0, 1.0, 1.0]))
BCEP_BATCH = (
    _rng(14).uniform(0.05, 0.95, (3, 4)).round(2),
    (_rng(15).random((3, 4)) < 0.5).astype(np.float64),
)
BCEP_EDGE = (np.array([1.0, 0.0, 0.8]), np.array([1.0, 0.0, 1.0]))
BCEP_WRONG = (np.array([0.0, 1.0]), np.array([1.0, 0.0]))
BCEP_F32 = (BCEP_BATCH[0].astype(np.float32), BCEP_BATCH[1].astype(np.float32))
# Nearly sure and right: losses of 1e-6 and 2e-6 from digits float32 drops.
BCEP_SHARP = (np.array([1 - 1e-6, 2e-6]), np.array([1.0, 0.0]))
BCEP_SOFT = (np.array([0.4, 0.6, 0.1]), np.array([0.3, 0.8, 0.5]))

BINARY_CROSS_ENTROPY = Checker(
    "check_binary_cross_entropy",
    xent.binary_cross_entropy,
    ("probs", "targets"),
    (
        Case(
            "4 probabilities with labels 0 and 1",
            BCEP_VEC,
            "the loss of one element is -[y log p + (1 - y) log(1 - p)]; "
            "return the mean",
        ),
        Case(
            "a 2-d batch, shape (3, 4): the mean over all elements",
            BCEP_BATCH,
            "return the mean over all elements (np.mean without an axis)",
        ),
        Case(
            "p exactly 1 for y = 1 and 0 for y = 0",
            BCEP_EDGE,
            "a term whose weight is 0 counts as 0 even where its log is "
            "-inf: 0 * log(0) = nan in floating point; use np.where(y == 1, "
            "np.log(p), 0.0)-style selection, or clip p",
            tol={"rtol": 1e-6, "atol": 1e-6},
        ),
        Case(
            "a confident mistake (p = 0 for y = 1)",
            BCEP_WRONG,
            "the exact loss of p = 0 for y = 1 is -log(0) = inf (PyTorch "
            "clamps each log at -100); NaN means a 0 * log(0) somewhere",
            accept=_accept_large,
            expected_text=_LARGE_OR_INF,
        ),
        Case(
            "nearly sure and right (p = 1 - 1e-6 for y = 1): loss 1.5e-6",
            BCEP_SHARP,
            {"value": _PRECISION_P},
        ),
        Case("float32 input", BCEP_F32),
        Case(
            "soft targets (0.3, 0.8, 0.5)",
            BCEP_SOFT,
            "the formula holds for any target y in [0, 1]: do not branch on "
            "y == 1; use y and 1 - y as weights. (Bonus.)",
            bonus=True,
        ),
    ),
    mistakes=(m.sum_instead_of_mean(), m.WRONG_SIGN, m.BITS),
    scalar_hint="return a single number: the mean over all elements "
    "(np.mean without an axis)",
)


@_registered(BINARY_CROSS_ENTROPY)
def check_binary_cross_entropy(fn) -> CheckReport:
    r"""Check a learner's binary cross-entropy of probabilities.

    The loss is the mean of :math:`-[y \log p + (1-y) \log(1-p)]`.

    Parameters
    ----------
    fn : callable
        ``fn(probs, targets)`` with two float arrays of the same shape,
        probabilities in [0, 1] and targets 0.0 or 1.0; returns the mean
        over all elements, a number.

    Returns
    -------
    CheckReport
        Truthy if every required check passed: a vector, a 2-d batch,
        probabilities of exactly 0 and 1 for the matching label (loss 0:
        ``0 * log(0)`` must count as 0; a loss below ``1e-6``, as from
        clipping p to ``[1e-7, 1 - 1e-7]``, is accepted), a confident
        mistake (``p = 0`` for ``y = 1``: ``inf``, or any value of at least
        15, e.g. PyTorch's 100, which clamps each log at -100), a nearly
        sure right prediction (float64 precision), float32 input, the inputs
        unchanged. Bonus: soft targets.

    Examples
    --------
    >>> import numpy as np
    >>> from xent.check import check_binary_cross_entropy
    >>> def my_bce(p, y):
    ...     # 0 * log(0) = nan
    ...     return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    >>> report = check_binary_cross_entropy(my_bce)
    >>> print(report.summary())
    ✗ check_binary_cross_entropy: 1 of 7 required checks failed
    """
    return BINARY_CROSS_ENTROPY(fn)

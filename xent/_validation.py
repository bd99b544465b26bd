"""Input checks shared by the public functions.

Every public function checks its inputs once, here, and refuses bad input with
a ``TypeError`` or ``ValueError`` whose message names the argument, what was
expected and what came. Nothing below is public API.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Literal

import numpy as np

#: The ``reduction`` option of every loss.
Reduction = Literal["mean", "sum", "none"]
REDUCTIONS: tuple[Reduction, ...] = ("mean", "sum", "none")


def probability_tolerance(dtype) -> float:
    """Tolerance on ``|sum(p) - 1|`` (and on excursions outside ``[0, 1]``) for
    a dtype.

    ``1e-6`` in float64, ``sqrt(eps)`` in lower precisions (about ``3.5e-4`` in
    float32): loose enough for probabilities that were rounded or normalised in
    that precision, tight enough to catch targets that are not distributions at
    all.
    """
    dtype = np.dtype(dtype)
    if dtype == np.float64:
        return 1e-6
    return float(np.sqrt(np.finfo(dtype).eps))


def as_float_array(x, name: str) -> np.ndarray:
    """``x`` as a floating array: float16/32/64 kept, bools and integers
    promoted to float64.
    """
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(
            f"{name}: expected an array of numbers, got {type(x).__name__} "
            f"({exc})"
        ) from None
    if arr.dtype.kind == "f":
        if arr.dtype.itemsize > 8:
            return arr.astype(np.float64)
        return arr
    if arr.dtype.kind in "biu":
        return arr.astype(np.float64)
    raise TypeError(
        f"{name}: expected real numbers, got an array of dtype {arr.dtype}"
    )


def result_dtype(*arrays: np.ndarray) -> np.dtype:
    """The floating dtype of a result: the widest float among the inputs
    (float32 stays float32).
    """
    return np.result_type(*[a.dtype for a in arrays], np.float16)


def as_logits(x, name: str = "logits") -> np.ndarray:
    """Logits with a class axis (at least one dimension and one class)."""
    arr = as_float_array(x, name)
    if arr.ndim == 0:
        raise ValueError(
            f"{name}: expected an array with a class axis (last axis), got a "
            "scalar"
        )
    if arr.shape[-1] == 0:
        raise ValueError(
            f"{name}: expected at least one class on the last axis, got "
            f"shape {arr.shape}"
        )
    return arr


def check_reduction(reduction: object) -> Reduction:
    if reduction not in REDUCTIONS:
        raise ValueError(
            "reduction: expected one of 'mean', 'sum', 'none', got "
            f"{reduction!r}"
        )
    return reduction


def check_choice(value, name: str, choices) -> str:
    if value not in choices:
        expected = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name}: expected one of {expected}, got {value!r}")
    return value


def check_unit_interval(value, name: str) -> float:
    """A scalar in [0, 1] (label smoothing, epsilon)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, numbers.Real
    ):
        raise TypeError(f"{name}: expected a number in [0, 1], got {value!r}")
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}: expected a number in [0, 1], got {value!r}")
    return value


def check_base(base) -> float | None:
    """The base of a logarithm: ``None`` (natural log) or a number > 0 and !=
    1.
    """
    if base is None:
        return None
    if isinstance(base, (bool, np.bool_)) or not isinstance(
        base, numbers.Real
    ):
        raise TypeError(
            f"base: expected None or a number > 0 other than 1, got {base!r}"
        )
    base = float(base)
    if not (base > 0 and base != 1):
        raise ValueError(
            f"base: expected None or a number > 0 other than 1, got {base!r}"
        )
    return base


def check_axis(axis, ndim: int, name: str = "axis") -> int:
    if isinstance(axis, (bool, np.bool_)) or not isinstance(
        axis, (int, np.integer)
    ):
        raise TypeError(f"{name}: expected an integer, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"{name}: {axis} is out of range for an array with {ndim} "
            "dimensions"
        )
    return int(axis) % ndim


def check_probabilities(
    p: np.ndarray, name: str, *, axis: int | None = -1
) -> np.ndarray:
    """Entries in ``[0, 1]`` and, along ``axis`` (unless ``None``), sums of 1,
    within tolerance.
    """
    if p.size == 0:
        return p
    tol = probability_tolerance(p.dtype)
    with np.errstate(invalid="ignore"):
        finite = p[~np.isnan(p)]
        lo, hi = (
            (float(finite.min()), float(finite.max()))
            if finite.size
            else (0.0, 0.0)
        )
    if lo < -tol or hi > 1 + tol:
        bad = lo if lo < -tol else hi
        raise ValueError(
            f"{name}: probabilities must lie in [0, 1], found {bad:g}"
        )
    if axis is not None:
        sums = np.sum(p, axis=axis, dtype=np.float64)
        err = np.abs(sums - 1.0)
        worst = np.nanargmax(err) if np.any(~np.isnan(err)) else None
        if worst is not None and err.flat[worst] > tol:
            raise ValueError(
                f"{name}: each distribution must sum to 1 (tolerance "
                f"{tol:.1e}), "
                f"found a sum of {sums.flat[worst]:.6g}"
            )
    return p


def check_same_shape(
    a: np.ndarray, b: np.ndarray, name_a: str, name_b: str
) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{name_b}: expected shape {a.shape} (the shape of {name_a}), "
            f"got {b.shape}"
        )


def as_class_indices(
    targets,
    logits_shape: tuple,
    *,
    name: str = "targets",
    ignore_index: int | None = None,
):
    """Integer class indices of shape ``logits_shape[:-1]``, each in ``0..K-1``
    or ``ignore_index``.
    """
    t = np.asarray(targets)
    num_classes = logits_shape[-1]
    if t.dtype.kind not in "iu":
        if t.dtype.kind == "b":
            raise TypeError(
                f"{name}: expected integer class indices, got booleans"
            )
        raise TypeError(
            f"{name}: expected integer class indices, got dtype {t.dtype}"
        )
    if t.shape != tuple(logits_shape[:-1]):
        raise ValueError(
            f"{name}: expected shape {tuple(logits_shape[:-1])} (logits "
            "without the class axis), "
            f"got {t.shape}"
        )
    valid = (
        np.ones(t.shape, dtype=bool)
        if ignore_index is None
        else t != ignore_index
    )
    bad = valid & ((t < 0) | (t >= num_classes))
    if np.any(bad):
        value = int(t[bad].flat[0])
        allowed = f"0..{num_classes - 1}"
        if ignore_index is not None:
            allowed += f" or ignore_index={ignore_index}"
        kind = "negative class index" if value < 0 else "class index"
        raise ValueError(
            f"{name}: {kind} {value} out of range for {num_classes} classes "
            f"(expected {allowed})"
        )
    return t.astype(np.intp, copy=False), valid


def check_ignore_index(ignore_index) -> int:
    """``ignore_index``: a Python or NumPy integer (not a bool)."""
    if isinstance(ignore_index, (bool, np.bool_)) or not isinstance(
        ignore_index, (int, np.integer)
    ):
        raise TypeError(
            f"ignore_index: expected an integer, got {ignore_index!r}"
        )
    return int(ignore_index)


def check_class_targets_tensor(
    targets, expected_shape: tuple, source: str
) -> None:
    """Integer class targets of a torch tensor of ``expected_shape``
    (``source`` names where it
    comes from in the message). Duck-typed, so this module needs no torch."""
    if (
        targets.dtype.is_floating_point
        or targets.dtype.is_complex
        or str(targets.dtype) == "torch.bool"
    ):
        raise TypeError(
            "targets: expected integer class indices, got dtype "
            f"{targets.dtype}"
        )
    if tuple(targets.shape) != tuple(expected_shape):
        raise ValueError(
            f"targets: expected shape {tuple(expected_shape)} ({source}), "
            f"got {tuple(targets.shape)}"
        )


def as_weight(
    weight, num_classes: int, name: str = "weight"
) -> np.ndarray | None:
    """Per-class weights: a 1-d array of length ``num_classes``."""
    if weight is None:
        return None
    w = as_float_array(weight, name)
    if w.shape != (num_classes,):
        raise ValueError(
            f"{name}: expected one weight per class, shape ({num_classes},), "
            f"got {w.shape}"
        )
    return w


def reduce(loss64: np.ndarray, reduction: str, dtype, denominator=None):
    """Reduce a float64 loss as ``reduction`` says and round it once to
    ``dtype``.

    ``denominator`` replaces ``loss64.size`` for the weighted means of
    PyTorch's class weights and ``ignore_index``; a mean over nothing is NaN,
    as in PyTorch.
    """
    if reduction == "none":
        return loss64.astype(dtype)
    total = float(np.sum(loss64))
    if reduction == "mean":
        count = loss64.size if denominator is None else float(denominator)
        total = (
            total / count
            if count != 0
            else (np.nan if total == 0 else total * np.inf)
        )
    return np.dtype(dtype).type(total)


def deprecated_alias(
    value: object,
    old_value: object,
    name: str,
    old_name: str,
    function: str,
    default: object,
    stacklevel: int = 3,
) -> object:
    """``value``, or ``old_value`` passed under a deprecated name (with a
    ``DeprecationWarning`` attributed ``stacklevel`` frames up: 3 is the
    caller of the public function that calls this); both at once is a
    ``TypeError``."""
    if old_value is None:
        return default if value is None else value
    if value is not None:
        raise TypeError(
            f"{function}: got both {name}= and its deprecated alias "
            f"{old_name}=; pass {name}= only"
        )
    warnings.warn(
        f"{function}: {old_name}= is deprecated, use {name}= instead",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
    return old_value

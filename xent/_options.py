"""Checks of the scalar options of the Part III losses (beta, cap, scale...).

Like :mod:`xent._validation`: a ``TypeError`` or ``ValueError`` whose
message names the argument, what was expected and what came. Nothing here
is public API.
"""

from __future__ import annotations

import math
import numbers

import numpy as np


def check_bool(value, name: str) -> bool:
    """``True`` or ``False`` (Python or NumPy), nothing else."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {value!r}")
    return bool(value)


def check_real(value, name: str, *, what: str) -> float:
    """A finite real number (not a bool); ``what`` describes it in messages."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, numbers.Real
    ):
        raise TypeError(f"{name}: expected {what}, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name}: expected {what}, got {value!r}")
    return value


def check_positive(value, name: str) -> float:
    """A finite real number > 0."""
    value = check_real(value, name, what="a finite number > 0")
    if not value > 0:
        raise ValueError(
            f"{name}: expected a finite number > 0, got {value!r}"
        )
    return value


def check_non_negative(value, name: str) -> float:
    """A finite real number >= 0."""
    value = check_real(value, name, what="a finite number >= 0")
    if not value >= 0:
        raise ValueError(
            f"{name}: expected a finite number >= 0, got {value!r}"
        )
    return value

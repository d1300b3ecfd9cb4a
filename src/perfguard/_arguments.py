"""The arguments of a call handed to perfguard, checked at the public boundary: a bad
one is an InvalidInputError naming the operation and the value, raised before anything
changes."""

from __future__ import annotations

import decimal
import numbers
from collections.abc import Mapping

from ._errors import InvalidArgumentError, InvalidDurationError


def as_seconds(name: str, duration: object) -> float:
    """A duration given as another real number (int, numpy scalar, Fraction, Decimal)
    as the float perfguard stores; InvalidDurationError for anything else (booleans,
    numpy's included, arrays, strings) and for values no float can hold."""
    # numpy's booleans are not numbers.Real; Python's are, and are refused by name
    if isinstance(duration, bool) or not isinstance(duration, (numbers.Real, decimal.Decimal)):
        raise InvalidDurationError(str(name), duration)
    try:
        return float(duration)
    except (OverflowError, ValueError, TypeError, ArithmeticError):
        raise InvalidDurationError(str(name), duration) from None


def checked_outcome(operation: str | None, success: object, metadata: object) -> bool:
    """`success` as a bool (numpy's bool_ accepted), after checking `metadata` is None or
    a mapping; InvalidArgumentError naming the operation and the value otherwise."""
    if metadata is not None and metadata.__class__ is not dict:
        checked_metadata(operation, metadata)
    if success.__class__ is bool:
        return success is True
    kind = type(success)
    if kind.__module__ == "numpy" and kind.__name__ in ("bool", "bool_"):  # numpy's bool
        return bool(success)
    raise InvalidArgumentError(operation, "success", success, "True or False")


def checked_metadata(operation: object, metadata: object) -> None:
    """InvalidArgumentError when `metadata` is neither None nor a mapping."""
    if metadata is not None and not isinstance(metadata, Mapping):
        name = operation if isinstance(operation, str) else None
        raise InvalidArgumentError(name, "metadata", metadata, "a mapping or None")

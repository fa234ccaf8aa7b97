# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Argument checks shared by the layers, networks and runs: one helper per check, one wording per error."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["check_odd_positive_int", "check_positive_int", "check_positive_ints"]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_positive_int(name: str, value: object, allow_none: bool = False) -> int | None:
    """Return ``value`` if it is a positive int (or ``None`` where allowed); otherwise raise naming ``name``.

    Raises:
        ValueError: ``name must be a positive int[ or None], got <value>.``
    """
    if value is None and allow_none:
        return None
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive int{' or None' if allow_none else ''}, got {value!r}.")
    return value


def check_positive_ints(name: str, values: object, length: int | None = None) -> tuple[int, ...]:
    """Return ``values`` as a tuple if it is a non-empty sequence of positive ints (of ``length``, if given).

    Raises:
        ValueError: naming ``name``, the expected form and the value given.
    """
    expected = f"a sequence of {length if length is not None else 'one or more'} positive ints"
    if (
        isinstance(values, (str, bytes))
        or not isinstance(values, Sequence)
        or not values
        or (length is not None and len(values) != length)
        or not all(_is_int(v) and v > 0 for v in values)
    ):
        raise ValueError(f"{name} must be {expected}, got {values!r}.")
    return tuple(values)


def check_odd_positive_int(name: str, value: object) -> int:
    """Return ``value`` if it is an odd positive int (a kernel size with a centre tap); otherwise raise."""
    if not _is_int(value) or value < 1 or value % 2 == 0:
        raise ValueError(f"{name} must be an odd positive int (a kernel with a centre tap), got {value!r}.")
    return value

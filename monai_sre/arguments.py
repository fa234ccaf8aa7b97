# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Argument checks shared by the layers, networks and runs: one helper per check, one wording per error."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from monai.utils import ensure_tuple_rep

__all__ = [
    "as_flag",
    "as_probability",
    "check_odd_positive_int",
    "check_per_stage",
    "check_positive_int",
    "check_positive_ints",
]


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


def check_per_stage(
    name: str,
    value: object,
    num_stages: int,
    stage: str = "stage",
    valid: Callable[[object], bool] | None = None,
) -> tuple:
    """Return ``value`` as ``num_stages`` values: one value for every stage (repeated) or a sequence of one per stage.

    MONAI's ``ensure_tuple_rep``, checked: a network's per-stage (or per-level) option, such as the widths or
    kernel sizes of a ResNet's stages or the orientation sets of a U-Net's levels. A string counts as one value.

    Args:
        name: the argument's name, for the error message.
        value: one value, or a sequence of ``num_stages`` values.
        num_stages: how many values are wanted.
        stage: what one value is for, for the error message (``"stage"``, ``"level"``).
        valid: a test every value must pass; ``None`` accepts any value.

    Raises:
        ValueError: ``name must be one value or one per <stage> (<num_stages> here), got <value>.``

    Example::

        >>> check_per_stage("kernel_sizes", 3, 4)
        (3, 3, 3, 3)
    """
    try:
        values = ensure_tuple_rep(value, num_stages)
    except ValueError:
        values = None
    if values is None or (valid is not None and not all(valid(v) for v in values)):
        raise ValueError(f"{name} must be one value or one per {stage} ({num_stages} here), got {value!r}.")
    return values


_TRUE = ("true", "yes", "1")
_FALSE = ("false", "no", "0")


def as_flag(value: bool | int | str, name: str = "flag") -> bool:
    """A command-line switch as a bool: ``True``/``False``, 1/0 or the strings ``true``/``false`` (any case).

    ``python -m monai.bundle run --resume true`` passes the string ``"true"`` (only ``True`` and ``False`` become
    bools), and ``"false"`` would count as true in a config expression; every switch of the bundles goes through
    this function.

    Raises:
        ValueError: anything else, naming the switch and the value.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"--{name} must be true or false, got {value!r}.")


def as_probability(value: float | int | str, name: str = "probability") -> float:
    """A command-line probability as a float in [0, 1]: a number, or a string that reads as one (``"0.5"``).

    Raises:
        ValueError: anything else (a bool, a non-number, NaN, a value outside [0, 1]), naming the option and the value.
    """
    number = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not 0.0 <= number <= 1.0:  # NaN fails both comparisons
        raise ValueError(f"--{name} must be a probability in [0, 1], got {value!r}.")
    return number

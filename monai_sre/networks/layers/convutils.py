# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Argument normalisation of the layers and the converter: per-axis values and "same" padding.

- :func:`checked_tuple_rep`: one value for every axis, or one per axis (:func:`monai_sre.arguments.check_per_stage`),
  with an error that says what a valid value is;
- :func:`same_padding`: MONAI's ``same_padding`` for odd kernels, always one int per axis (the layers' one way to
  compute "same" padding).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from monai.networks.layers.convutils import same_padding as _monai_same_padding
from monai.utils import ensure_tuple_rep

from monai_sre.arguments import check_per_stage

__all__ = ["PADDING_MODES", "checked_tuple_rep", "same_padding"]

# the padding modes of ``nn.Conv3d``: each pads every side alike, so a symmetric padding keeps grid symmetries
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def checked_tuple_rep(
    value: Any, dim: int, name: str, expected: str, valid: Callable[[Any], bool] | None = None
) -> tuple:
    """``ensure_tuple_rep(value, dim)``, checked: :func:`~monai_sre.arguments.check_per_stage` with its own message.

    Args:
        value: one value (repeated ``dim`` times) or a sequence of ``dim`` values.
        dim: number of values wanted (spatial dims, stages).
        name: the argument's name, for the error message.
        expected: what the argument must be, for the error message (``"an int >= 1 or 3 such ints"``).
        valid: a test every value must pass; ``None`` accepts any value.

    Raises:
        ValueError: ``"{name} must be {expected}, got {value!r}."`` when ``value`` is a sequence of another
            length or a value fails ``valid``.

    Example::

        >>> checked_tuple_rep(2, 3, "stride", "an int >= 1 or 3 such ints", lambda v: isinstance(v, int) and v >= 1)
        (2, 2, 2)
    """
    try:
        return check_per_stage(name, value, dim, valid=valid)
    except ValueError:
        raise ValueError(f"{name} must be {expected}, got {value!r}.") from None


def same_padding(kernel_size: Sequence[int], dilation: Sequence[int] | int = 1) -> tuple[int, ...]:
    """Padding per side that keeps the size of every axis at stride 1: ``dilation * (kernel_size - 1) // 2``.

    MONAI's ``same_padding``, returned as one int per axis (also for a single axis). Kernels must be odd, or
    the dilation even, along every axis (MONAI raises ``NotImplementedError`` otherwise).
    """
    return ensure_tuple_rep(_monai_same_padding(tuple(kernel_size), dilation), len(kernel_size))

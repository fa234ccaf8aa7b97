# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Mixed precision for layers that build their kernel before convolving (SRE and group convolutions).

``torch.autocast`` casts the inputs of the operators on its lists (``F.conv3d``, ``matmul``, ...) and leaves the
others alone. ``torch.convolution``, which the expanding layers call (one entry point for every dimension,
transposed or not), is not on the lists: under autocast the kernel expanded with ``@`` arrives in the lower
precision while the input may still be float32, and the convolution fails with ``expected scalar type Float but
found BFloat16``. :func:`convolution` casts input, kernel and bias to the autocast dtype where autocast is on for
the input's device (as autocast does for ``F.conv3d``) and is ``torch.convolution`` otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["autocast_dtype", "cast_to_autocast", "convolution"]


def autocast_dtype(device_type: str) -> torch.dtype | None:
    """The dtype autocast computes convolutions in on ``device_type`` (``"cpu"``, ``"cuda"``), or ``None`` when off."""
    if not torch.is_autocast_enabled(device_type):
        return None
    return torch.get_autocast_dtype(device_type)


def cast_to_autocast(device_type: str, *tensors: torch.Tensor | None) -> tuple[torch.Tensor | None, ...]:
    """``tensors`` in the autocast dtype of ``device_type`` (``None`` entries kept), or unchanged when autocast is off.

    Floating-point tensors only are cast, as autocast does.
    """
    dtype = autocast_dtype(device_type)
    if dtype is None:
        return tensors
    return tuple(t.to(dtype) if t is not None and t.is_floating_point() else t for t in tensors)


def convolution(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
    transposed: bool,
    output_padding: Sequence[int],
    groups: int,
) -> torch.Tensor:
    """``torch.convolution`` with autocast's casting of ``F.conv3d`` (input, kernel and bias in one dtype)."""
    x, weight, bias = cast_to_autocast(x.device.type, x, weight, bias)
    return torch.convolution(x, weight, bias, stride, padding, dilation, transposed, output_padding, groups)

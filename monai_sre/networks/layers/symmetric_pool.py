# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Downsampling by two that commutes with every grid symmetry, at every input size.

Pooling with window 2 and stride 2 samples a symmetric set of windows only on even sizes: on an odd size
the last voxel is dropped, so reversing the axis changes which voxels are pooled, and a network built on it
loses exact invariance (the SRE-Conv authors' 3D network at 28^3 input is off by ~0.4 logits under 90-degree
rotations). Here the window is chosen per axis from the size at hand:

- even size: window 2, stride 2 (the windows tile the axis);
- odd size, ``rounding="ceil"``: window 3, stride 2, padding 1 (windows centred on voxels 0, 2, ..., n - 1);
- odd size, ``rounding="floor"``: window 3, stride 2, no padding (windows centred on voxels 1, 3, ..., n - 2).

Either way the set of window centres is mapped onto itself by reversing the axis, so the output commutes
with axis flips and, on cubic inputs, with axis permutations. Output sizes: ``ceil(n / 2)`` (like a
"same"-padded stride-2 convolution) or ``floor(n / 2)`` (like ``MaxPool(2)``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from monai.utils import look_up_option
from torch import nn

from monai_sre.networks.layers.group_features import GroupFeatureType, check_group_features

__all__ = ["SymmetricPool"]


class SymmetricPool(nn.Module):
    """Average or max pooling by two, exactly symmetric under axis flips and permutations at any size.

    Args:
        spatial_dims: number of spatial dimensions, 1, 2 or 3.
        mode: ``"avg"`` (padding excluded from the average) or ``"max"``.
        rounding: ``"ceil"`` gives ``ceil(n / 2)`` voxels per axis, ``"floor"`` gives ``floor(n / 2)``.

    Example::

        >>> SymmetricPool(3)(torch.randn(1, 4, 28, 27, 1)).shape
        torch.Size([1, 4, 14, 14, 1])
    """

    __constants__ = ["spatial_dims", "mode", "ceil"]

    def __init__(self, spatial_dims: int, mode: str = "avg", rounding: str = "ceil") -> None:
        super().__init__()
        if spatial_dims not in (1, 2, 3):
            raise ValueError(f"spatial_dims must be 1, 2 or 3, got {spatial_dims}.")
        self.spatial_dims = spatial_dims
        self.mode = look_up_option(mode, ("avg", "max"))
        self.ceil = look_up_option(rounding, ("ceil", "floor")) == "ceil"
        # pooling is per channel: any features, group features too, keep their type
        self.in_type = self.out_type = GroupFeatureType(spatial_dims=spatial_dims)
        self._expected_input = self.in_type.expected_by(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_group_features(x, self._expected_input, 0, 1, self.spatial_dims)
        sizes = x.shape[2:]
        kernel = [2 if n % 2 == 0 else 3 for n in sizes]
        # a size-1 axis stays as it is (window 1); an odd axis in floor mode loses its two border voxels
        kernel = [1 if n == 1 else k for n, k in zip(sizes, kernel)]
        stride = [1 if n == 1 else 2 for n in sizes]
        padding = [1 if (n % 2 == 1 and n > 1 and self.ceil) else 0 for n in sizes]
        if self.mode == "max":
            if self.spatial_dims == 1:
                return F.max_pool1d(x, kernel, stride, padding)
            if self.spatial_dims == 2:
                return F.max_pool2d(x, kernel, stride, padding)
            return F.max_pool3d(x, kernel, stride, padding)
        if self.spatial_dims == 1:
            return F.avg_pool1d(x, kernel, stride, padding, count_include_pad=False)
        if self.spatial_dims == 2:
            return F.avg_pool2d(x, kernel, stride, padding, count_include_pad=False)
        return F.avg_pool3d(x, kernel, stride, padding, count_include_pad=False)

    def extra_repr(self) -> str:
        return f"spatial_dims={self.spatial_dims}, mode='{self.mode}', rounding='{'ceil' if self.ceil else 'floor'}'"

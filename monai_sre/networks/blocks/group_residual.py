# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Residual block of group convolutions: equivariant to a group of grid symmetries, orientation kept."""

from __future__ import annotations

import torch
from monai.networks.layers.utils import get_act_layer
from torch import nn

from monai_sre.networks.layers.group_conv import GroupConv
from monai_sre.networks.layers.group_norm import GroupBatchNorm
from monai_sre.networks.layers.symmetric_pool import SymmetricPool

__all__ = ["GroupBasicBlock"]


class GroupBasicBlock(nn.Module):
    """Two group convolutions with a residual connection (the ResNet-18 block) on features over ``space``.

    Every piece commutes with the group: group convolutions, batch norm shared over orientations, pointwise
    activations, :class:`SymmetricPool` for downsampling (never a stride) and a 1x1 group convolution on the
    shortcut when the width changes.

    Args:
        spatial_dims: 2 or 3.
        in_planes: input channels per orientation.
        planes: output channels per orientation.
        group: ``"O"``, ``"Oh"`` (3D), ``"C4"``, ``"D4"`` (2D).
        space: orientation set of the features (``"regular"``, ``"axes"``, ``"diagonals"``, ``"trivial"``).
        kernel_size: odd kernel size.
        downsample: halve every spatial size first with :class:`SymmetricPool` (average).
        act: activation, a name or ``(name, kwargs)``.

    Example::

        >>> block = GroupBasicBlock(3, 2, 4, group="O", space="axes", downsample=True)
        >>> block(torch.randn(1, 2 * 3, 8, 8, 8)).shape
        torch.Size([1, 12, 4, 4, 4])
    """

    def __init__(
        self,
        spatial_dims: int,
        in_planes: int,
        planes: int,
        group: str = "O",
        space: str = "regular",
        kernel_size: int = 3,
        downsample: bool = False,
        act: str | tuple = ("relu", {"inplace": True}),
    ) -> None:
        super().__init__()
        conv = dict(group=group, in_space=space, out_space=space, bias=False)
        self.pool = SymmetricPool(spatial_dims, "avg") if downsample else nn.Identity()
        self.conv1 = GroupConv(spatial_dims, in_planes, planes, kernel_size, **conv)
        points = self.conv1.out_points
        self.norm1 = GroupBatchNorm(planes, points)
        self.act1 = get_act_layer(act)
        self.conv2 = GroupConv(spatial_dims, planes, planes, kernel_size, **conv)
        self.norm2 = GroupBatchNorm(planes, points)
        self.shortcut: nn.Module = nn.Identity()
        if in_planes != planes:
            self.shortcut = nn.Sequential(
                GroupConv(spatial_dims, in_planes, planes, 1, **conv), GroupBatchNorm(planes, points)
            )
        self.act = get_act_layer(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(x)
        residual = self.norm2(self.conv2(self.act1(self.norm1(self.conv1(x)))))
        return self.act(residual + self.shortcut(x))

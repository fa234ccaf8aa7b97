# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Residual block of group convolutions: equivariant to a group of grid symmetries, orientation kept."""

from __future__ import annotations

import torch
from monai.networks.layers.utils import get_act_layer
from torch import nn

from monai_sre.networks.layers.group_conv import GroupConv
from monai_sre.networks.layers.group_features import check_compatible
from monai_sre.networks.layers.group_norm import group_feature_norm
from monai_sre.networks.layers.symmetric_pool import SymmetricPool

__all__ = ["GroupBasicBlock"]


class GroupBasicBlock(nn.Module):
    """Two group convolutions with a residual connection (the ResNet-18 block) on features over ``space``.

    Every piece commutes with the group: group convolutions, normalisation shared over orientations, pointwise
    activations, :class:`SymmetricPool` for downsampling (never a stride) and a 1x1 group convolution on the
    shortcut when the width changes. ``in_type`` and ``out_type``
    (:class:`~monai_sre.networks.layers.GroupFeatureType`) describe the features read and written, as a group
    layer's; the wiring inside is checked at construction (:func:`~monai_sre.networks.layers.check_compatible`).

    Args:
        spatial_dims: 2 or 3.
        in_planes: input channels per orientation.
        planes: output channels per orientation.
        group: ``"O"``, ``"Oh"`` (3D), ``"C4"``, ``"D4"`` (2D).
        space: orientation set of the features (``"regular"``, ``"axes"``, ``"diagonals"``, ``"trivial"``).
        kernel_size: odd kernel size.
        downsample: halve every spatial size first with :class:`SymmetricPool` (average).
        act: activation, a name or ``(name, kwargs)``.
        norm: normalisation with statistics and affine parameters shared over orientations, named as for MONAI's
            ``get_norm_layer``: ``"batch"`` (default, :class:`~monai_sre.networks.layers.GroupBatchNorm`),
            ``"instance"`` or ``("group", {"num_groups": g})``; see
            :func:`~monai_sre.networks.layers.group_feature_norm`.

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
        norm: str | tuple = "batch",
    ) -> None:
        super().__init__()
        conv = dict(group=group, in_space=space, out_space=space, bias=False)
        self.pool = SymmetricPool(spatial_dims, "avg") if downsample else nn.Identity()
        self.conv1 = GroupConv(spatial_dims, in_planes, planes, kernel_size, **conv)
        orientations = self.conv1.out_orientations
        self.norm1 = group_feature_norm(norm, planes, orientations)
        self.act1 = get_act_layer(act)
        self.conv2 = GroupConv(spatial_dims, planes, planes, kernel_size, **conv)
        self.norm2 = group_feature_norm(norm, planes, orientations)
        self.shortcut: nn.Module = nn.Identity()
        if in_planes != planes:
            self.shortcut = nn.Sequential(
                GroupConv(spatial_dims, in_planes, planes, 1, **conv), group_feature_norm(norm, planes, orientations)
            )
        self.act = get_act_layer(act)
        self.in_type = self.conv1.in_type
        check_compatible(check_compatible(self.conv1, self.norm1), self.conv2)
        self.out_type = check_compatible(self.conv2, self.norm2)
        shortcut_type = check_compatible(*self.shortcut) if in_planes != planes else self.in_type
        check_compatible(shortcut_type, self.out_type)  # the two branches add up

    def residual_norm(self) -> nn.Module:
        """The residual branch's last normalisation (``zero_init_residual`` zeroes its scale)."""
        return self.norm2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(x)
        residual = self.norm2(self.conv2(self.act1(self.norm1(self.conv1(x)))))
        return self.act(residual + self.shortcut(x))

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Group-equivariant ResNets: orientation-keeping features, exactly invariant logits on the voxel grid.

The stem lifts the image onto an orientation set (:class:`~monai_sre.networks.layers.GroupConv` from
``"trivial"``), residual stages of group convolutions keep orientation, and the head pools over orientations
(:class:`~monai_sre.networks.layers.GroupPool`) and over space before the classifier. Downsampling is
:class:`~monai_sre.networks.layers.SymmetricPool`, so in eval mode the logits are exactly invariant (to float
round-off) to every element of the group at every cubic input size, odd or even.

Cost: a group convolution with ``C`` channels per orientation costs a plain convolution with ``C * |X|``
channels. With ``space="regular"`` that is ``|G|`` (24 for O) times wider; the quotient spaces ``"axes"`` (3) and
``"diagonals"`` (4) are cheaper but measured less accurate on the tissue task (README).
``scripts/benchmark_networks.py --set light`` measures the costs.

:attr:`GroupResNet.symmetry_group` names the group the logits are exactly invariant to (``"O"``: the 24
rotations of the grid; mirror images need ``group="Oh"``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.layers.utils import get_act_layer
from monai.utils import ensure_tuple_rep
from torch import nn

from monai_sre.networks.blocks.group_residual import GroupBasicBlock
from monai_sre.networks.layers.group_conv import GroupConv
from monai_sre.networks.layers.group_norm import GroupBatchNorm
from monai_sre.networks.layers.group_pool import GroupPool
from monai_sre.networks.layers.symmetric_pool import SymmetricPool
from monai_sre.networks.nets.registry import register_model

__all__ = ["GroupResNet", "group_resnet18", "group_resnet_light"]

GLOBAL_AVERAGE_POOL = {2: nn.AdaptiveAvgPool2d, 3: nn.AdaptiveAvgPool3d}


class GroupResNet(nn.Module):
    """ResNet of group convolutions over a group of grid symmetries, invariant logits.

    Args:
        layers: basic blocks per stage; the number of stages is ``len(layers)``.
        block_inplanes: channels per orientation, per stage.
        spatial_dims: 2 or 3.
        n_input_channels: input channels (plain images).
        num_classes: output logits.
        widen_factor: multiplies every channel count.
        group: ``"O"`` (the 24 rotations of the cube, default) or ``"Oh"`` (all 48 grid symmetries, mirror
            images included, at twice the width) in 3D; ``"C4"``, ``"D4"`` in 2D.
        space: orientation set of the hidden features: ``"regular"`` (default: one copy per group element, the
            most expressive, ``|G|`` times wider), ``"axes"`` (the 3 coordinate axes, kernels symmetric about
            their axis) or ``"diagonals"`` (the 4 body diagonals): cheap quotients.
        kernel_size: odd kernel size of every group convolution (stem included).
        stem_pool: halve the resolution after the stem with a symmetric max pool.
        orientation_pool: ``"mean"`` or ``"max"`` over orientations before the spatial average.
        feed_forward: if ``False``, return the pooled invariant features instead of logits.
        act: activation, a name or ``(name, kwargs)``.

    Example::

        >>> net = GroupResNet([1, 1], [4, 8], num_classes=3)
        >>> net(torch.randn(2, 1, 15, 15, 15)).shape
        torch.Size([2, 3])
    """

    def __init__(
        self,
        layers: Sequence[int],
        block_inplanes: Sequence[int],
        spatial_dims: int = 3,
        n_input_channels: int = 1,
        num_classes: int = 2,
        widen_factor: float = 1.0,
        group: str = "O",
        space: str = "regular",
        kernel_size: int = 3,
        stem_pool: bool = True,
        orientation_pool: str = "mean",
        feed_forward: bool = True,
        act: str | tuple = ("relu", {"inplace": True}),
    ) -> None:
        super().__init__()
        if not layers or any(not isinstance(n, int) or n < 1 for n in layers):
            raise ValueError(f"layers must be a non-empty sequence of positive ints, got {layers!r}.")
        planes = [max(1, int(p * widen_factor)) for p in ensure_tuple_rep(block_inplanes, len(layers))]
        for name, value in (("n_input_channels", n_input_channels), ("num_classes", num_classes)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}.")
        lift = GroupConv(spatial_dims, n_input_channels, planes[0], kernel_size, group, "trivial", space, bias=False)
        points = lift.out_points
        self.stem = nn.Sequential(
            lift,
            GroupBatchNorm(planes[0], points),
            get_act_layer(act),
            SymmetricPool(spatial_dims, "max") if stem_pool else nn.Identity(),
        )
        self.symmetry_group = group
        stages, in_planes = [], planes[0]
        for index, (count, width) in enumerate(zip(layers, planes)):
            blocks = []
            for position in range(count):
                downsample = index > 0 and position == 0
                blocks.append(
                    GroupBasicBlock(spatial_dims, in_planes, width, group, space, kernel_size, downsample, act)
                )
                in_planes = width
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.num_features = in_planes
        self.orientation_pool = GroupPool(points, orientation_pool)
        self.pool = GLOBAL_AVERAGE_POOL[spatial_dims](1)
        self.fc = nn.Linear(in_planes, num_classes) if feed_forward else nn.Identity()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features ``(batch, num_features)``: invariant to the group."""
        return self.pool(self.orientation_pool(self.stages(self.stem(x)))).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.forward_features(x))


@register_model
def group_resnet_light(**kwargs) -> GroupResNet:
    """Light group ResNet at the default bundle's scale: ``[1, 1, 1, 1]`` basic blocks over the 24 rotations of
    the cube (O, regular), 1-8 channels per rotation (24-192 in all), 84 k parameters (kwargs override)."""
    kwargs.setdefault("block_inplanes", [1, 2, 4, 8])
    return GroupResNet([1, 1, 1, 1], **kwargs)


@register_model
def group_resnet18(**kwargs) -> GroupResNet:
    """Group ResNet-18 layout: ``[2, 2, 2, 2]`` basic blocks over O (regular), 4-32 channels per rotation
    (96-768 in all)."""
    kwargs.setdefault("block_inplanes", [4, 8, 16, 32])
    return GroupResNet([2, 2, 2, 2], **kwargs)

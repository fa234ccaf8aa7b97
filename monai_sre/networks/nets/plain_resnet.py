# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""The plain baseline at the light networks' widths, in the model registry: MONAI's own ResNet, no equivariance."""

from __future__ import annotations

import torch
from monai.networks.nets import ResNet

from monai_sre.networks.nets.registry import register_model

__all__ = ["PlainResNet", "plain_resnet_light"]


class PlainResNet(ResNet):
    """MONAI's ``ResNet`` (same arguments, modules and state dict) that also takes an empty batch.

    MONAI's forward flattens the pooled features with ``x.view(batch, -1)``, which cannot size an empty batch; this
    forward is MONAI's with ``x.flatten(1)`` there, so an empty batch gives an empty ``(0, num_classes)`` output.
    """

    symmetry_group = None  # exactly invariant to no grid symmetry (the registry's networks name theirs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.bn1(self.conv1(x)))
        if not self.no_max_pool:
            x = self.maxpool(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.avgpool(x).flatten(1)
        if self.fc is not None:
            x = self.fc(x)
        return x


@register_model
def plain_resnet_light(n_input_channels: int = 1, num_classes: int = 2, spatial_dims: int = 3, **kwargs) -> PlainResNet:
    """MONAI ``ResNet`` with ``sre_resnet_light``'s layout: ``[1, 1, 1, 1]`` basic blocks, 16-128 channels, a
    3-tap stride-1 stem (898 k parameters in 3D with one input channel and 4 classes; kwargs override). The
    baseline that the equivariant networks are measured against, usually trained with rotation augmentation."""
    options = dict(block="basic", layers=[1, 1, 1, 1], block_inplanes=[16, 32, 64, 128], conv1_t_size=3,
                   conv1_t_stride=1)  # fmt: skip
    options.update(kwargs)
    return PlainResNet(spatial_dims=spatial_dims, n_input_channels=n_input_channels, num_classes=num_classes, **options)

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""The plain segmentation baseline at the light U-Nets' widths, in the model registry: MONAI's BasicUNet."""

from __future__ import annotations

from monai.networks.nets import BasicUNet

from monai_sre.networks.nets.equivariant_unet import LIGHT_FEATURES
from monai_sre.networks.nets.registry import register_model

__all__ = ["plain_unet_light"]


@register_model(task="segmentation")
def plain_unet_light(in_channels: int = 1, out_channels: int = 2, spatial_dims: int = 3, **kwargs) -> BasicUNet:
    """MONAI ``BasicUNet`` with ``sre_unet_light``'s widths (8-16-32-64-128, 8 on the last decoder level), ReLU
    and batch norm as the equivariant U-Nets, and BasicUNet's 2x2x2 stride-2 transposed convolutions (kwargs
    override). The baseline the equivariant U-Nets are measured against, usually trained with rotation
    augmentation. Spatial sizes should be multiples of 16 (BasicUNet pads others at its upsamplings)."""
    options = dict(features=LIGHT_FEATURES, act=("relu", {"inplace": True}), norm="batch")
    options.update(kwargs)
    network = BasicUNet(spatial_dims=spatial_dims, in_channels=in_channels, out_channels=out_channels, **options)
    network.symmetry_group = None  # equivariant to no grid symmetry (the registry's networks name theirs)
    return network

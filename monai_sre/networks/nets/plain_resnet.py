# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""The plain baseline at the light networks' widths, in the model registry: MONAI's own ResNet, no equivariance."""

from __future__ import annotations

from monai.networks.nets import ResNet

from monai_sre.networks.nets.registry import register_model

__all__ = ["plain_resnet_light"]


@register_model
def plain_resnet_light(n_input_channels: int = 1, num_classes: int = 2, spatial_dims: int = 3, **kwargs) -> ResNet:
    """MONAI ``ResNet`` with ``sre_resnet_light``'s layout: ``[1, 1, 1, 1]`` basic blocks, 16-128 channels, a
    3-tap stride-1 stem (898 k parameters in 3D with one input channel and 4 classes; kwargs override). The
    baseline that the equivariant networks are measured against, usually trained with rotation augmentation."""
    options = dict(block="basic", layers=[1, 1, 1, 1], block_inplanes=[16, 32, 64, 128], conv1_t_size=3,
                   conv1_t_stride=1)  # fmt: skip
    options.update(kwargs)
    network = ResNet(spatial_dims=spatial_dims, n_input_channels=n_input_channels, num_classes=num_classes, **options)
    network.symmetry_group = None  # exactly invariant to no grid symmetry (the registry's networks name theirs)
    return network

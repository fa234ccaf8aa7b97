# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Registration of the SRE layers in MONAI's layer factories.

After ``import monai_sre``, ``monai.networks.layers.Conv["sre", 3]`` is :class:`SREConv3d` and
``Conv["sretrans", 3]`` is :class:`SREConvTranspose3d`, called like ``nn.Conv3d`` / ``nn.ConvTranspose3d``.
MONAI networks hardcode ``Conv[Conv.CONV, dim]``, so this makes SRE layers available to code that looks layers
up by name; converting an existing network is the converter's job.
"""

from __future__ import annotations

from monai.networks.layers.factories import Conv

from monai_sre.networks.layers.sre_conv import (
    SREConv1d,
    SREConv2d,
    SREConv3d,
    SREConvTranspose1d,
    SREConvTranspose2d,
    SREConvTranspose3d,
)

__all__ = ["register_layer_factories", "sre_conv_factory", "sre_conv_transpose_factory"]


def sre_conv_factory(dim: int) -> type:
    """SRE convolution in 1, 2 or 3 dims: ``SREConv[dim]d``."""
    return (SREConv1d, SREConv2d, SREConv3d)[dim - 1]


def sre_conv_transpose_factory(dim: int) -> type:
    """Transposed SRE convolution in 1, 2 or 3 dims: ``SREConvTranspose[dim]d``."""
    return (SREConvTranspose1d, SREConvTranspose2d, SREConvTranspose3d)[dim - 1]


def register_layer_factories() -> None:
    """Add ``"sre"`` and ``"sretrans"`` to MONAI's ``Conv`` factory; calling it again changes nothing."""
    for name, factory in (("sre", sre_conv_factory), ("sretrans", sre_conv_transpose_factory)):
        if name.upper() not in Conv.components:
            Conv.add_factory_callable(name, factory)

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Registration of the SRE layers in MONAI's layer factories.

After ``import monai_sre``, ``monai.networks.layers.Conv["sre", 3]`` is :class:`SREConv3d` and
``Conv["sretrans", 3]`` is :class:`SREConvTranspose3d`, called like ``nn.Conv3d`` / ``nn.ConvTranspose3d``.
MONAI networks hardcode ``Conv[Conv.CONV, dim]``, so this makes SRE layers available to code that looks layers
up by name; converting an existing network is the converter's job.

``Conv["group", 3]`` / ``Conv["group", 2]`` is :class:`GroupConv` in that dimension over the rotations of the grid
(``"O"``, ``"C4"``), called as ``Conv["group", 3](in_channels, out_channels, kernel_size, ...)`` with channels
counted per orientation (``in_space="trivial"`` for the lifting layer; any other ``GroupConv`` argument by name).
"""

from __future__ import annotations

from functools import partial

from monai.networks.layers.factories import Conv

from monai_sre.networks.layers.group_conv import GroupConv
from monai_sre.networks.layers.sre_conv import (
    SREConv1d,
    SREConv2d,
    SREConv3d,
    SREConvTranspose1d,
    SREConvTranspose2d,
    SREConvTranspose3d,
)

__all__ = ["group_conv_factory", "register_layer_factories", "sre_conv_factory", "sre_conv_transpose_factory"]


def _by_dim(dim: int, layers: tuple[type, ...]) -> type:
    """``layers[dim - 1]``, for a ``dim`` of 1 to ``len(layers)``."""
    if dim not in range(1, len(layers) + 1):
        raise ValueError(f"{layers[0].__name__[:-2]} layers act on 1 to {len(layers)} spatial dims, got {dim}.")
    return layers[dim - 1]


def sre_conv_factory(dim: int) -> type:
    """SRE convolution in 1, 2 or 3 dims: ``SREConv[dim]d``.

    Raises:
        ValueError: ``dim`` is not 1, 2 or 3.
    """
    return _by_dim(dim, (SREConv1d, SREConv2d, SREConv3d))


def sre_conv_transpose_factory(dim: int) -> type:
    """Transposed SRE convolution in 1, 2 or 3 dims: ``SREConvTranspose[dim]d``.

    Raises:
        ValueError: ``dim`` is not 1, 2 or 3.
    """
    return _by_dim(dim, (SREConvTranspose1d, SREConvTranspose2d, SREConvTranspose3d))


def group_conv_factory(dim: int) -> partial:
    """Group convolution in 2 or 3 dims over the grid's rotations (C4, O): ``GroupConv`` with ``spatial_dims=dim``.

    Raises:
        ValueError: ``dim`` is not 2 or 3.
    """
    if dim not in (2, 3):
        raise ValueError(f"group convolutions act on 2 or 3 spatial dims, got {dim}.")
    return partial(GroupConv, dim, group={2: "C4", 3: "O"}[dim])


def register_layer_factories() -> None:
    """Add ``"sre"``, ``"sretrans"`` and ``"group"`` to MONAI's ``Conv`` factory; calling it again changes nothing."""
    factories = (("sre", sre_conv_factory), ("sretrans", sre_conv_transpose_factory), ("group", group_conv_factory))
    for name, factory in factories:
        if name.upper() not in Conv.components:
            Conv.add_factory_callable(name, factory)

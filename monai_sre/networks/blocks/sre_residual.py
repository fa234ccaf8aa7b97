# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Residual blocks built from SRE convolutions, with symmetric downsampling instead of strided convolutions."""

from __future__ import annotations

import torch
from monai.networks.layers.factories import Conv
from monai.networks.layers.utils import get_act_layer, get_norm_layer
from torch import nn

from monai_sre.networks.layers.sre_conv import SREConv
from monai_sre.networks.layers.symmetric_pool import SymmetricPool

__all__ = ["SREBasicBlock", "SREBottleneckBlock"]


class _SREResidualBase(nn.Module):
    """Arguments, downsampling, shortcut and output activation shared by the basic and bottleneck blocks.

    Subclasses build the residual branch in ``_build_residual`` and compute it in ``residual(x)``; the block
    returns ``act(residual(x) + shortcut(x))`` after the optional downsampling. Arguments as
    :class:`SREBasicBlock`'s; the output has ``planes * expansion`` channels.
    """

    expansion = 1

    def __init__(
        self,
        spatial_dims: int,
        in_planes: int,
        planes: int,
        kernel_size: int = 3,
        num_bands: int | None = None,
        downsample: bool = False,
        band_layout: str = "linear",
        act: str | tuple = ("relu", {"inplace": True}),
        norm: str | tuple = "batch",
        path: str = "auto",
    ) -> None:
        super().__init__()
        out_planes = planes * self.expansion
        # pool first, then stride-1 convolutions on both paths: the block stays equivariant
        self.pool = SymmetricPool(spatial_dims, "avg") if downsample else nn.Identity()
        if in_planes != out_planes:
            self.shortcut: nn.Module = nn.Sequential(
                Conv[Conv.CONV, spatial_dims](in_planes, out_planes, kernel_size=1, bias=False),
                get_norm_layer(norm, spatial_dims, out_planes),
            )
        else:
            self.shortcut = nn.Identity()
        self.act = get_act_layer(act)
        sre = dict(kernel_size=kernel_size, num_bands=num_bands, band_layout=band_layout, bias=False, path=path)
        self._build_residual(spatial_dims, in_planes, planes, sre, act, norm)

    def _build_residual(
        self, spatial_dims: int, in_planes: int, planes: int, sre: dict, act: str | tuple, norm: str | tuple
    ) -> None:
        """Build the residual branch's layers (abstract: each block type defines its own)."""
        raise NotImplementedError(f"{type(self).__name__} must define _build_residual (the residual branch's layers).")

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """The residual branch added to the shortcut (abstract: each block type defines its own)."""
        raise NotImplementedError(f"{type(self).__name__} must define residual(x) (the residual branch).")

    def residual_norm(self) -> nn.Module:
        """The residual branch's last normalisation (abstract: each block type defines its own)."""
        raise NotImplementedError(f"{type(self).__name__} must define residual_norm() (the branch's last norm).")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(x)
        return self.act(self.residual(x) + self.shortcut(x))


class SREBasicBlock(_SREResidualBase):
    """Two SRE convolutions with a residual connection (the ResNet-18/34 block).

    Args:
        spatial_dims: number of spatial dimensions.
        in_planes: input channels.
        planes: output channels.
        kernel_size: odd SRE kernel size.
        num_bands: SRE bands per kernel; ``None`` for the layout's default.
        downsample: halve every spatial size first with :class:`SymmetricPool` (average).
        band_layout: SRE band layout.
        act: activation, a name or ``(name, kwargs)``.
        norm: normalisation, a name or ``(name, kwargs)``.
        path: how the SRE convolutions compute (``"auto"``, ``"dense"``, ``"bands"``; see :class:`SREConv`).
    """

    expansion = 1

    def _build_residual(
        self, spatial_dims: int, in_planes: int, planes: int, sre: dict, act: str | tuple, norm: str | tuple
    ) -> None:
        self.conv1 = SREConv(spatial_dims, in_planes, planes, **sre)
        self.norm1 = get_norm_layer(norm, spatial_dims, planes)
        self.act1 = get_act_layer(act)
        self.conv2 = SREConv(spatial_dims, planes, planes, **sre)
        self.norm2 = get_norm_layer(norm, spatial_dims, planes)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm2(self.conv2(self.act1(self.norm1(self.conv1(x)))))

    def residual_norm(self) -> nn.Module:
        """The residual branch's last normalisation (``zero_init_residual`` zeroes its scale)."""
        return self.norm2


class SREBottleneckBlock(_SREResidualBase):
    """1x1x1 reduction, SRE convolution, 1x1x1 expansion by 4, with a residual connection (ResNet-50 block).

    The 1x1x1 convolutions are plain: a single tap is already radially symmetric. Arguments as
    :class:`SREBasicBlock`; the output has ``4 * planes`` channels.
    """

    expansion = 4

    def _build_residual(
        self, spatial_dims: int, in_planes: int, planes: int, sre: dict, act: str | tuple, norm: str | tuple
    ) -> None:
        conv1x1 = Conv[Conv.CONV, spatial_dims]
        self.conv1 = conv1x1(in_planes, planes, kernel_size=1, bias=False)
        self.norm1 = get_norm_layer(norm, spatial_dims, planes)
        self.act1 = get_act_layer(act)
        self.conv2 = SREConv(spatial_dims, planes, planes, **sre)
        self.norm2 = get_norm_layer(norm, spatial_dims, planes)
        self.act2 = get_act_layer(act)
        self.conv3 = conv1x1(planes, planes * self.expansion, kernel_size=1, bias=False)
        self.norm3 = get_norm_layer(norm, spatial_dims, planes * self.expansion)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act1(self.norm1(self.conv1(x)))
        x = self.act2(self.norm2(self.conv2(x)))
        return self.norm3(self.conv3(x))

    def residual_norm(self) -> nn.Module:
        """The residual branch's last normalisation (``zero_init_residual`` zeroes its scale)."""
        return self.norm3

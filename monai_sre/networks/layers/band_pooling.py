# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""The band path of an SRE convolution: band pooling by shift-and-add, then a 1x1 channel mixing.

An SRE kernel is a sum over bands of (band weight x band mask), so the convolution equals: for every band,
sum the input over the band's tap offsets ("band pooling", the same fixed operator for every channel), then mix
the ``in_channels * num_bands`` band maps into ``out_channels`` with a 1x1 convolution. The dense k^d kernel is
never materialised and the multiply-adds drop from ``k^d * C_in * C_out`` to about ``taps * C_in +
num_bands * C_in * C_out`` per voxel.

Band pooling is self-adjoint under zero padding (every band holds both ``o`` and ``-o``), so its backward is the
same pooling applied to the incoming gradient; autograd through hundreds of slices would be several times
slower. Measured on the project's 2-core CPU (``scripts/benchmark_layers.py``) it beats the dense convolution
from k=5 on, forward and backward; ``SREConv`` selects it automatically there (``path="auto"``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from monai_sre.networks.layers.bands import BandLayout

__all__ = ["BandPooling", "band_offsets", "band_pool"]


def band_offsets(bands: BandLayout, dilation: Sequence[int]) -> list[list[tuple[int, ...]]]:
    """Voxel offsets of the taps of every band (dilation applied), band by band."""
    kernel = bands.kernel_size
    index = bands.band_index.reshape(kernel)
    centre = [k // 2 for k in kernel]
    return [
        [
            tuple(int(p - c) * d for p, c, d in zip(position, centre, dilation))
            for position in zip(*(index == b).nonzero())
        ]
        for b in range(bands.num_bands)
    ]


def band_pool(x: torch.Tensor, offsets: list[list[tuple[int, ...]]], padding: Sequence[int]) -> torch.Tensor:
    """Sum ``x`` ``(N, C, *spatial)`` over each band's offsets (zero outside): ``(N, C, num_bands, *spatial)``."""
    spatial = x.shape[2:]
    padded = F.pad(x, [p for p in reversed(padding) for _ in range(2)])
    out = x.new_empty(x.shape[0], x.shape[1], len(offsets), *spatial)
    for band, band_offsets_ in enumerate(offsets):
        target = out[:, :, band]
        for i, offset in enumerate(band_offsets_):
            window = (..., *(slice(p + o, p + o + n) for p, o, n in zip(padding, offset, spatial)))
            if i == 0:
                target.copy_(padded[window])
            else:
                target.add_(padded[window])
    return out


class BandPooling(torch.autograd.Function):
    """:func:`band_pool` with a self-adjoint backward (the same pooling applied to the gradient)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, offsets: list, padding: Sequence[int]) -> torch.Tensor:
        ctx.offsets, ctx.padding = offsets, padding
        return band_pool(x, offsets, padding)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor):
        if not ctx.needs_input_grad[0]:
            return None, None, None
        grad_input = None
        for band, band_offsets_ in enumerate(ctx.offsets):
            pooled = band_pool(grad[:, :, band], [band_offsets_], ctx.padding)[:, :, 0]
            grad_input = pooled if grad_input is None else grad_input.add_(pooled)
        return grad_input, None, None

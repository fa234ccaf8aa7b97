# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""The band path of an SRE convolution: band pooling by shift-and-add, then a 1x1 channel mixing.

An SRE kernel is a sum over bands of (band weight x band mask), so the convolution equals: for every band,
sum the input over the band's tap offsets ("band pooling", the same fixed operator for every channel), then mix
the ``in_channels * num_bands`` band maps into ``out_channels`` with a 1x1 convolution. The dense k^d kernel is
never materialised and the multiply-adds drop from ``k^d * C_in * C_out`` to about ``taps * C_in +
num_bands * C_in * C_out`` per voxel.

Band pooling ``P`` maps ``(N, C, *spatial)`` to ``(N, C, num_bands, *spatial)``; its adjoint ``P^T``
("band unpooling", :func:`band_unpool`) maps band maps back and sums them. Under zero padding every band holds
both ``o`` and ``-o``, so ``P^T`` applies the same shift-and-add to each band map: the backward of
:class:`BandPooling` is :class:`BandUnpooling` and vice versa. Each backward is itself differentiable, so
second derivatives (gradient penalties, double backward) work and match the dense path; autograd through
hundreds of slices would be several times slower. :class:`BandConvolution` (what ``SREConv`` runs) keeps only the
input for the backward and pools the output gradient there (both gradients from one pass): keeping the
``num_bands`` band maps of every layer cost 2.4-3x a dense layer's training memory. Measured on the project's 2-core CPU
(``scripts/benchmark_layers.py``) the band path beats the dense convolution from k=5 on, forward and backward;
``SREConv`` selects it automatically there (``path="auto"``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from monai_sre.networks.layers.bands import BandLayout

__all__ = ["BandConvolution", "BandPooling", "BandUnpooling", "band_offsets", "band_pool", "band_unpool"]


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


def _pad(x: torch.Tensor, padding: Sequence[int]) -> torch.Tensor:
    """Zero-pad the last ``len(padding)`` axes by ``padding`` voxels on both sides."""
    return F.pad(x, [p for p in reversed(padding) for _ in range(2)])


def _window(padding: Sequence[int], offset: Sequence[int], spatial: Sequence[int]) -> tuple:
    """Index of the padded input shifted by ``offset``, cropped back to ``spatial``."""
    return (..., *(slice(p + o, p + o + n) for p, o, n in zip(padding, offset, spatial)))


def band_pool(x: torch.Tensor, offsets: list[list[tuple[int, ...]]], padding: Sequence[int]) -> torch.Tensor:
    """Sum ``x`` ``(N, C, *spatial)`` over each band's offsets (zero outside): ``(N, C, num_bands, *spatial)``.

    ``padding`` (per axis) must be at least the largest offset along that axis.
    """
    spatial = x.shape[2:]
    padded = _pad(x, padding)
    out = x.new_empty(x.shape[0], x.shape[1], len(offsets), *spatial)
    for band, offsets_of_band in enumerate(offsets):
        target = out[:, :, band]
        for i, offset in enumerate(offsets_of_band):
            window = padded[_window(padding, offset, spatial)]
            if i == 0:
                target.copy_(window)
            else:
                target.add_(window)
    return out


def band_unpool(y: torch.Tensor, offsets: list[list[tuple[int, ...]]], padding: Sequence[int]) -> torch.Tensor:
    """The adjoint of :func:`band_pool`: ``(N, C, num_bands, *spatial)`` to ``(N, C, *spatial)``.

    Shifts every band map back over the band's offsets and sums over bands and offsets, so that
    ``<band_pool(x), y> == <x, band_unpool(y)>``. For bands symmetric under ``o -> -o`` (every SRE band) this is
    :func:`band_pool` applied to each band map, summed.
    """
    spatial = y.shape[3:]
    padded = _pad(y, padding)
    out = y.new_zeros(y.shape[0], y.shape[1], *spatial)
    for band, offsets_of_band in enumerate(offsets):
        band_map = padded[:, :, band]
        for offset in offsets_of_band:
            out.add_(band_map[_window(padding, [-o for o in offset], spatial)])
    return out


class BandPooling(torch.autograd.Function):
    """:func:`band_pool`, whose backward is :class:`BandUnpooling` (differentiable to any order)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, offsets: list, padding: Sequence[int]) -> torch.Tensor:
        ctx.offsets, ctx.padding = offsets, padding
        return band_pool(x, offsets, padding)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        if not ctx.needs_input_grad[0]:
            return None, None, None
        return BandUnpooling.apply(grad, ctx.offsets, ctx.padding), None, None


class BandUnpooling(torch.autograd.Function):
    """:func:`band_unpool`, whose backward is :class:`BandPooling` (differentiable to any order)."""

    @staticmethod
    def forward(ctx, y: torch.Tensor, offsets: list, padding: Sequence[int]) -> torch.Tensor:
        ctx.offsets, ctx.padding = offsets, padding
        return band_unpool(y, offsets, padding)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        if not ctx.needs_input_grad[0]:
            return None, None, None
        return BandPooling.apply(grad, ctx.offsets, ctx.padding), None, None


def _mix(bands: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, groups: int) -> torch.Tensor:
    """The 1x1 channel mixing of band maps ``(N, C, B, *spatial)`` by ``weight`` ``(C_out, C / groups, B)``."""
    spatial_dims = bands.dim() - 3
    flat = [1] * spatial_dims
    mixing = weight.reshape(weight.shape[0], -1, *flat)
    bands = bands.reshape(bands.shape[0], -1, *bands.shape[3:])
    return torch.convolution(bands, mixing, bias, flat, [0] * spatial_dims, flat, False, [0] * spatial_dims, groups)


def _negated(offsets: list[list[tuple[int, ...]]]) -> list[list[tuple[int, ...]]]:
    """The offsets of the adjoint of every band's pooling: ``P_b^T`` is pooling over ``-o`` for ``o`` in band b."""
    return [[tuple(-o for o in offset) for offset in band] for band in offsets]


class BandConvolution(torch.autograd.Function):
    """Band pooling then 1x1 mixing, keeping only the input for the backward.

    The plain composition ``y = W P x`` keeps the ``num_bands`` band maps ``P x`` of every layer (``num_bands``
    times the input) for the weight gradient. This keeps the input, which the previous layer usually holds
    anyway, and pools whichever side of the layer is cheaper in the backward:

    - the output gradient ``g``: ``G = P^T g`` (``out_channels * num_bands`` maps) gives both gradients,
      ``dW[o, i, b] = <G[o, b], x[i]>`` and ``dx[i] = sum_{o, b} W[o, i, b] G[o, b]``: one pooling pass, the
      same work as the plain composition's backward (the default where ``out_channels <= 2 * in_channels``);
    - the input again (``P x`` for the weight gradient) and ``P^T`` of the mixed output gradient for the input
      gradient: two passes over ``in_channels`` maps, cheaper only for layers that widen (a 1-channel stem).

    Band maps exist only for a few samples at a time (``ceil(batch / num_bands)``), in the forward and in the
    backward, so the temporaries are about one input's size rather than ``num_bands`` times it. The backward is
    built from differentiable operations (:class:`BandPooling`, :class:`BandUnpooling`, matrix products,
    convolutions), so derivatives of every order match the plain composition.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, offsets, padding, groups):
        ctx.offsets, ctx.padding, ctx.groups, ctx.has_bias = offsets, padding, groups, bias is not None
        ctx.save_for_backward(x, weight)
        with torch.no_grad():
            chunks = _batch_chunks(x.shape[0], weight.shape[-1])
            if len(chunks) == 1:
                return _mix(band_pool(x, offsets, padding), weight, bias, groups)
            out = x.new_empty(x.shape[0], weight.shape[0], *x.shape[2:])
            for chunk in chunks:  # the band maps of a few samples at a time: about one input's size
                out[chunk] = _mix(band_pool(x[chunk], offsets, padding), weight, bias, groups)
            return out

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        grad_bias = grad.sum(dim=[0, *range(2, grad.dim())]) if ctx.has_bias and ctx.needs_input_grad[2] else None
        need_x, need_weight = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        passes_over_input = need_x + need_weight  # pooling passes over in_channels maps if the input side is pooled
        if weight.shape[0] <= passes_over_input * x.shape[1]:
            grad_x = x.new_empty(x.shape) if need_x else None
            grad_weight = None
            for chunk in _batch_chunks(x.shape[0], weight.shape[-1]):  # pooled maps: about one output's size
                piece_x, piece_weight = _pool_output_gradient(ctx, x[chunk], weight, grad[chunk], need_x, need_weight)
                if need_x:
                    grad_x[chunk] = piece_x
                if need_weight:
                    grad_weight = piece_weight if grad_weight is None else grad_weight + piece_weight
        else:
            grad_x, grad_weight = _pool_input(ctx, x, weight, grad, need_x, need_weight)
        return grad_x, grad_weight, grad_bias, None, None, None


def _batch_chunks(batch: int, num_bands: int) -> list[slice]:
    """Slices of ``ceil(batch / num_bands)`` samples: their band maps are about the size of the whole batch's input."""
    size = max(1, -(-batch // num_bands))  # an empty batch gives no slice
    return [slice(start, min(batch, start + size)) for start in range(0, batch, size)]


def _pool_output_gradient(ctx, x, weight, grad, need_x: bool, need_weight: bool):
    """Both gradients from one pooling of the output gradient, ``G = P^T grad``."""
    batch, groups, num_bands = x.shape[0], ctx.groups, weight.shape[-1]
    out_per_group, in_per_group = weight.shape[0] // groups, weight.shape[1]
    pooled = BandPooling.apply(grad, _negated(ctx.offsets), ctx.padding)  # (N, C_out, B, *spatial)
    grad_x = grad_weight = None
    if need_weight:
        g = pooled.reshape(batch, groups, out_per_group * num_bands, -1)
        inputs = x.reshape(batch, groups, in_per_group, -1)
        grad_weight = torch.matmul(g, inputs.transpose(-1, -2)).sum(0)  # (groups, C_out/g * B, C_in/g)
        grad_weight = grad_weight.reshape(weight.shape[0], num_bands, in_per_group).transpose(1, 2)
    if need_x:
        spatial_dims = x.dim() - 2
        flat = [1] * spatial_dims
        # a transposed 1x1 convolution from the C_out * B pooled maps to C_in: weight[(o, b), i] = W[o, i, b]
        mixing = weight.transpose(1, 2).reshape(weight.shape[0] * num_bands, in_per_group, *flat)
        pooled = pooled.reshape(batch, -1, *x.shape[2:])
        grad_x = torch.convolution(pooled, mixing, None, flat, [0] * spatial_dims, flat, True, [0] * spatial_dims,
                                   groups)  # fmt: skip
    return grad_x, grad_weight


def _pool_input(ctx, x, weight, grad, need_x: bool, need_weight: bool):
    """The weight gradient from the input's band maps, pooled again; the input gradient by band unpooling."""
    grad_x = grad_weight = None
    batch, channels, num_bands = x.shape[0], x.shape[1], weight.shape[-1]
    if need_weight:  # first, so that the recomputed band maps are freed before grad_x is built
        bands = BandPooling.apply(x, ctx.offsets, ctx.padding)
        g = grad.reshape(batch, ctx.groups, weight.shape[0] // ctx.groups, -1)
        b = bands.reshape(batch, ctx.groups, channels // ctx.groups * num_bands, -1)
        grad_weight = torch.matmul(g, b.transpose(-1, -2)).sum(0).reshape(weight.shape)
        del bands, b
    if need_x:
        spatial_dims = x.dim() - 2
        flat = [1] * spatial_dims
        mixing = weight.reshape(weight.shape[0], -1, *flat)
        grad_bands = torch.convolution(
            grad, mixing, None, flat, [0] * spatial_dims, flat, True, [0] * spatial_dims, ctx.groups
        )
        grad_bands = grad_bands.reshape(batch, channels, num_bands, *x.shape[2:])
        grad_x = BandUnpooling.apply(grad_bands, ctx.offsets, ctx.padding)
    return grad_x, grad_weight

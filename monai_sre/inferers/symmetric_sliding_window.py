# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Sliding-window inference whose windows are laid out symmetrically, so that it keeps a network's equivariance.

MONAI's ``SlidingWindowInferer`` starts its windows at the first voxel of every axis and moves the last one back
to end at the last voxel, and its Gaussian weights peak at voxel ``roi // 2``: after a flip or a 90-degree rotation
of the volume the windows cover other voxels and weigh them differently, so even an exactly equivariant network
gives another segmentation near window borders. :class:`SymmetricSlidingWindowInferer` lays the windows of every
axis out as a set that the axis's reflection maps onto itself (for every window starting at ``p``, one starts at
``L - roi - p``), pads the volume equally on both sides where windows reach outside it, and weighs each window
by a Gaussian centred on its middle (``(roi - 1) / 2``). Every symmetry of the voxel grid (flips, and axis
permutations where the ``roi`` is the same along the permuted axes) then maps windows onto windows, and an
exactly equivariant network gives exactly equivariant segmentations of whole volumes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from monai.inferers import Inferer
from monai.utils import ensure_tuple_rep

from monai_sre.arguments import check_positive_ints

__all__ = ["SymmetricSlidingWindowInferer", "symmetric_window_starts"]


def symmetric_window_starts(length: int, roi: int, stride: int) -> list[int]:
    """Window starts along one axis of ``length`` voxels: at most ``stride`` apart, from ``min(0, length - roi)``
    to ``max(0, length - roi)``, and symmetric (``p`` in the set iff ``length - roi - p`` is).

    Example::

        symmetric_window_starts(98, 32, 24)  # [0, 22, 44, 66]; MONAI's layout is [0, 24, 48, 66]
        symmetric_window_starts(33, 32, 24)  # [0, 1]: two windows, not one off-centre
        symmetric_window_starts(20, 32, 24)  # [-12, 0]: the volume padded by 12 on both sides
    """
    span = length - roi
    if span == 0:
        return [0]
    low, high = min(0, span), max(0, span)
    gaps = max(1, math.ceil((high - low) / stride))
    # the first half, rounded up (so no step exceeds the stride), mirrored (span - p): gaps + 1 windows, one more
    # where the middle start falls between two voxels
    half = {low - (-i * (high - low)) // gaps for i in range(gaps // 2 + 1)}
    return sorted(half | {span - p for p in half})


def _gaussian(roi: Sequence[int], sigma_scale: float, device, dtype) -> torch.Tensor:
    """A Gaussian weight map of shape ``roi`` peaking at the window's middle, ``(roi - 1) / 2`` per axis."""
    weights = torch.ones((), device=device, dtype=dtype)
    for size in roi:
        position = torch.arange(size, device=device, dtype=dtype) - (size - 1) / 2
        axis = torch.exp(-0.5 * (position / max(sigma_scale * size, 1e-6)) ** 2)
        weights = weights.unsqueeze(-1) * axis
    return weights.clamp_min(1e-3)


class SymmetricSlidingWindowInferer(Inferer):
    """Sliding-window inference that is exact under the voxel grid's symmetries (see the module docstring).

    Args:
        roi_size: window size (one int for every axis, or one per axis); the network must map a window
            ``(n, C, *roi_size)`` to logits ``(n, K, *roi_size)``.
        sw_batch_size: windows per network call.
        overlap: fraction of a window that neighbouring windows share at least (the stride is
            ``roi * (1 - overlap)``, at least 1).
        sigma_scale: the Gaussian's standard deviation as a fraction of the window size (MONAI's default 0.125).
        cval: the value of padding where windows reach outside the volume (the normalised intensity of air, -1,
            for this package's preprocessing).

    Example::

        inferer = SymmetricSlidingWindowInferer(roi_size=32, sw_batch_size=8, overlap=0.25, cval=-1.0)
        logits = inferer(volume, network)  # (1, K, *volume.shape[2:])
    """

    def __init__(
        self,
        roi_size: int | Sequence[int],
        sw_batch_size: int = 4,
        overlap: float = 0.25,
        sigma_scale: float = 0.125,
        cval: float = 0.0,
    ) -> None:
        super().__init__()
        self.roi_size = roi_size
        (self.sw_batch_size,) = check_positive_ints("sw_batch_size", [sw_batch_size])
        if not 0 <= overlap < 1:
            raise ValueError(f"overlap must be in [0, 1), got {overlap}.")
        if sigma_scale <= 0:
            raise ValueError(f"sigma_scale must be positive, got {sigma_scale}.")
        self.overlap, self.sigma_scale, self.cval = overlap, sigma_scale, cval

    def __call__(
        self, inputs: torch.Tensor, network: Callable[..., torch.Tensor], *args: Any, **kwargs: Any
    ) -> torch.Tensor:
        """Logits ``(B, K, *spatial)`` of ``network`` over ``inputs`` ``(B, C, *spatial)``."""
        spatial = tuple(inputs.shape[2:])
        roi = check_positive_ints("roi_size", ensure_tuple_rep(self.roi_size, len(spatial)))
        strides = [max(1, int(r * (1 - self.overlap))) for r in roi]
        starts = [symmetric_window_starts(n, r, s) for n, r, s in zip(spatial, roi, strides)]
        pads = [max(0, -axis[0]) for axis in starts]  # equal on both sides: the starts are symmetric
        padding = [p for pad in reversed(pads) for p in (pad, pad)]
        padded = F.pad(inputs, padding, mode="constant", value=self.cval) if any(pads) else inputs
        windows = list(itertools.product(*[[p + pad for p in axis] for axis, pad in zip(starts, pads)]))
        weights = None
        output = counts = None
        for first in range(0, len(windows), self.sw_batch_size):
            chunk = windows[first : first + self.sw_batch_size]
            regions = [tuple(slice(p, p + r) for p, r in zip(window, roi)) for window in chunk]
            batch = torch.cat([padded[(slice(None), slice(None), *region)] for region in regions])
            logits = torch.as_tensor(network(batch, *args, **kwargs)).as_subclass(torch.Tensor)
            if tuple(logits.shape[2:]) != roi:
                raise ValueError(
                    f"the network must return logits of its window's size {roi}, got shape {tuple(logits.shape)}."
                )
            if output is None:
                channels = logits.shape[1]
                output = torch.zeros(inputs.shape[0], channels, *padded.shape[2:], device=logits.device,
                                     dtype=logits.dtype)  # fmt: skip
                counts = torch.zeros(1, 1, *padded.shape[2:], device=logits.device, dtype=logits.dtype)
                weights = _gaussian(roi, self.sigma_scale, logits.device, logits.dtype)
            for index, region in enumerate(regions):
                part = logits[index * inputs.shape[0] : (index + 1) * inputs.shape[0]]
                output[(slice(None), slice(None), *region)] += part * weights
                counts[(slice(None), slice(None), *region)] += weights
        output = output / counts
        inner = tuple(slice(pad, pad + n) for pad, n in zip(pads, spatial))
        return output[(slice(None), slice(None), *inner)]

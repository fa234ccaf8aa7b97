# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Batch normalisation of group features with statistics and affine parameters shared over orientations."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["GroupBatchNorm"]


class GroupBatchNorm(nn.BatchNorm1d):
    """Batch norm of ``(batch, channels * points, *spatial)`` features, one statistic per channel.

    Mean, variance, scale and shift are shared by the ``points`` orientations of a channel (and by every voxel),
    so the group, which only permutes orientations and voxels, commutes with the normalisation. The parameters
    and buffers are those of ``nn.BatchNorm1d(num_features)`` (state dicts load into one).

    Args:
        num_features: channels per orientation.
        points: size of the orientation set.
        kwargs: ``eps``, ``momentum``, ``affine``, ``track_running_stats``, ``device``, ``dtype``.

    Example::

        >>> GroupBatchNorm(4, 24)(torch.randn(2, 96, 5, 5, 5)).shape
        torch.Size([2, 96, 5, 5, 5])
    """

    def __init__(self, num_features: int, points: int, **kwargs) -> None:
        super().__init__(num_features, **kwargs)
        if not isinstance(points, int) or points < 1:
            raise ValueError(f"points must be a positive int, got {points!r}.")
        self.points = points

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 3 or x.shape[1] != self.num_features * self.points:
            raise ValueError(
                f"expected (batch, {self.num_features} x {self.points}, *spatial) features, got {list(x.shape)}."
            )
        return super().forward(x.reshape(x.shape[0], self.num_features, -1)).reshape(x.shape)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, points={self.points}"

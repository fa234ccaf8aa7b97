# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Pooling over the orientation axis of group features: invariant features from equivariant ones."""

from __future__ import annotations

import torch
from monai.utils import look_up_option
from torch import nn

__all__ = ["GroupPool"]


class GroupPool(nn.Module):
    """Mean or max over the ``points`` orientations of ``(batch, channels * points, *spatial)`` features.

    Spatial axes are optional: ``(batch, channels * points)`` vectors (globally pooled features) work too.

    The group only permutes the orientation axis, so the result ``(batch, channels, *spatial)`` transforms as
    a plain image: it is invariant in the orientation and equivariant in space.

    Args:
        points: size of the orientation set (``GroupConv.out_points``).
        mode: ``"mean"`` or ``"max"``.

    Example::

        >>> GroupPool(24, "max")(torch.randn(2, 4 * 24, 5, 5, 5)).shape
        torch.Size([2, 4, 5, 5, 5])
    """

    __constants__ = ["points", "mode"]

    def __init__(self, points: int, mode: str = "mean") -> None:
        super().__init__()
        if not isinstance(points, int) or points < 1:
            raise ValueError(f"points must be a positive int, got {points!r}.")
        self.points = points
        self.mode = look_up_option(mode, ("mean", "max"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2 or x.shape[1] % self.points:
            raise ValueError(f"expected (batch, channels * {self.points}, *spatial) features, got {list(x.shape)}.")
        grouped = x.reshape([x.shape[0], x.shape[1] // self.points, self.points] + list(x.shape[2:]))
        return grouped.amax(2) if self.mode == "max" else grouped.mean(2)

    def extra_repr(self) -> str:
        return f"points={self.points}, mode='{self.mode}'"

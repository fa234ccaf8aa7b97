# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Pooling over the orientation axis of group features: invariant features from equivariant ones."""

from __future__ import annotations

import torch
from monai.utils import look_up_option
from torch import nn

from monai_sre.arguments import check_positive_int
from monai_sre.deprecation import RenamedAttributes, renamed_arguments
from monai_sre.networks.layers.group_features import GroupFeatureType, check_group_features

__all__ = ["GroupPool"]


class GroupPool(RenamedAttributes, nn.Module):
    """Mean or max over the orientations of ``(batch, channels * num_orientations, *spatial)`` features.

    Spatial axes are optional: ``(batch, channels * num_orientations)`` vectors (globally pooled features) work too.

    The group only permutes the orientation axis, so the result ``(batch, channels, *spatial)`` transforms as
    a plain image: it is invariant in the orientation and equivariant in space. ``in_type`` is any number of
    channels on ``num_orientations`` orientations, ``out_type`` plain (``"trivial"``) features.

    Args:
        num_orientations: size of the orientation set (``GroupConv.out_orientations``; formerly ``points``).
        mode: ``"mean"`` or ``"max"``.

    Raises:
        ValueError: a ``num_orientations`` that is not a positive int, an unknown mode; in the forward pass, input
            whose channel axis is not a multiple of ``num_orientations``.

    Example::

        >>> GroupPool(24, "max")(torch.randn(2, 4 * 24, 5, 5, 5)).shape
        torch.Size([2, 4, 5, 5, 5])
    """

    __constants__ = ["num_orientations", "mode"]
    renamed_attributes = {"points": "num_orientations"}

    @renamed_arguments(points="num_orientations")
    def __init__(self, num_orientations: int, mode: str = "mean") -> None:
        super().__init__()
        self.num_orientations = check_positive_int("num_orientations", num_orientations)
        self.mode = look_up_option(mode, ("mean", "max"))
        self.in_type = GroupFeatureType(num_orientations=num_orientations)
        self.out_type = GroupFeatureType(space="trivial")
        self._expected_input = self.in_type.expected_by(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_group_features(x, self._expected_input, 0, self.num_orientations, -1)
        n = self.num_orientations
        grouped = x.reshape([x.shape[0], x.shape[1] // n, n] + list(x.shape[2:]))
        return grouped.amax(2) if self.mode == "max" else grouped.mean(2)

    def extra_repr(self) -> str:
        return f"num_orientations={self.num_orientations}, mode='{self.mode}'"

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Normalisation of group features (batch norm or group norm) with statistics and affine parameters shared over
orientations.

Group features are ``(batch, channels * num_orientations, *spatial)``
(:mod:`~monai_sre.networks.layers.group_features`). The symmetry group only permutes the orientations of a channel
(and the voxels), so a normalisation whose statistics and affine parameters are per channel, shared by its
orientations, commutes with it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from monai.utils import look_up_option
from torch import nn

from monai_sre.arguments import check_positive_int
from monai_sre.deprecation import RenamedAttributes, deprecated_names, renamed_arguments
from monai_sre.networks.layers.group_features import GroupFeatureType, check_group_features

__all__ = ["GroupBatchNorm", "OrientationGroupNorm", "group_feature_norm"]

__getattr__ = deprecated_names(__name__, {"GroupFeatureGroupNorm": f"{__name__}:OrientationGroupNorm"})


def _orientations_and_voxels(x: torch.Tensor, num_features: int) -> int:
    """Length of the last axis of ``x`` viewed as ``(batch, num_features, orientations x voxels)``.

    Counted from the shape, so that an empty batch (where ``reshape(0, c, -1)`` is ambiguous) works too.
    """
    length = x.shape[1] // num_features
    for size in x.shape[2:]:
        length *= size
    return length


class GroupBatchNorm(RenamedAttributes, nn.Module):
    """Batch norm of ``(batch, channels * num_orientations, *spatial)`` features, one statistic per channel.

    Mean, variance, scale and shift are shared by the ``num_orientations`` orientations of a channel (and by every
    voxel), so the group, which only permutes orientations and voxels, commutes with the normalisation.

    The statistics live in a wrapped ``nn.BatchNorm1d(num_features)`` (:attr:`norm`), which sees the features as
    ``(batch, channels, orientations x voxels)``. Because it is a child module rather than the parent class,
    generic torch tools find and replace it without losing the orientation reshape: after
    ``nn.SyncBatchNorm.convert_sync_batchnorm(model)`` the statistics are synchronised across processes and the
    network stays equivariant. State dicts hold ``norm.weight``, ``norm.running_mean``, ...; state dicts written
    before the wrapping (``weight``, ``running_mean``, ... at this module's level) still load.

    Args:
        num_features: channels per orientation.
        num_orientations: size of the orientation set (``GroupConv.out_orientations``; formerly ``points``).
        kwargs: ``eps``, ``momentum``, ``affine``, ``track_running_stats``, ``device``, ``dtype`` (those of
            ``nn.BatchNorm1d``).

    ``in_type`` and ``out_type`` are ``num_features`` channels on ``num_orientations`` orientations of any group.

    Raises:
        ValueError: a count that is not a positive int; in the forward pass, input that is not
            ``(batch, num_features * num_orientations, *spatial)``.

    Example::

        >>> GroupBatchNorm(4, 24)(torch.randn(2, 96, 5, 5, 5)).shape
        torch.Size([2, 96, 5, 5, 5])
    """

    _STATE = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    __constants__ = ["num_features", "num_orientations"]
    renamed_attributes = {"points": "num_orientations"}

    @renamed_arguments(points="num_orientations")
    def __init__(self, num_features: int, num_orientations: int, **kwargs) -> None:
        super().__init__()
        check_positive_int("num_features", num_features)
        check_positive_int("num_orientations", num_orientations)
        self.num_features = num_features
        self.num_orientations = num_orientations
        self.in_type = self.out_type = GroupFeatureType(channels=num_features, num_orientations=num_orientations)
        self._expected_input = self.in_type.expected_by(self)
        self.norm = nn.BatchNorm1d(num_features, **kwargs)

    @property
    def weight(self) -> torch.Tensor | None:
        """The wrapped batch norm's per-channel scale."""
        return self.norm.weight

    @property
    def bias(self) -> torch.Tensor | None:
        """The wrapped batch norm's per-channel shift."""
        return self.norm.bias

    @property
    def running_mean(self) -> torch.Tensor | None:
        """The wrapped batch norm's running mean per channel."""
        return self.norm.running_mean

    @property
    def running_var(self) -> torch.Tensor | None:
        """The wrapped batch norm's running variance per channel."""
        return self.norm.running_var

    __jit_unused_properties__ = ["weight", "bias", "running_mean", "running_var"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_group_features(x, self._expected_input, self.num_features, self.num_orientations)
        flat = x.reshape(x.shape[0], self.num_features, _orientations_and_voxels(x, self.num_features))
        return self.norm(flat).reshape(x.shape)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # state dicts from before the wrapping hold the batch norm's entries at this module's level
        for name in self._STATE:
            old, new = prefix + name, prefix + "norm." + name
            if old in state_dict and new not in state_dict:
                state_dict[new] = state_dict.pop(old)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        return f"{self.num_features}, num_orientations={self.num_orientations}"


class OrientationGroupNorm(RenamedAttributes, nn.Module):
    """``nn.GroupNorm`` for orientation features: per sample, per group of channels, each with all its orientations.

    The name keeps the two meanings of "group" apart: "GroupNorm" is the normalisation over groups of channels
    (Wu & He, 2018); "Orientation" says that it normalises group features ``(batch, channels * num_orientations,
    *spatial)``, whose orientations the symmetry group permutes. (It was called ``GroupFeatureGroupNorm``.)

    The statistics of a group of ``num_features / num_groups`` channels are taken over all their orientations and
    voxels, and scale and shift are per channel, shared by its orientations, so the symmetry group, which only
    permutes orientations and voxels, commutes with the normalisation. Unlike batch norm it needs no batch and keeps
    no running statistics: train and eval compute the same function (the outputs depend on the input's extent).

    Args:
        num_groups: groups of channels; must divide ``num_features``.
        num_features: channels per orientation.
        num_orientations: size of the orientation set (formerly ``points``).
        eps: added to the variance.
        affine: learn a per-channel scale and shift.

    Raises:
        ValueError: a count that is not a positive int, or ``num_groups`` not dividing ``num_features``; in the
            forward pass, input that is not ``(batch, num_features * num_orientations, *spatial)``.

    Example::

        >>> OrientationGroupNorm(2, 4, 24)(torch.randn(2, 96, 5, 5, 5)).shape
        torch.Size([2, 96, 5, 5, 5])
    """

    __constants__ = ["num_groups", "num_features", "num_orientations", "eps"]
    renamed_attributes = {"points": "num_orientations"}

    @renamed_arguments(points="num_orientations")
    def __init__(
        self, num_groups: int, num_features: int, num_orientations: int, eps: float = 1e-5, affine: bool = True
    ) -> None:
        super().__init__()
        check_positive_int("num_features", num_features)
        check_positive_int("num_orientations", num_orientations)
        if not isinstance(num_groups, int) or num_groups < 1 or num_features % num_groups:
            raise ValueError(
                f"num_groups must be a positive divisor of num_features={num_features}, got {num_groups!r}."
            )
        self.num_groups = num_groups
        self.num_features = num_features
        self.num_orientations = num_orientations
        self.eps = eps
        self.in_type = self.out_type = GroupFeatureType(channels=num_features, num_orientations=num_orientations)
        self._expected_input = self.in_type.expected_by(self)
        self.weight = nn.Parameter(torch.ones(num_features)) if affine else None
        self.bias = nn.Parameter(torch.zeros(num_features)) if affine else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_group_features(x, self._expected_input, self.num_features, self.num_orientations)
        # channel c's orientations are consecutive, so every group holds whole orientation sets
        y = F.group_norm(x, self.num_groups, None, None, self.eps)
        if self.weight is None:
            return y
        shape = (1, -1) + (1,) * (x.dim() - 2)
        scale = self.weight.repeat_interleave(self.num_orientations).reshape(shape)
        return y * scale + self.bias.repeat_interleave(self.num_orientations).reshape(shape)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_features}, num_orientations={self.num_orientations}, eps={self.eps}"


@renamed_arguments(points="num_orientations")
def group_feature_norm(norm: str | tuple, num_features: int, num_orientations: int) -> nn.Module:
    """The normalisation named as for MONAI's ``get_norm_layer``, for group features.

    Args:
        norm: ``"batch"`` (:class:`GroupBatchNorm`), ``"instance"`` (:class:`OrientationGroupNorm` with one group
            per channel) or ``("group", {"num_groups": g})``; ``g`` is reduced to ``gcd(g, num_features)`` so
            that one setting serves every level of a network (a level of 2 channels gets 2 groups when g = 4).
            Keyword arguments go to the class (``eps``, ``affine``; ``momentum`` for batch norm).
        num_features: channels per orientation.
        num_orientations: size of the orientation set (formerly ``points``).
    """
    name, kwargs = (norm, {}) if isinstance(norm, str) else (norm[0], dict(norm[1]) if len(norm) > 1 else {})
    name = look_up_option(str(name).lower(), ("batch", "instance", "group"))
    if name == "batch":
        return GroupBatchNorm(num_features, num_orientations, **kwargs)
    if name == "instance":
        return OrientationGroupNorm(num_features, num_features, num_orientations, **kwargs)
    groups = kwargs.pop("num_groups", 1)
    return OrientationGroupNorm(math.gcd(groups, num_features), num_features, num_orientations, **kwargs)

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""What :class:`~monai_sre.networks.nets.SREResNet` and :class:`~monai_sre.networks.nets.GroupResNet` share.

Both are MONAI's ResNet layout made symmetric: a stride-1 stem, stages of residual blocks whose first block
(after the first stage) halves the resolution with a symmetric pool, a pool over orientations (group features
only), a global average pool and a linear classifier. :class:`SymmetricResNet` holds that head, the argument
checks and the activation checkpointing (``use_checkpoint``); the subclasses build the stem and the blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from monai.networks.layers.factories import Pool
from torch import nn

from monai_sre.arguments import check_per_stage, check_positive_int, check_positive_ints
from monai_sre.networks.activation_checkpointing import checkpointed

__all__ = ["SymmetricResNet", "centre_mean", "residual_stages", "stage_widths", "zero_residual_scales"]


def centre_mean(x: torch.Tensor) -> torch.Tensor:
    """Mean of ``(batch, channels, *spatial)`` over the central voxel of every axis (the central two of an even
    axis): ``(batch, channels)``. The region is its own image under every symmetry of the grid about the centre,
    so the mean of features equivariant about the centre is invariant."""
    for axis in range(2, x.dim()):
        size = x.shape[axis]
        width = 2 - size % 2
        x = x.narrow(axis, (size - width) // 2, width)
    return x.flatten(2).mean(2)


def stage_widths(
    layers: Sequence[int],
    block_inplanes: Sequence[int] | int,
    widen_factor: float,
    n_input_channels: int,
    num_classes: int,
) -> tuple[int, ...]:
    """Check a ResNet's arguments and return its channels per stage, ``block_inplanes * widen_factor`` (>= 1).

    Raises:
        ValueError: ``layers`` is not a sequence of positive ints, ``block_inplanes`` neither one value nor one per
            stage, or ``n_input_channels`` / ``num_classes`` not a positive int.
    """
    num_stages = len(check_positive_ints("layers", layers))
    widths = check_per_stage("block_inplanes", block_inplanes, num_stages)
    check_positive_int("n_input_channels", n_input_channels)
    check_positive_int("num_classes", num_classes)
    return tuple(max(1, int(width * widen_factor)) for width in widths)


def residual_stages(
    layers: Sequence[int], widths: Sequence[int], in_planes: int, block: Callable[[int, int, int, bool], nn.Module]
) -> tuple[nn.Sequential, int]:
    """Stages of residual blocks, ``layers[i]`` blocks of width ``widths[i]`` in stage ``i``.

    Args:
        layers: blocks per stage.
        widths: channels per stage (a block's output has ``width * block.expansion`` channels).
        in_planes: channels of the stem's output.
        block: ``(stage, in_planes, planes, downsample) -> block``; the first block of every stage after the first
            downsamples.

    Returns:
        the stages (an ``nn.Sequential`` of one ``nn.Sequential`` per stage) and the channels of their output.
    """
    stages = []
    for stage, (count, width) in enumerate(zip(layers, widths)):
        blocks = []
        for position in range(count):
            blocks.append(block(stage, in_planes, width, stage > 0 and position == 0))
            in_planes = width * getattr(blocks[-1], "expansion", 1)
        stages.append(nn.Sequential(*blocks))
    return nn.Sequential(*stages), in_planes


def zero_residual_scales(stages: nn.Sequential) -> None:
    """Set the scale of every residual branch's last normalisation to zero (``zero_init_residual`` of
    torchvision's ResNet; Goyal et al., 2017): at initialisation every block passes its shortcut through, so the
    network starts as its stem and shortcuts and grows the residual branches from there. Every block names the
    branch's last normalisation with ``residual_norm()``.

    Raises:
        ValueError: a block's last normalisation has no learnable scale (``affine=False``, e.g. MONAI's
            ``"instance"``).
    """
    for stage in stages:
        for block in stage:
            norm = block.residual_norm()
            if norm.weight is None:
                raise ValueError(
                    f"zero_init_residual needs a normalisation with a learnable scale, got {type(norm).__name__} "
                    "without one (affine=False)."
                )
            with torch.no_grad():
                norm.weight.zero_()


class SymmetricResNet(nn.Module):
    """A stem, residual stages and an invariant head: ``fc(dropout(pool(orientation_pool(stages(stem(x))))))``,
    optionally with the centre column beside the global pool (``centre_channels``).

    Args:
        spatial_dims: number of spatial dimensions.
        stem: the stem (stride 1, then an optional symmetric pool).
        stages: the residual stages (:func:`residual_stages`).
        num_features: channels of the stages' output (per orientation for group features).
        num_classes: output logits.
        feed_forward: if ``False``, return the pooled features ``(batch, num_features)`` instead of logits.
        use_checkpoint: in training, keep only the stem's and every block's input for the backward and recompute
            the rest there (:func:`~monai_sre.networks.activation_checkpointing.checkpointed`): less memory for a
            second forward. Outputs, gradients and batch-norm running statistics are unchanged; eval, inference
            under ``torch.no_grad()`` and tracing never recompute.
        orientation_pool: the pool over the orientations of group features (``GroupPool``); ``None`` for scalar
            features (nothing to pool).
        dropout: dropout probability on the pooled features before the classifier (training only; the features
            are invariant, so the logits stay exactly invariant in eval and every rotation of an input meets the
            same dropout distribution in training). ``0`` (default): none; none either with ``feed_forward=False``
            (no classifier).
        centre_channels: channels (after the orientation pool) of the input, the stem's output and every stage's
            output but the last, in that order: their :func:`centre_mean` joins the pooled features (the centre
            column: what the patch's centre holds at every resolution, which the global pool mixes with its
            surroundings). ``()`` (default): the global pool alone.
        zero_init_residual: if ``True``, every residual branch starts at zero (:func:`zero_residual_scales`).
    """

    # the group the logits are exactly invariant to (str), set by the subclass; no annotation: TorchScript reads
    # class annotations and cannot parse PEP 604 strings
    symmetry_group = None

    def __init__(
        self,
        spatial_dims: int,
        stem: nn.Module,
        stages: nn.Sequential,
        num_features: int,
        num_classes: int,
        feed_forward: bool = True,
        use_checkpoint: bool = False,
        orientation_pool: nn.Module | None = None,
        dropout: float = 0.0,
        centre_channels: Sequence[int] = (),
        zero_init_residual: bool = False,
    ) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}.")
        self.spatial_dims = spatial_dims
        self.feed_forward = feed_forward
        self.use_checkpoint = use_checkpoint
        self.stem = stem
        self.stages = stages
        if zero_init_residual:
            zero_residual_scales(stages)
        self.centre_features = len(centre_channels) > 0
        if self.centre_features and len(centre_channels) != len(stages) + 1:
            raise ValueError(
                f"centre_channels must give the input, the stem and {len(stages) - 1} stage outputs "
                f"({len(stages) + 1} values), got {list(centre_channels)}."
            )
        num_features += sum(centre_channels)
        self.num_features = num_features
        self.orientation_pool = nn.Identity() if orientation_pool is None else orientation_pool
        self.pool = Pool[Pool.ADAPTIVEAVG, spatial_dims](1)
        self.dropout = nn.Dropout(dropout) if dropout and feed_forward else nn.Identity()
        self.fc = nn.Linear(num_features, num_classes) if feed_forward else nn.Identity()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Globally pooled features ``(batch, num_features)``: invariant to the network's symmetry group."""
        recompute = self.use_checkpoint and self.training and torch.is_grad_enabled()
        if recompute and not torch.jit.is_scripting() and not torch.jit.is_tracing():
            maps = self._checkpointed_feature_maps(x)
        else:
            maps = self._feature_maps(x)
        pooled = self.pool(self.orientation_pool(maps[-1])).flatten(1)
        if not self.centre_features:
            return pooled
        column = [centre_mean(x)] + [centre_mean(self.orientation_pool(m)) for m in maps[:-1]]
        return torch.cat(column + [pooled], 1)

    def _feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The last stage's output, after the stem's and every other stage's output if the head reads the centre
        column (kept only then: the others are freed as the forward goes on)."""
        maps: list[torch.Tensor] = []
        x = self.stem(x)
        for stage in self.stages:
            if self.centre_features:
                maps.append(x)
            x = stage(x)
        return maps + [x]

    @torch.jit.unused
    def _checkpointed_feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        maps = []
        x = checkpointed(self.stem, x)
        for stage in self.stages:
            if self.centre_features:
                maps.append(x)
            for block in stage:
                x = checkpointed(block, x)
        return maps + [x]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.forward_features(x)))

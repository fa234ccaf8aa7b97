# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Group-equivariant ResNets: orientation-keeping features, exactly invariant logits on the voxel grid.

The stem lifts the image onto an orientation set (:class:`~monai_sre.networks.layers.GroupConv` from
``"trivial"``), residual stages of group convolutions keep orientation, and the head pools over orientations
(:class:`~monai_sre.networks.layers.GroupPool`) and over space before the classifier. Downsampling is
:class:`~monai_sre.networks.layers.SymmetricPool`, so in eval mode the logits are exactly invariant (to float
round-off) to every element of the group at every cubic input size, odd or even.

Cost: a group convolution with ``C`` channels per orientation costs a plain convolution with ``C * |X|``
channels. With ``space="regular"`` that is ``|G|`` (24 for O) times wider; the quotient spaces ``"axes"`` (3) and
``"diagonals"`` (4) are cheaper but measured less accurate on the tissue task (README).
``scripts/benchmark_networks.py --set light`` measures the costs.

:attr:`GroupResNet.symmetry_group` names the group the logits are exactly invariant to (``"O"``: the 24
rotations of the grid; mirror images need ``group="Oh"``).
"""

from __future__ import annotations

from collections.abc import Sequence

from monai.networks.layers.utils import get_act_layer
from torch import nn

from monai_sre.networks.blocks.group_residual import GroupBasicBlock
from monai_sre.networks.layers.group_conv import GroupConv
from monai_sre.networks.layers.group_features import check_compatible
from monai_sre.networks.layers.group_norm import group_feature_norm
from monai_sre.networks.layers.group_pool import GroupPool
from monai_sre.networks.layers.symmetric_pool import SymmetricPool
from monai_sre.networks.nets.registry import register_model
from monai_sre.networks.nets.symmetric_resnet import SymmetricResNet, residual_stages, stage_widths

__all__ = ["GroupResNet", "group_resnet18", "group_resnet_light"]


class GroupResNet(SymmetricResNet):
    """ResNet of group convolutions over a group of grid symmetries, invariant logits.

    Arguments follow :class:`monai.networks.nets.ResNet` where they mean the same, and
    :class:`~monai_sre.networks.nets.SREResNet`'s where both have them (``norm``, ``use_checkpoint``).

    Args:
        layers: basic blocks per stage; the number of stages is ``len(layers)``.
        block_inplanes: channels per orientation, one for all stages or one per stage.
        spatial_dims: 2 or 3.
        n_input_channels: input channels (plain images).
        num_classes: output logits.
        widen_factor: multiplies every channel count.
        group: ``"O"`` (the 24 rotations of the cube, default) or ``"Oh"`` (all 48 grid symmetries, mirror
            images included, at twice the width) in 3D; ``"C4"``, ``"D4"`` in 2D.
        space: orientation set of the hidden features: ``"regular"`` (default: one copy per group element, the
            most expressive, ``|G|`` times wider), ``"axes"`` (the 3 coordinate axes, kernels symmetric about
            their axis) or ``"diagonals"`` (the 4 body diagonals): cheap quotients.
        kernel_size: odd kernel size of every group convolution (stem included).
        stem_pool: halve the resolution after the stem with a symmetric max pool.
        orientation_pool: ``"mean"`` or ``"max"`` over orientations before the spatial average.
        feed_forward: if ``False``, return the pooled invariant features instead of logits.
        act: activation, a name or ``(name, kwargs)``.
        norm: normalisation after every group convolution, with statistics and affine parameters shared over
            orientations, named as for :class:`~monai_sre.networks.nets.GroupUNet`: ``"batch"`` (default,
            :class:`~monai_sre.networks.layers.GroupBatchNorm`), ``"instance"`` or ``("group", {"num_groups": g})``
            (``g`` reduced to a divisor of each stage's width); see
            :func:`~monai_sre.networks.layers.group_feature_norm`.
        use_checkpoint: in training, keep only the stem's and every block's input for the backward and recompute
            the rest there (:func:`~monai_sre.networks.activation_checkpointing.checkpointed`): less memory for a
            second forward. Outputs, gradients and batch-norm running statistics are unchanged; eval and tracing
            never recompute.
        dropout: dropout probability on the pooled invariant features before the classifier (training only);
            ``0`` (default): none; ignored with ``feed_forward=False`` (no classifier).
        centre_features: if ``True``, the head also reads the centre column: the mean over the central voxels
            (two per axis at an even size) of the input, of the stem's output and of every stage's output but the
            last, pooled over orientations (:class:`~monai_sre.networks.nets.SymmetricResNet`):
            ``n_input_channels + w[0] + sum(w[:-1])`` more features, ``w`` the channels per orientation of each
            stage, and no new parameters but the classifier's inputs for them. The logits stay exactly invariant.
            For patch classification, where the label is the centre's: the global pool alone mixes the centre
            with its surroundings. Measured on the tissue task: no gain at 2 % and 5 % of the data
            (``docs/comparison.md``), so off in the bundles.
        zero_init_residual: if ``True``, the scale of every residual branch's last normalisation starts at zero
            (torchvision's option of that name), so every block starts as its shortcut
            (:func:`~monai_sre.networks.nets.symmetric_resnet.zero_residual_scales`); needs a normalisation with a
            learnable scale. Measured on the tissue task in ``docs/comparison.md``.

    Example::

        >>> net = GroupResNet([1, 1], [4, 8], num_classes=3)
        >>> net(torch.randn(2, 1, 15, 15, 15)).shape
        torch.Size([2, 3])
    """

    def __init__(
        self,
        layers: Sequence[int],
        block_inplanes: Sequence[int],
        spatial_dims: int = 3,
        n_input_channels: int = 1,
        num_classes: int = 2,
        widen_factor: float = 1.0,
        group: str = "O",
        space: str = "regular",
        kernel_size: int = 3,
        stem_pool: bool = True,
        orientation_pool: str = "mean",
        feed_forward: bool = True,
        act: str | tuple = ("relu", {"inplace": True}),
        norm: str | tuple = "batch",
        use_checkpoint: bool = False,
        dropout: float = 0.0,
        centre_features: bool = False,
        zero_init_residual: bool = False,
    ) -> None:
        planes = stage_widths(layers, block_inplanes, widen_factor, n_input_channels, num_classes)
        lift = GroupConv(spatial_dims, n_input_channels, planes[0], kernel_size, group, "trivial", space, bias=False)
        orientations = lift.out_orientations
        stem = nn.Sequential(
            lift,
            group_feature_norm(norm, planes[0], orientations),
            get_act_layer(act),
            SymmetricPool(spatial_dims, "max") if stem_pool else nn.Identity(),
        )
        options = dict(group=group, space=space, kernel_size=kernel_size, act=act, norm=norm)

        def make_block(stage: int, in_planes: int, width: int, downsample: bool) -> nn.Module:
            return GroupBasicBlock(spatial_dims, in_planes, width, downsample=downsample, **options)

        stages, num_features = residual_stages(layers, planes, planes[0], make_block)
        pool = GroupPool(orientations, orientation_pool)
        features = check_compatible(lift, stem[1])  # the wiring, checked: stem, every block, orientation pool
        for block in (block for stage in stages for block in stage):
            check_compatible(features, block)
            features = block.out_type
        check_compatible(features, pool)
        centre_channels = (n_input_channels, planes[0], *planes[:-1]) if centre_features else ()
        head = dict(
            orientation_pool=pool,
            dropout=dropout,
            centre_channels=centre_channels,
            zero_init_residual=zero_init_residual,
        )
        super().__init__(spatial_dims, stem, stages, num_features, num_classes, feed_forward, use_checkpoint, **head)
        self.symmetry_group = group


@register_model
def group_resnet_light(**kwargs) -> GroupResNet:
    """Light group ResNet at the default bundle's scale: ``[1, 1, 1, 1]`` basic blocks over the 24 rotations of
    the cube (O, regular), 1-8 channels per rotation (24-192 in all), 84 k parameters (kwargs override)."""
    kwargs.setdefault("block_inplanes", [1, 2, 4, 8])
    return GroupResNet([1, 1, 1, 1], **kwargs)


@register_model
def group_resnet18(**kwargs) -> GroupResNet:
    """Group ResNet-18 layout: ``[2, 2, 2, 2]`` basic blocks over O (regular), 4-32 channels per rotation
    (96-768 in all)."""
    kwargs.setdefault("block_inplanes", [4, 8, 16, 32])
    return GroupResNet([2, 2, 2, 2], **kwargs)

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""SRE ResNets: ResNets whose spatial kernels are SRE convolutions, invariant to the grid symmetries.

Every piece keeps the symmetry: the stem is a stride-1 SRE convolution, downsampling is
:class:`~monai_sre.networks.layers.SymmetricPool` (never a stride), and the head averages over all of space
before the linear classifier. In eval mode (BatchNorm on running statistics) the logits are therefore exactly
invariant, up to float round-off, to the 48 axis permutations and flips of any cubic input, whatever its size
(16, 27, 28, 33, ...), and to the flips of any input. Under other rotation angles invariance holds up to the
interpolation error of the rotation itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from monai.networks.layers.utils import get_act_layer, get_norm_layer
from monai.utils import look_up_option
from torch import nn

from monai_sre.arguments import check_per_stage
from monai_sre.networks.blocks.sre_residual import SREBasicBlock, SREBottleneckBlock
from monai_sre.networks.layers.sre_conv import SREConv
from monai_sre.networks.layers.symmetric_pool import SymmetricPool
from monai_sre.networks.nets.registry import register_model
from monai_sre.networks.nets.symmetric_resnet import SymmetricResNet, residual_stages, stage_widths

__all__ = [
    "SREResNet",
    "sre_resnet10",
    "sre_resnet18",
    "sre_resnet18_paper",
    "sre_resnet34",
    "sre_resnet50",
    "sre_resnet_light",
]

BLOCKS = {"basic": SREBasicBlock, "bottleneck": SREBottleneckBlock}


class SREResNet(SymmetricResNet):
    """ResNet with SRE convolutions, symmetric downsampling and a global-average-pool head.

    Arguments follow :class:`monai.networks.nets.ResNet` where they mean the same, and
    :class:`~monai_sre.networks.nets.GroupResNet`'s where both have them.

    Args:
        block: ``"basic"`` (ResNet-10/18/34) or ``"bottleneck"`` (ResNet-50).
        layers: blocks per stage; the number of stages is ``len(layers)``.
        block_inplanes: channels per stage (before ``widen_factor``), one for all stages or one per stage.
        spatial_dims: number of spatial dimensions, 1, 2 or 3.
        n_input_channels: input channels.
        num_classes: output logits.
        widen_factor: multiplies every channel count.
        kernel_sizes: odd SRE kernel size, one for all stages or one per stage.
        num_bands: SRE bands, one for all stages or one per stage; ``None`` for the layout default.
        stem_kernel_size: kernel of the stride-1 SRE stem; defaults to the first stage's.
        stem_pool: halve the resolution after the stem with a symmetric max pool (MONAI ResNet's max pool,
            made symmetric); off for the paper's full-resolution stem.
        band_layout: SRE band layout for every SRE convolution.
        feed_forward: if ``False``, return the pooled features ``(batch, channels)`` instead of logits.
        act: activation, a name or ``(name, kwargs)``.
        norm: normalisation, a name or ``(name, kwargs)``.
        conv_path: how every SRE convolution computes: ``"auto"`` (band path on CPU from k=5), ``"dense"`` (the
            expanded kernel, one convolution) or ``"bands"``; see :class:`~monai_sre.networks.layers.SREConv`.
        use_checkpoint: in training, keep only the stem's and every block's input for the backward and recompute
            the rest there (:func:`~monai_sre.networks.activation_checkpointing.checkpointed`): less memory for a
            second forward. Outputs, gradients and batch-norm running statistics are unchanged; eval and tracing
            never recompute.
        dropout: dropout probability on the pooled invariant features before the classifier (training only);
            ``0`` (default): none; ignored with ``feed_forward=False`` (no classifier).
        centre_features: if ``True``, the head also reads the centre column: the mean over the central voxels
            (two per axis at an even size) of the input, of the stem's output and of every stage's output but the
            last (:class:`~monai_sre.networks.nets.SymmetricResNet`); the logits stay exactly invariant. For patch
            classification, where the label is the centre's.
        zero_init_residual: if ``True``, the scale of every residual branch's last normalisation starts at zero
            (torchvision's option of that name), so every block starts as its shortcut
            (:func:`~monai_sre.networks.nets.symmetric_resnet.zero_residual_scales`); needs a normalisation with a
            learnable scale. Measured on the tissue task in ``docs/comparison.md``.

    Example::

        >>> net = SREResNet("basic", [1, 1], [8, 16], spatial_dims=3, n_input_channels=1, num_classes=4)
        >>> net(torch.randn(2, 1, 27, 27, 27)).shape
        torch.Size([2, 4])
    """

    symmetry_group = "Oh"  # the logits are exactly invariant to all 48 grid symmetries

    def __init__(
        self,
        block: str,
        layers: Sequence[int],
        block_inplanes: Sequence[int],
        spatial_dims: int = 3,
        n_input_channels: int = 1,
        num_classes: int = 2,
        widen_factor: float = 1.0,
        kernel_sizes: Sequence[int] | int = 3,
        num_bands: Sequence[int | None] | int | None = None,
        stem_kernel_size: int | None = None,
        stem_pool: bool = False,
        band_layout: str = "linear",
        feed_forward: bool = True,
        act: str | tuple = ("relu", {"inplace": True}),
        norm: str | tuple = "batch",
        conv_path: str = "auto",
        use_checkpoint: bool = False,
        dropout: float = 0.0,
        centre_features: bool = False,
        zero_init_residual: bool = False,
    ) -> None:
        block_type = look_up_option(block, BLOCKS)
        planes = stage_widths(layers, block_inplanes, widen_factor, n_input_channels, num_classes)
        kernels = check_per_stage("kernel_sizes", kernel_sizes, len(planes))
        bands = check_per_stage("num_bands", num_bands, len(planes))
        sre = dict(band_layout=band_layout, act=act, norm=norm, path=conv_path)

        stem_kernel = kernels[0] if stem_kernel_size is None else stem_kernel_size
        stem = nn.Sequential(
            SREConv(
                spatial_dims,
                n_input_channels,
                planes[0],
                stem_kernel,
                band_layout=band_layout,
                bias=False,
                path=conv_path,
            ),
            get_norm_layer(norm, spatial_dims, planes[0]),
            get_act_layer(act),
            SymmetricPool(spatial_dims, "max") if stem_pool else nn.Identity(),
        )

        def make_block(stage: int, in_planes: int, width: int, downsample: bool) -> nn.Module:
            per_stage = dict(kernel_size=kernels[stage], num_bands=bands[stage], downsample=downsample)
            return block_type(spatial_dims, in_planes, width, **per_stage, **sre)

        stages, num_features = residual_stages(layers, planes, planes[0], make_block)
        column = (n_input_channels, planes[0], *(width * block_type.expansion for width in planes[:-1]))
        head = dict(
            dropout=dropout, centre_channels=column if centre_features else (), zero_init_residual=zero_init_residual
        )
        super().__init__(spatial_dims, stem, stages, num_features, num_classes, feed_forward, use_checkpoint, **head)


def _resnet(block: str, layers: list[int], **kwargs) -> SREResNet:
    """MONAI ResNet's layout: 64-512 channels, a 7-tap stem followed by a (here symmetric) max pool."""
    kwargs.setdefault("block_inplanes", [64, 128, 256, 512])
    kwargs.setdefault("stem_kernel_size", 7)
    kwargs.setdefault("stem_pool", True)
    return SREResNet(block, layers, **kwargs)


@register_model
def sre_resnet10(**kwargs) -> SREResNet:
    """SRE ResNet-10: basic blocks ``[1, 1, 1, 1]``, 64-512 channels, k=3, 7-tap stem + pool (kwargs override)."""
    return _resnet("basic", [1, 1, 1, 1], **kwargs)


@register_model
def sre_resnet18(**kwargs) -> SREResNet:
    """SRE ResNet-18: basic blocks ``[2, 2, 2, 2]``, 64-512 channels, k=3, 7-tap stem + pool (kwargs override)."""
    return _resnet("basic", [2, 2, 2, 2], **kwargs)


@register_model
def sre_resnet34(**kwargs) -> SREResNet:
    """SRE ResNet-34: basic blocks ``[3, 4, 6, 3]``, 64-512 channels, k=3, 7-tap stem + pool (kwargs override)."""
    return _resnet("basic", [3, 4, 6, 3], **kwargs)


@register_model
def sre_resnet50(**kwargs) -> SREResNet:
    """SRE ResNet-50: bottleneck blocks ``[3, 4, 6, 3]``, 64-512 (x4) channels, k=3 (kwargs override)."""
    return _resnet("bottleneck", [3, 4, 6, 3], **kwargs)


@register_model
def sre_resnet18_paper(**kwargs) -> SREResNet:
    """The SRE-Conv paper's 3D network: ResNet-18 layout, SRE k=5 everywhere, stride-1 full-width stem.

    Downsampling is by average pooling (as the authors do) but symmetric at every size, so unlike the
    authors' network it stays exactly invariant at 28^3 input. 3.85 M parameters at 1 input channel, 11 classes.
    """
    kwargs.setdefault("kernel_sizes", 5)
    kwargs.setdefault("stem_kernel_size", 5)
    kwargs.setdefault("stem_pool", False)
    return sre_resnet18(**kwargs)


@register_model
def sre_resnet_light(**kwargs) -> SREResNet:
    """A light SRE ResNet that trains on 2 CPU cores in minutes at 32^3: basic blocks ``[1, 1, 1, 1]``,
    16-128 channels, k=3, a symmetric max pool after the stem."""
    kwargs.setdefault("block_inplanes", [16, 32, 64, 128])
    kwargs.setdefault("stem_pool", True)
    return SREResNet("basic", [1, 1, 1, 1], **kwargs)

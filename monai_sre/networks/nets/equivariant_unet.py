# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""U-Nets whose label maps are exactly equivariant to the grid symmetries: ``seg(g x) == g seg(x)``.

Both networks follow :class:`monai.networks.nets.BasicUNet` (two convolutions per level, max pooling down,
upsampling, concatenation with the encoder's features, two convolutions, a 1x1 head), with every piece replaced
by one that commutes with the 48 axis permutations and flips of the voxel grid:

- the 3x3x3 convolutions are SRE convolutions (:class:`SREUNet`: isotropic kernels, scalar features) or group
  convolutions (:class:`GroupUNet`: the first one lifts the image onto an orientation set, the others keep
  orientation, the 1x1 head projects back to invariant per-voxel logits);
- downsampling is :class:`~monai_sre.networks.layers.SymmetricPool` (max), never a stride;
- upsampling is a 1x1 convolution followed by nearest (or linear) interpolation by two. This is BasicUNet's
  2x2x2 stride-2 transposed convolution constrained to the grid symmetries (all eight taps of a symmetric 2x2x2
  kernel are equal); a 3x3x3 stride-2 transposed convolution with ``output_padding`` is not symmetric.
  The 1x1 convolution commutes with the interpolation, so it runs at the coarse resolution;
- skip connections concatenate along channels (for group features, channels per orientation add up);
- normalisation is per channel over space (shared over orientations for group features).

Accepted inputs: a U-Net of depth ``d`` (``len(features) - 2`` poolings) takes spatial sizes that are multiples of
``2**d`` (16, 32, 48, ... for the depth-4 light networks), so that every pooling sees an even size and every
upsampling restores it exactly; other sizes raise a ``ValueError`` naming the shape. Non-cubic inputs are
accepted; a symmetry then applies where it maps the shape onto itself. In eval mode (normalisation on running
statistics) the label map is exactly equivariant, to float round-off, to the network's :attr:`symmetry_group`.
Training with batch norm needs more than one value per channel at the coarsest level (a batch of one 16^3 input
leaves one voxel there at depth 4; 32^3 patches leave eight).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from monai.networks.blocks import UpSample
from monai.networks.layers.factories import Conv
from monai.networks.layers.utils import get_act_layer, get_norm_layer
from monai.utils import look_up_option
from torch import nn

from monai_sre.arguments import check_per_stage, check_positive_int, check_positive_ints
from monai_sre.deprecation import RenamedAttributes
from monai_sre.groups import GRID_GROUPS, grid_group
from monai_sre.networks.layers.group_conv import GroupConv
from monai_sre.networks.layers.group_norm import group_feature_norm
from monai_sre.networks.layers.sre_conv import SREConv
from monai_sre.networks.layers.symmetric_pool import SymmetricPool
from monai_sre.networks.nets.registry import register_model

__all__ = ["GroupUNet", "SREUNet", "group_unet_light", "sre_unet_light"]

# encoder widths of the five levels (depth 4), then the last decoder level: BasicUNet's six features
LIGHT_FEATURES = (8, 16, 32, 64, 128, 8)
# GroupUNet's (and group_unet_light's) widths per orientation: 8 invariant channels at full resolution
GROUP_LIGHT_FEATURES = (8, 2, 4, 8, 16, 8)
# conv(in_channels, out_channels, source level, target level, pointwise): level None is the image or the logits
ConvFactory = Callable[[int, int, "int | None", "int | None", bool], nn.Module]


def _unet_features(features: Sequence[int]) -> tuple[int, ...]:
    """Check a symmetric U-Net's ``features`` (``depth + 2 >= 3`` positive ints) and return them as a tuple."""
    widths = check_positive_ints("features", features)
    if len(widths) < 3:
        raise ValueError(
            "features must be depth + 2 >= 3 positive ints (the encoder levels, then the last decoder level), "
            f"got {features!r}."
        )
    return widths


class _UpCat(nn.Module):
    """1x1 convolution, interpolation by two, concatenation after the encoder's features, two convolutions."""

    def __init__(self, pre_conv: nn.Module, upsample: nn.Module, convs: nn.Module) -> None:
        super().__init__()
        self.pre_conv = pre_conv
        self.upsample = upsample
        self.convs = convs

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.convs(torch.cat([skip, self.upsample(self.pre_conv(x))], dim=1))


class _SymmetricUNet(nn.Module):
    """BasicUNet's layout at any depth, built from a factory of equivariant convolutions (SREUNet, GroupUNet).

    Args:
        spatial_dims: 2 or 3.
        in_channels: input channels (a plain image).
        out_channels: output channels per voxel (class logits).
        features: ``depth + 2`` widths (BasicUNet's six at depth 4): the encoder's ``depth + 1`` levels, then the
            last decoder level; decoder level ``i > 0`` has the encoder's width ``features[i]``.
        interp_mode: ``"nearest"`` or ``"linear"`` upsampling.
        conv: ``(in_channels, out_channels, source, target, pointwise) -> module``: a stride-1 "same" convolution
            from the features of level ``source`` to those of level ``target`` (``None``: the input image, or the
            logits), 1x1 where ``pointwise``; channels count per orientation of the level.
        norm: ``(channels, level) -> module``: the normalisation after each convolution of a level.
        act: activation, a name or ``(name, kwargs)``.
        dropout: dropout probability after every activation.
    """

    # no annotation: TorchScript reads class annotations and cannot parse PEP 604 strings ('str | None')
    symmetry_group = None  # the subclass's group name (str); set per instance

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        features: Sequence[int],
        interp_mode: str,
        conv: ConvFactory,
        norm: Callable[[int, int], nn.Module],
        act: str | tuple,
        dropout: float,
    ) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims!r}.")
        check_positive_int("in_channels", in_channels)
        check_positive_int("out_channels", out_channels)
        widths = _unet_features(features)
        interp_mode = look_up_option(interp_mode, ("nearest", "linear"))
        self.spatial_dims = spatial_dims
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.features = widths
        self.depth = len(widths) - 2

        def two_conv(cin: int, cout: int, source: int | None, level: int) -> nn.Sequential:
            """conv-norm-act(-dropout) twice, the first from level ``source`` to ``level``."""
            layers: list[nn.Module] = []
            for width, start in ((cin, source), (cout, level)):
                layers += [conv(width, cout, start, level, False), norm(cout, level), get_act_layer(act)]
                layers += [nn.Dropout(dropout)] if dropout else []
            return nn.Sequential(*layers)

        encoder = widths[:-1]
        self.down = nn.ModuleList([two_conv(in_channels, encoder[0], None, 0)])
        for level in range(1, len(encoder)):
            pool = SymmetricPool(spatial_dims, "max")
            self.down.append(nn.Sequential(pool, two_conv(encoder[level - 1], encoder[level], level - 1, level)))
        self.up = nn.ModuleList()
        for level in range(self.depth, 0, -1):  # coarsest first, each up to level - 1
            width = encoder[level]
            up_width = width if level == 1 else max(1, width // 2)  # BasicUNet halves, except on the last level
            out_width = widths[-1] if level == 1 else encoder[level - 1]
            pre_conv = conv(width, up_width, level, level - 1, True)
            upsample = UpSample(
                spatial_dims,
                scale_factor=2,
                mode="nontrainable",
                interp_mode=interp_mode,  # "linear": MONAI picks bilinear or trilinear
                align_corners=None if interp_mode == "nearest" else False,
            )
            convs = two_conv(encoder[level - 1] + up_width, out_width, level - 1, level - 1)
            self.up.append(_UpCat(pre_conv, upsample, convs))
        self.head = conv(widths[-1], out_channels, 0, None, True)

    @property
    def size_multiple(self) -> int:
        """Every spatial size of an input must be a multiple of this: ``2**depth``."""
        return 1 << self.depth

    def check_input(self, x: torch.Tensor) -> None:
        """Raise a ``ValueError`` naming the shape unless ``x`` is ``(batch, in_channels, *spatial)`` with every
        spatial size a positive multiple of :attr:`size_multiple`."""
        if x.dim() != self.spatial_dims + 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"{type(self).__name__} expects input of shape (batch, {self.in_channels}, {self.spatial_dims} "
                f"spatial dims), got {list(x.shape)}."
            )
        multiple = self.size_multiple
        if any(n == 0 or n % multiple for n in x.shape[2:]):
            raise ValueError(
                f"{type(self).__name__} of depth {self.depth} needs every spatial size to be a multiple of "
                f"2**{self.depth} = {multiple} ({multiple}, {2 * multiple}, {3 * multiple}, ...) for exact "
                f"equivariance, got input shape {list(x.shape)}; pad or crop the input first."
            )

    @torch.jit.unused
    def _check_input_eagerly(self, x):  # no annotations: TorchScript cannot read those of unused methods
        self.check_input(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Per-voxel logits ``(batch, out_channels, *spatial)`` of an input ``(batch, in_channels, *spatial)``."""
        # a traced graph would keep the outcome as a constant (and warn); TorchScript cannot compile the message
        if not torch.jit.is_tracing() and not torch.jit.is_scripting():
            self._check_input_eagerly(x)
        skips: list[torch.Tensor] = []
        for level, down in enumerate(self.down):
            if level:
                skips.append(x)
            x = down(x)
        for level, up in enumerate(self.up):  # coarsest first: the skips in reverse order
            x = up(x, skips[len(skips) - 1 - level])
        return self.head(x)


class SREUNet(_SymmetricUNet):
    """U-Net of SRE convolutions (BasicUNet's layout): label maps exactly equivariant to every grid symmetry.

    Every feature map is a scalar field (SRE kernels are isotropic), so in eval mode ``seg(g x) == g seg(x)`` holds
    to float round-off for all 48 axis permutations and flips in 3D (8 in 2D): :attr:`symmetry_group` is ``"Oh"``
    (``"D4"`` in 2D). Arguments follow :class:`monai.networks.nets.BasicUNet` where they mean the same.

    Args:
        spatial_dims: 2 or 3.
        in_channels: input channels.
        out_channels: output channels (class logits per voxel).
        features: ``depth + 2`` widths, as BasicUNet's six at depth 4: the encoder's ``depth + 1`` levels, then
            the last decoder level (decoder level ``i > 0`` has width ``features[i]``). Default BasicUNet's.
        kernel_size: odd SRE kernel size of the two convolutions per level.
        act: activation, a name or ``(name, kwargs)``.
        norm: normalisation, a name or ``(name, kwargs)``: ``"batch"``, ``"instance"``, ``"group"`` act per channel
            over space, so they keep equivariance.
        dropout: dropout probability after every activation (training only).
        interp_mode: upsampling by ``"nearest"`` (default) or ``"linear"`` interpolation, both exactly symmetric.
        num_bands: SRE bands per kernel; ``None`` for the layout's default.
        band_layout: SRE band layout.
        conv_path: how every SRE convolution computes (``"auto"``, ``"dense"``, ``"bands"``; see
            :class:`~monai_sre.networks.layers.SREConv`).

    Accepted inputs: every spatial size a multiple of ``2**depth`` (``2**4 = 16`` for the default features);
    others raise a ``ValueError`` naming the shape.

    Raises:
        ValueError: on bad dims, channels, features or options; the message names the value.

    Example::

        >>> net = SREUNet(3, in_channels=1, out_channels=4, features=(4, 8, 16, 4))
        >>> net(torch.randn(2, 1, 16, 16, 16)).shape
        torch.Size([2, 4, 16, 16, 16])
    """

    def __init__(
        self,
        spatial_dims: int = 3,
        in_channels: int = 1,
        out_channels: int = 2,
        features: Sequence[int] = (32, 32, 64, 128, 256, 32),
        kernel_size: int = 3,
        act: str | tuple = ("relu", {"inplace": True}),
        norm: str | tuple = "batch",
        dropout: float = 0.0,
        interp_mode: str = "nearest",
        num_bands: int | None = None,
        band_layout: str = "linear",
        conv_path: str = "auto",
    ) -> None:
        sre = dict(kernel_size=kernel_size, num_bands=num_bands, band_layout=band_layout, bias=False, path=conv_path)

        def conv(cin: int, cout: int, source: int | None, target: int | None, pointwise: bool) -> nn.Module:
            if pointwise:  # a single tap is symmetric already
                return Conv[Conv.CONV, spatial_dims](cin, cout, kernel_size=1)
            return SREConv(spatial_dims, cin, cout, **sre)

        super().__init__(
            spatial_dims,
            in_channels,
            out_channels,
            features,
            interp_mode,
            conv=conv,
            norm=lambda channels, level: get_norm_layer(norm, spatial_dims, channels),
            act=act,
            dropout=dropout,
        )
        self.symmetry_group = {2: "D4", 3: "Oh"}[spatial_dims]


class GroupUNet(RenamedAttributes, _SymmetricUNet):
    """U-Net of group convolutions (BasicUNet's layout) that keeps orientation; equivariant label maps.

    The first convolution lifts the image onto an orientation set (``space``), the encoder and decoder keep it
    (channels count per orientation; concatenation adds them up per orientation; each level may have its own
    set), and the 1x1 head projects onto per-voxel logits invariant to the orientation. In eval mode
    ``seg(g x) == g seg(x)`` holds to float round-off for every element ``g`` of ``group`` (:attr:`symmetry_group`).

    The defaults are the recipe that segments the tissue task (the registered ``group_unet_light`` builds
    exactly this network): widths ``(8, 2, 4, 8, 16, 8)`` and no orientation at full resolution (``"trivial"``:
    8 channels with kernels invariant to the group, as costly as the SRE U-Net's), the group's default orientation
    set below (2-4-8-16 channels per orientation over Oh's 24 rotations, 48-384 in all). The former defaults,
    ``features=(1, 2, 4, 8, 16, 1)`` with orientation kept at every level (``space="rotations"``), learned only
    the white matter on the tissue task.

    Cost: a group convolution with ``C`` channels per orientation costs a plain convolution with ``C * |X|``
    channels, so ``features`` are small.

    Args:
        spatial_dims: 2 or 3.
        in_channels: input channels (a plain image).
        out_channels: output channels (class logits per voxel).
        features: ``depth + 2`` widths per orientation, as BasicUNet's six at depth 4 (the encoder's levels,
            then the last decoder level). Default ``(8, 2, 4, 8, 16, 8)``.
        group: ``"Oh"`` (all 48 grid symmetries, default) or ``"O"`` (the 24 rotations) in 3D; ``"D4"`` or
            ``"C4"`` in 2D.
        space: orientation set of the hidden features, one for every level or one per level (``depth + 1``, finest
            first; the decoder uses its encoder level's). ``None`` (default): ``"trivial"`` at the full-resolution
            level and the group's default set at the others: ``"rotations"`` for Oh (the 24 rotations, on which a
            mirror image acts as its rotation part: O's cost and equivariance to all 48, but every kernel is
            symmetric under the point reflection), ``"regular"`` for the other groups. ``"regular"`` with Oh keeps
            48 orientations at four times the cost; ``"axes"`` (3) and ``"diagonals"`` (4) are cheap quotients,
            ``"trivial"`` (1) keeps no orientation (kernels invariant to the group) and suits the costly
            full-resolution level.
        kernel_size: odd kernel size of the two group convolutions per level.
        act: activation, a name or ``(name, kwargs)``.
        norm: ``"batch"`` (:class:`~monai_sre.networks.layers.GroupBatchNorm`), ``"instance"`` or ``("group",
            {"num_groups": g})`` (:class:`~monai_sre.networks.layers.OrientationGroupNorm`, ``g`` reduced to a
            divisor of each level's width); statistics and affine parameters are shared over orientations.
        dropout: dropout probability after every activation (training only).
        interp_mode: upsampling by ``"nearest"`` (default) or ``"linear"`` interpolation.

    Accepted inputs: every spatial size a multiple of ``2**depth`` (16 for the default features); others raise a
    ``ValueError`` naming the shape. ``spaces`` and ``num_orientations`` hold the orientation set of every level
    and its size (``points``, its former name, is deprecated).

    Raises:
        ValueError: on an unknown group or space, a group of the wrong dimension, bad channels or features.

    Example::

        >>> net = GroupUNet(3, in_channels=1, out_channels=3, features=(1, 2, 1))
        >>> net.spaces
        ('trivial', 'rotations')
        >>> net(torch.randn(1, 1, 8, 8, 8)).shape
        torch.Size([1, 3, 8, 8, 8])
    """

    renamed_attributes = {"points": "num_orientations"}  # the old name reads the new one, warning once

    def __init__(
        self,
        spatial_dims: int = 3,
        in_channels: int = 1,
        out_channels: int = 2,
        features: Sequence[int] = GROUP_LIGHT_FEATURES,
        group: str = "Oh",
        space: str | Sequence[str] | None = None,
        kernel_size: int = 3,
        act: str | tuple = ("relu", {"inplace": True}),
        norm: str | tuple = "batch",
        dropout: float = 0.0,
        interp_mode: str = "nearest",
    ) -> None:
        group_dims, _ = look_up_option(group, GRID_GROUPS)
        if spatial_dims != group_dims:
            raise ValueError(f"group '{group}' acts on {group_dims} spatial dims, got spatial_dims={spatial_dims}.")
        levels = len(_unet_features(features)) - 1
        if space is None:  # the full-resolution level keeps no orientation, the others the group's default set
            space = ("trivial",) + ("rotations" if group == "Oh" else "regular",) * (levels - 1)
        spaces = check_per_stage("space", space, levels, stage="level")
        orientations = tuple(grid_group(group).space_size(level_space) for level_space in spaces)  # validates them

        def conv(cin: int, cout: int, source: int | None, target: int | None, pointwise: bool) -> nn.Module:
            # level None: the image (lifting from it) or the logits (projection onto invariant ones)
            in_space = "trivial" if source is None else spaces[source]
            out_space = "trivial" if target is None else spaces[target]
            size = 1 if pointwise else kernel_size
            return GroupConv(spatial_dims, cin, cout, size, group, in_space, out_space, bias=pointwise)

        super().__init__(
            spatial_dims,
            in_channels,
            out_channels,
            features,
            interp_mode,
            conv=conv,
            norm=lambda channels, level: group_feature_norm(norm, channels, orientations[level]),
            act=act,
            dropout=dropout,
        )
        self.group = group
        self.spaces = spaces
        self.num_orientations = orientations
        self.symmetry_group = group


@register_model(task="segmentation")
def sre_unet_light(in_channels: int = 1, out_channels: int = 2, spatial_dims: int = 3, **kwargs) -> SREUNet:
    """A light SRE U-Net for 32^3 patches on 2 CPU cores: BasicUNet's depth-4 layout, widths 8-16-32-64-128 and 8
    on the last decoder level, k=3, ReLU, batch norm (kwargs override). 111 k parameters (1 input channel, 4
    classes), the train step of ``plain_unet_light`` (1.4 M). Takes spatial sizes that are multiples of 16."""
    kwargs.setdefault("features", LIGHT_FEATURES)
    return SREUNet(spatial_dims, in_channels, out_channels, **kwargs)


@register_model(task="segmentation")
def group_unet_light(in_channels: int = 1, out_channels: int = 2, spatial_dims: int = 3, **kwargs) -> GroupUNet:
    """A light group U-Net: :class:`GroupUNet` with its defaults, built with the registry's argument order.

    BasicUNet's depth-4 layout, equivariant to all 48 grid symmetries. The full-resolution level (the first
    encoder and last decoder level) keeps no orientation: 8 channels with kernels invariant to the group, as costly
    as the SRE U-Net's; the coarser levels keep orientation (Oh acting on the 24 rotations) with 2-4-8-16 channels
    per orientation (48-384 in all). k=3, ReLU, batch norm (kwargs override; without ``space``, the finest level is
    ``"trivial"`` and the others the group's default). 260 k parameters (1 input channel, 4 classes), about 2.5x
    the train step of ``sre_unet_light``. Takes spatial sizes that are multiples of 16."""
    return GroupUNet(spatial_dims, in_channels, out_channels, **kwargs)

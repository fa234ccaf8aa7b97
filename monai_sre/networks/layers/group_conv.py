# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Group convolution over the symmetry groups of the voxel grid: exact, orientation-keeping equivariance.

An SRE kernel is invariant under every grid symmetry, so SRE features cannot tell directions apart. A group
convolution keeps orientation: its features carry, besides the channel, a point of a small set ``X`` that the
group permutes (an *orientation set*, :meth:`monai_sre.groups.GridGroup.action`):

- ``"regular"``: ``X = G`` (24 for the cube's rotations O, 48 for Oh, 4 for C4, 8 for D4): the regular group
  convolution of Cohen & Welling (2016) and CubeNet (Worrall & Brostow, 2018);
- ``"axes"`` / ``"diagonals"``: the 3 coordinate axes or the 4 body diagonals (2 and 2 in 2D): quotients of the
  group, far cheaper, whose kernels are symmetric about their axis/diagonal;
- ``"trivial"``: one point (invariant features, e.g. the input image).

The weight is shared over the orbits of the group acting on (output point, input point, kernel tap)
(:func:`monai_sre.groups.kernel_orbits`): every learnable value is one orbit, and the dense kernel
``W[c, x, c', x', u]`` takes the value of the orbit of ``(x, x', u)``. That is exactly the condition
``W(g x, g x', g u) = W(x, x', u)`` for equivariance:

    layer(g . f) == g . layer(f),  where (g . f)[c, x](p) = f[c, g^-1 x](g^-1 p).

From ``"trivial"`` to ``"regular"`` this is the lifting convolution, from ``"regular"`` to ``"regular"`` the
group convolution with the stored kernel ``(C_out, C_in, |G|, k^d)``, and from ``"trivial"`` to ``"trivial"`` a
kernel invariant under the whole group (the finest SRE band layout). Every group element only re-indexes kernel
taps, so equivariance is exact (no interpolation) under the grid symmetries of the group.

Features are stored flat, ``(batch, channels * |X|, *spatial)`` with the point index fastest (channel ``c``,
point ``x`` at ``c * |X| + x``: the contract of :mod:`~monai_sre.networks.layers.group_features`, which
``in_type`` and ``out_type`` describe and the forward pass checks), so the layer is one ordinary convolution with
``out_channels * |X_out|`` outputs and ``in_channels * |X_in|`` inputs: it costs what a plain convolution of those
widths costs. The dense kernel
is gathered from the weight on every call while training; off the CPU it is reused while the weight is unchanged
and no gradient flows into it (eval; :mod:`~monai_sre.networks.layers.kernel_cache`, keyed on the weight's version
counter, so it never goes stale); ``to_dense()`` returns the equivalent ``nn.ConvNd`` for TorchScript/ONNX export.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from monai.networks.layers.factories import Conv
from monai.utils import ensure_tuple_rep, look_up_option
from torch import nn

from monai_sre.arguments import check_odd_positive_int, check_positive_int
from monai_sre.deprecation import RenamedAttributes, deprecated_names
from monai_sre.groups import GRID_GROUPS, grid_group
from monai_sre.groups import kernels as group_kernels
from monai_sre.networks.layers.autocast import convolution
from monai_sre.networks.layers.convutils import PADDING_MODES, same_padding
from monai_sre.networks.layers.group_features import GroupFeatureType, check_group_features
from monai_sre.networks.layers.kernel_cache import KernelCachingModule

__all__ = ["GroupConv"]

# moved beside the groups: monai_sre.groups.tap_action, monai_sre.groups.kernel_orbits
__getattr__ = deprecated_names(
    __name__, {name: f"monai_sre.groups.kernels:{name}" for name in ("kernel_orbits", "tap_action")}
)


class GroupConv(RenamedAttributes, KernelCachingModule):
    """Convolution equivariant to a group of grid symmetries, between features on orientation sets.

    Args:
        spatial_dims: 2 or 3 (the group must act on that many dims).
        in_channels: channels per point of ``in_space`` (the input has ``in_channels * |X_in|`` channels).
        out_channels: channels per point of ``out_space``.
        kernel_size: odd int (a cubic kernel: only cubic kernels map onto themselves).
        group: ``"O"`` (24 rotations of the cube, default) or ``"Oh"`` (48 symmetries) in 3D; ``"C4"`` or
            ``"D4"`` in 2D.
        in_space: orientation set of the input: ``"trivial"`` (a plain image: lifting), ``"regular"``,
            ``"axes"`` or ``"diagonals"``.
        out_space: orientation set of the output (same choices).
        dilation: kernel dilation.
        bias: a learnable bias per output channel, shared over the output points (so it stays equivariant).
        padding: voxels added on every side of every axis; ``None`` (default) for "same" padding
            (``dilation * (kernel_size - 1) // 2``), ``0`` for a "valid" convolution. One value for all sides and
            axes, so the padded input keeps every grid symmetry.
        padding_mode: ``"zeros"`` (default), ``"reflect"``, ``"replicate"`` or ``"circular"``, as for
            ``nn.Conv3d``; each pads every side alike, so equivariance stays exact.
        device: device of the parameters.
        dtype: dtype of the parameters.

    The stride is 1, which keeps exact equivariance (downsample with
    :class:`~monai_sre.networks.layers.SymmetricPool`). ``in_type`` and ``out_type``
    (:class:`~monai_sre.networks.layers.GroupFeatureType`) describe the features read and written; ``in_orientations``
    and ``out_orientations`` are the sizes of the two orientation sets. The forward pass refuses an input of
    another width or dimension, naming what it expected (a plain tensor where orientations are expected, too).

    Raises:
        ValueError: on an unknown group or space, a group of the wrong dimension, an even kernel or bad
            channels; the message names the value. In the forward pass: on input that is not
            ``(batch, in_channels * in_orientations, *spatial)`` with ``spatial_dims`` spatial dims.

    Example::

        >>> lift = GroupConv(3, 1, 4, 3, group="O", in_space="trivial", out_space="regular")
        >>> lift(torch.randn(2, 1, 9, 9, 9)).shape   # 4 channels x 24 rotations
        torch.Size([2, 96, 9, 9, 9])
    """

    __constants__ = [
        "spatial_dims",
        "in_channels",
        "out_channels",
        "in_orientations",
        "out_orientations",
        "kernel_size",
        "dilation",
        "padding",
        "padding_mode",
    ]
    # Python-only (math.prod): TorchScript skips it
    __jit_unused_properties__ = ["fan_in"]
    renamed_attributes = {"in_points": "in_orientations", "out_points": "out_orientations"}

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        group: str = "O",
        in_space: str = "regular",
        out_space: str = "regular",
        dilation: int = 1,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        padding: int | None = None,
        padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        group_dims, _ = look_up_option(group, GRID_GROUPS)
        if spatial_dims != group_dims:
            raise ValueError(f"group '{group}' acts on {group_dims} spatial dims, got spatial_dims={spatial_dims}.")
        check_positive_int("in_channels", in_channels)
        check_positive_int("out_channels", out_channels)
        check_positive_int("dilation", dilation)
        check_odd_positive_int("kernel_size", kernel_size)
        self.in_type = GroupFeatureType(group, in_space, in_channels)
        self.out_type = GroupFeatureType(group, out_space, out_channels)
        self.group = grid_group(group)
        self.in_space, self.out_space = in_space, out_space
        self.spatial_dims = spatial_dims
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.in_orientations = self.in_type.num_orientations
        self.out_orientations = self.out_type.num_orientations
        self._expected_input = self.in_type.expected_by(self)  # for the forward pass's check
        self.kernel_size = ensure_tuple_rep(kernel_size, spatial_dims)
        self.dilation = ensure_tuple_rep(dilation, spatial_dims)
        same = same_padding(self.kernel_size, self.dilation)
        if padding is None:
            padding = same[0]
        if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
            raise ValueError(f"padding must be None ('same') or one int >= 0 for every side and axis, got {padding!r}.")
        self.padding_mode = look_up_option(padding_mode, PADDING_MODES)
        self.padding = ensure_tuple_rep(padding, spatial_dims)
        self._same_padding = self.padding == same  # for the repr
        # F.pad's per-side list for the modes other than zeros; then the convolution itself pads nothing
        self._mode_padding = [padding] * (2 * spatial_dims)
        self._conv_padding = self.padding if self.padding_mode == "zeros" else ensure_tuple_rep(0, spatial_dims)
        orbits = group_kernels.kernel_orbits(self.group, self.out_space, self.in_space, kernel_size)
        self.num_orbits = int(orbits.max()) + 1
        factory = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, self.num_orbits, **factory))
        self.bias = nn.Parameter(torch.empty(out_channels, **factory)) if bias else None
        # derived from the arguments: never saved in state dicts
        self.register_buffer("orbit_index", torch.tensor(orbits, dtype=torch.long, device=device), persistent=False)
        self.reset_parameters()

    @property
    def fan_in(self) -> int:
        return self.in_channels * self.in_orientations * math.prod(self.kernel_size)

    def reset_parameters(self) -> None:
        """``uniform(-1/sqrt(fan_in), 1/sqrt(fan_in))`` as ``nn.ConvNd`` initialises a dense kernel of this shape."""
        bound = 1.0 / math.sqrt(self.fan_in)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def dense_weight(self) -> torch.Tensor:
        """The kernel of the equivalent plain convolution: ``(out_channels * |X_out|, in_channels * |X_in|, *k)``."""
        dense = self.weight[:, :, self.orbit_index]  # (C_out, C_in, n, m, T)
        dense = dense.permute(0, 2, 1, 3, 4)
        return dense.reshape(
            self.out_channels * self.out_orientations, self.in_channels * self.in_orientations, *self.kernel_size
        )

    def dense_bias(self) -> torch.Tensor | None:
        return None if self.bias is None else self.bias.repeat_interleave(self.out_orientations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_group_features(x, self._expected_input, self.in_channels, self.in_orientations, self.spatial_dims)
        ones = [1] * self.spatial_dims
        if self.padding_mode != "zeros":
            x = F.pad(x, self._mode_padding, mode=self.padding_mode)
        if torch.jit.is_scripting():
            weight, bias = self.dense_weight(), self.dense_bias()
            return torch.convolution(
                x, weight, bias, ones, self._conv_padding, self.dilation, False, [0] * len(ones), 1
            )
        weight, bias = self._cached_dense_weight_and_bias()
        return convolution(x, weight, bias, ones, self._conv_padding, self.dilation, False, [0] * len(ones), 1)

    @torch.jit.unused
    def _cached_dense_weight_and_bias(self):  # no annotations: TorchScript cannot read those of unused methods
        """Kernel and bias, reused while the weights are unchanged and no gradient flows into them (see
        :mod:`~monai_sre.networks.layers.kernel_cache`)."""
        return self.kernel_cache.get((self.weight, self.bias, self.orbit_index), self._dense_weight_and_bias)

    @torch.jit.unused
    def _dense_weight_and_bias(self):
        return self.dense_weight(), self.dense_bias()

    def to_dense(self) -> nn.Module:
        """An equivalent plain ``nn.Conv2d``/``nn.Conv3d`` holding the dense kernel (for TorchScript/ONNX export)."""
        conv = Conv[Conv.CONV, self.spatial_dims](
            self.in_channels * self.in_orientations,
            self.out_channels * self.out_orientations,
            self.kernel_size,
            padding=self.padding,
            padding_mode=self.padding_mode,
            dilation=self.dilation,
            bias=self.bias is not None,
            device=self.weight.device,
            dtype=self.weight.dtype,
        )
        with torch.no_grad():
            conv.weight.copy_(self.dense_weight())
            if self.bias is not None:
                conv.bias.copy_(self.dense_bias())
        return conv

    def extra_repr(self) -> str:
        text = (
            f"spatial_dims={self.spatial_dims}, {self.in_channels}, {self.out_channels}, "
            f"kernel_size={self.kernel_size[0]}, group='{self.group.name}', "
            f"{self.in_space}({self.in_orientations}) -> {self.out_space}({self.out_orientations}), "
            f"orbits={self.num_orbits}"
        )
        if any(d != 1 for d in self.dilation):
            text += f", dilation={self.dilation[0]}"
        if not self._same_padding:
            text += f", padding={self.padding[0]}"
        if self.padding_mode != "zeros":
            text += f", padding_mode='{self.padding_mode}'"
        if self.bias is None:
            text += ", bias=False"
        return text

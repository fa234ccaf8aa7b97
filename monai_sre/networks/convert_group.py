# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Turn an existing PyTorch/MONAI CNN into a group-equivariant network that keeps orientation.

:func:`convert_to_group` replaces, after construction, every convolution by a
:class:`~monai_sre.networks.layers.GroupConv` over an orientation set of a group of grid symmetries, with the
same total width (``C`` channels become ``C / |X|`` channels on each of the ``|X|`` orientations), so the cost
stays about that of the original network while the parameters drop:

=========================================  ==================================================================
module                                     replacement
=========================================  ==================================================================
convolution that reads the image           lifting ``GroupConv`` from the plain image (``"trivial"``) to
                                           ``space``
convolution that writes the output         ``GroupConv`` from ``space`` to ``"trivial"``: plain channels again
                                           (a segmentation network's class logits, equivariant as a map)
other convolutions, 1x1 included           ``GroupConv`` from ``space`` to ``space`` (a 1x1 one mixes
                                           orientations equivariantly)
strided convolution / pool, stride 2       ``SymmetricPool`` + stride-1 layer (as :func:`convert_to_sre`)
transposed convolution, stride s           ``Upsample(s, nearest)`` + ``GroupConv``
``BatchNorm1d/2d/3d(C)``                   :class:`~monai_sre.networks.layers.GroupBatchNorm` (statistics
                                           shared over orientations); kept where it reads plain features
``GroupNorm(G, C)``, ``InstanceNormNd``    :class:`~monai_sre.networks.layers.OrientationGroupNorm` (groups
                                           of whole orientation sets; one per channel for instance norm)
``nn.Linear`` reading orientations         :class:`~monai_sre.networks.layers.GroupPool` (mean over
(the classifier head)                      orientations) + ``Linear(C / |X|, out)``: invariant logits
=========================================  ==================================================================

Which convolutions read the image or write the output is found by running one probe input through the network
(:mod:`~monai_sre.networks.data_flow`), not from module order: a residual unit's residual convolution reads the
image beside its first convolution.

Pointwise activations, global average pooling and flattening are equivariant as they are. Anything else is kept
and listed in the report; a network whose widths are not multiples of ``|X|`` is refused, naming the layer.
Weights are freshly initialised (a dense kernel has no meaningful projection onto orientation-shared kernels).
With the default ``Oh`` group the converted classifier's logits are exactly invariant to the 48 grid symmetries.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

from monai.networks.layers.factories import Norm
from monai.utils import look_up_option
from torch import nn

from monai_sre.groups import GRID_GROUPS, GROUP_SPACES, grid_group
from monai_sre.networks.convert import ConversionReport, ModuleConverter, count_parameters
from monai_sre.networks.data_flow import INPUT, DataFlow, trace_data_flow
from monai_sre.networks.layers.convutils import same_padding
from monai_sre.networks.layers.group_conv import GroupConv
from monai_sre.networks.layers.group_norm import GroupBatchNorm, OrientationGroupNorm
from monai_sre.networks.layers.group_pool import GroupPool
from monai_sre.networks.layers.symmetric_pool import SymmetricPool

__all__ = ["convert_to_group"]

_BATCH_NORMS = tuple(Norm[Norm.BATCH, d] for d in (1, 2, 3))
_INSTANCE_NORMS = tuple(Norm[Norm.INSTANCE, d] for d in (1, 2, 3))
_NORMS = (*_BATCH_NORMS, *_INSTANCE_NORMS, nn.GroupNorm)
_CONVS = ModuleConverter.conv_types + ModuleConverter.conv_transpose_types
_PROBE_SIZE = 32


def _factory(module: nn.Module) -> dict:
    """``device`` and ``dtype`` of ``module``'s floating-point tensors, for its replacement (empty if none)."""
    tensor = next((t for t in (*module.parameters(), *module.buffers()) if t.is_floating_point()), None)
    return {} if tensor is None else {"device": tensor.device, "dtype": tensor.dtype}


class _GroupConverter(ModuleConverter):
    def __init__(
        self,
        group: str,
        space: str,
        widths: str,
        skip: Sequence[str],
        flow: DataFlow | None,
        lifting: Sequence[str],
        linears: Sequence[str],
    ) -> None:
        super().__init__(stride_policy="pool", skip=skip)
        self.group = group
        self.space = space
        self.num_orientations = grid_group(group).space_size(space)
        self.divide = widths == "keep"
        self.flow = flow
        self.lifting = frozenset(lifting)
        self.linears = frozenset(linears)  # their outputs are plain features
        self.heads = flow.output if flow is not None else frozenset()
        self.lifted = False
        self.pooled = False

    def per_orientation(self, channels: int, name: str, what: str) -> int:
        if not self.divide:
            return channels
        if channels % self.num_orientations:
            raise ValueError(
                f"{what} of '{name}' is {channels}, not a multiple of the {self.num_orientations} '{self.space}' "
                f"orientations of {self.group}; widen the network, pick another space or pass "
                "widths='per_orientation'."
            )
        return channels // self.num_orientations

    def reads_plain(self, module: nn.Module, name: str) -> bool:
        """Whether ``module`` reads plain features (the image, a head's output, a linear layer's output) rather
        than features on orientations; a module that reads both is refused."""
        if self.flow is None:  # lifting named, no probe: the named convolutions lift, the first linear pools
            if isinstance(module, _CONVS):
                return name in self.lifting
            return isinstance(module, nn.Linear) and self.pooled
        sources = self.flow.reads.get(name)
        if sources is None:
            self.report.notes.append((name, "not reached by the probe input: converted as reading orientations"))
            return False
        plain = {s for s in sources if s == INPUT or s in self.heads or s in self.linears}
        if plain and plain != sources:
            raise ValueError(
                f"'{name}' reads plain features ({sorted(plain)}) together with features on orientations "
                f"({sorted(sources - plain)}); a group network cannot add or concatenate the two."
            )
        return bool(plain) or not sources

    def convert(self, module: nn.Module, name: str) -> nn.Module | None:
        if isinstance(module, _CONVS):
            return self.convert_any_conv(module, name)
        if isinstance(module, _BATCH_NORMS):
            if self.reads_plain(module, name):
                return None  # after an output convolution: plain features, plain batch norm
            channels = self.per_orientation(module.num_features, name, "num_features")
            return GroupBatchNorm(channels, self.num_orientations, eps=module.eps, momentum=module.momentum,
                                  affine=module.affine, track_running_stats=module.track_running_stats,
                                  **_factory(module))  # fmt: skip
        if isinstance(module, (nn.GroupNorm, *_INSTANCE_NORMS)):
            if self.reads_plain(module, name):
                return None
            return self.convert_channel_norm(module, name)
        if isinstance(module, nn.Linear):
            if self.reads_plain(module, name):
                return None
            self.pooled = True
            features = self.per_orientation(module.in_features, name, "in_features")
            head = nn.Linear(features, module.out_features, bias=module.bias is not None, **_factory(module))
            return nn.Sequential(GroupPool(self.num_orientations, "mean"), head)
        if isinstance(module, self.pool_types):
            return self.convert_pool(module, name)
        return None

    def convert_channel_norm(self, norm: nn.Module, name: str) -> nn.Module:
        """``nn.GroupNorm(G, C)`` as :class:`OrientationGroupNorm` with ``gcd(G, C / |X|)`` groups of whole
        orientation sets, an instance norm as one group per channel (its orientations together); scale and shift
        per channel, shared by its orientations. Per flat channel, the statistics of a group could mix parts of
        two orientation sets, and the scale of one orientation would not follow it under a symmetry."""
        if isinstance(norm, nn.GroupNorm):
            channels = self.per_orientation(norm.num_channels, name, "num_channels")
            groups = math.gcd(norm.num_groups, channels)
        else:
            channels = groups = self.per_orientation(norm.num_features, name, "num_features")
        replacement = OrientationGroupNorm(groups, channels, self.num_orientations, eps=norm.eps, affine=norm.affine)
        return replacement.to(**_factory(norm))

    def convert_any_conv(self, conv: nn.Module, name: str) -> nn.Module:
        dims = len(conv.kernel_size)
        kernel = set(conv.kernel_size)
        transposed = isinstance(conv, self.conv_transpose_types)
        stride = set(conv.stride)
        if len(kernel) != 1 or (kernel.pop() % 2 == 0 and not transposed):
            raise ValueError(f"'{name}' has kernel {tuple(conv.kernel_size)}: a group conv needs an odd cubic kernel.")
        if conv.groups != 1 or len(set(conv.dilation)) != 1:
            raise ValueError(f"'{name}': grouped or anisotropically dilated convolutions are not converted.")
        padding = None  # "same": a transposed conv becomes upsampling + a "same" conv
        if not transposed:
            padding = self.numeric_padding(conv)
            if len(set(padding)) != 1:
                raise ValueError(f"'{name}' has padding {padding}: a group conv pads every axis alike.")
            if stride != {1} and padding != same_padding(conv.kernel_size, conv.dilation):
                raise ValueError(
                    f"'{name}' has stride {tuple(conv.stride)} with padding {padding}: symmetric pooling and a 'same' "
                    "stride-1 group conv cannot give its output size."
                )
            padding = padding[0]
        lifting = self.reads_plain(conv, name)
        self.lifted = self.lifted or lifting
        head = name in self.heads
        in_channels = conv.in_channels if lifting else self.per_orientation(conv.in_channels, name, "in_channels")
        out_channels = conv.out_channels if head else self.per_orientation(conv.out_channels, name, "out_channels")
        size = conv.kernel_size[0] + (1 if transposed and conv.kernel_size[0] % 2 == 0 else 0)
        layer = GroupConv(
            dims, in_channels, out_channels, size, self.group, "trivial" if lifting else self.space,
            "trivial" if head else self.space, dilation=conv.dilation[0], bias=conv.bias is not None,
            padding=padding, padding_mode=conv.padding_mode, **_factory(conv),
        )  # fmt: skip
        if stride == {1}:
            return layer
        if stride != {2} and not transposed:
            raise ValueError(f"'{name}' has stride {tuple(conv.stride)}: only stride 1 or 2 convolutions convert.")
        if transposed:
            return nn.Sequential(nn.Upsample(scale_factor=conv.stride[0], mode="nearest"), layer)
        return nn.Sequential(SymmetricPool(dims, "avg", "ceil"), layer)


def _probe_shape(model: nn.Module) -> tuple[int, ...]:
    """``(channels, 32, ...)`` for the first convolution of ``model`` (in module order)."""
    conv = next((m for m in model.modules() if isinstance(m, _CONVS)), None)
    if conv is None:
        raise ValueError(f"no convolution found in {type(model).__name__}.")
    return (conv.in_channels, *[_PROBE_SIZE] * len(conv.kernel_size))


def convert_to_group(
    model: nn.Module,
    *,
    group: str = "Oh",
    space: str = "axes",
    lifting: str | Sequence[str] | None = None,
    input_shape: Sequence[int] | None = None,
    widths: str = "keep",
    skip: Sequence[str] = (),
    inplace: bool = False,
) -> tuple[nn.Module, ConversionReport]:
    """Replace the convolutions, batch norms, pools and classifier head of ``model`` by group-equivariant ones.

    Which layers read the image and which write the output is found by following one probe input through the
    network (:func:`~monai_sre.networks.data_flow.trace_data_flow`): every convolution that reads the image
    lifts it onto the orientations (in MONAI's residual units, the residual convolution too); every convolution
    whose output is the network's output maps back to plain channels (a segmentation network's per-voxel
    logits stay class logits, now equivariant as a map); a linear layer that reads orientation features averages
    over them first (invariant logits); batch norms and linear layers after the output convolutions stay plain.

    Args:
        model: any ``nn.Module`` (MONAI or plain torch) whose convolutions see the input image first.
        group: ``"Oh"`` (48, default) or ``"O"`` in 3D; ``"D4"`` or ``"C4"`` in 2D.
        space: orientation set of the features: ``"axes"`` (default), ``"diagonals"`` or ``"regular"``.
        lifting: name(s) of the convolution(s) that read the image (``named_modules`` names), for a network the
            probe cannot run: no probe then, the named convolutions lift, the first linear layer pools, the output
            stays on orientations. ``None`` (default): follow the probe input.
        input_shape: ``(channels, *spatial)`` of the probe input; ``None``: the first convolution's input
            channels and 32 voxels per axis.
        widths: ``"keep"`` (default) keeps every layer's total width, ``C / |X|`` channels per orientation (about
            the original cost; widths must be multiples of ``|X|``; output convolutions keep their ``C``);
            ``"per_orientation"`` gives every orientation the original ``C`` channels (any width; ``|X|^2``
            times the cost of the original).
        skip: shell-style patterns of module names to leave untouched.
        inplace: modify ``model`` itself instead of a deep copy.

    Returns:
        the converted model and a :class:`~monai_sre.networks.convert.ConversionReport`.

    Raises:
        ValueError: for an unknown group or space, a layer whose width is not a multiple of the number of
            orientations, a layer that reads the image (or plain outputs) together with orientation features
            (the messages name the layer), or a network the probe input cannot run through.

    Example::

        >>> from monai.networks.nets import resnet18
        >>> net, report = convert_to_group(resnet18(spatial_dims=3, n_input_channels=1, num_classes=2),
        ...                                space="diagonals")  # 64-512 channels split over 4 diagonals
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    look_up_option(group, GRID_GROUPS)
    look_up_option(space, GROUP_SPACES)
    widths = look_up_option(widths, ("keep", "per_orientation"))
    names = [lifting] if isinstance(lifting, str) else list(lifting or ())
    flow = None
    if lifting is None:
        shape = tuple(input_shape) if input_shape is not None else _probe_shape(model)
        flow = trace_data_flow(model, shape, _CONVS + (nn.Linear,), _CONVS + (nn.Linear, *_NORMS))
    linears = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    converter = _GroupConverter(group, space, widths, skip, flow, names, linears)
    converter.report.params_before = count_parameters(model)
    target = model if inplace else copy.deepcopy(model)
    converter.visit(target, "")
    if not converter.lifted:
        named = f" named {names}" if names else " reading the input"
        raise ValueError(f"no convolution{named} found in {type(model).__name__}.")
    converter.report.notes.append(("(model)", "group layers are freshly initialised"))
    converter.report.params_after = count_parameters(target)
    return target, converter.report

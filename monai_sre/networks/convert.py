# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Turn an existing PyTorch/MONAI CNN into an SRE network by replacing its modules.

MONAI networks hardcode ``Conv[Conv.CONV, dim]``, so conversion happens after construction: every
``nn.Conv1d/2d/3d`` with a kernel larger than one tap becomes an :class:`SREConv`, every
``nn.ConvTranspose1d/2d/3d`` an :class:`SREConvTranspose` (or, when strided, nearest upsampling followed by
a stride-1 :class:`SREConv`), and strides, which break equivariance, become symmetric pooling:

==========================================  ===========================================================
module (``stride_policy="pool"``)           replacement
==========================================  ===========================================================
conv, stride 1, odd kernel                  ``SREConv`` with the same geometry
conv, stride 2, "same" padding              ``SymmetricPool(avg)`` + stride-1 ``SREConv`` (same shape)
1x1 conv, stride 2                          ``SymmetricPool(avg)`` + stride-1 1x1 conv
conv transpose, stride 1, odd kernel        ``SREConvTranspose`` with the same geometry
conv transpose, stride s, output ``s * n``  ``Upsample(s, nearest)`` + stride-1 ``SREConv``
max/avg pool, stride 2                      ``SymmetricPool`` with the same output size
1x1 conv, stride 1                          kept: a single tap is already symmetric
anything else                               kept, and listed with the reason in the report
==========================================  ===========================================================

With ``stride_policy="keep"`` strided layers keep their stride (an SRE kernel, but no exact equivariance)
and pools are left alone. Output shapes never change. Pretrained kernels are projected onto the band space
(the least-squares fit: the mean over each band) when ``project_weights=True``.
"""

from __future__ import annotations

import abc
import copy
import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from monai.networks.layers.factories import Conv, Pool
from monai.utils import ensure_tuple, ensure_tuple_rep, look_up_option
from torch import nn

from monai_sre.arguments import check_odd_positive_int
from monai_sre.networks.layers.convutils import checked_tuple_rep, same_padding
from monai_sre.networks.layers.sre_conv import SREConv, SREConvTranspose
from monai_sre.networks.layers.symmetric_pool import SymmetricPool

__all__ = ["ConversionReport", "ModuleConverter", "convert_to_sre", "count_parameters", "describe"]

_DIMS = (1, 2, 3)
_CONVS = tuple(Conv[Conv.CONV, d] for d in _DIMS)
_CONV_TRANSPOSES = tuple(Conv[Conv.CONVTRANS, d] for d in _DIMS)
# pool type -> (spatial dims, mode); read with isinstance, so subclasses of the torch pools convert too
_POOLS = {Pool[kind, d]: (d, mode) for kind, mode in ((Pool.MAX, "max"), (Pool.AVG, "avg")) for d in _DIMS}
# sizes on which output-size rules are compared (both parities, past every kernel used in practice)
_PROBE_SIZES = tuple(range(9, 21))
ALREADY_SYMMETRIC = "1x1 kernel is already symmetric"


@dataclass
class ConversionReport:
    """What :func:`convert_to_sre` did: replaced modules, kept modules with the reason, parameter counts."""

    replaced: list[tuple[str, str, str]] = field(default_factory=list)  # (name, before, after)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (name, note) on replaced modules
    params_before: int = 0
    params_after: int = 0

    def to_dict(self) -> dict:
        return {
            "replaced": [dict(name=n, before=b, after=a) for n, b, a in self.replaced],
            "skipped": [dict(name=n, reason=r) for n, r in self.skipped],
            "notes": [dict(name=n, note=r) for n, r in self.notes],
            "params_before": self.params_before,
            "params_after": self.params_after,
        }

    def __str__(self) -> str:
        ratio = self.params_after / self.params_before if self.params_before else float("nan")
        lines = [
            f"replaced {len(self.replaced)} modules, kept {len(self.skipped)}; parameters "
            f"{self.params_before:,} -> {self.params_after:,} ({ratio:.1%})"
        ]
        lines += [f"  replaced {name}: {before} -> {after}" for name, before, after in self.replaced]
        symmetric = [name for name, reason in self.skipped if reason == ALREADY_SYMMETRIC]
        if symmetric:
            lines.append(f"  kept {len(symmetric)} 1x1 convolutions: {ALREADY_SYMMETRIC}")
        lines += [f"  kept {name}: {reason}" for name, reason in self.skipped if reason != ALREADY_SYMMETRIC]
        lines += [f"  note on {name}: {note}" for name, note in self.notes]
        return "\n".join(lines)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def describe(module: nn.Module) -> str:
    return f"{type(module).__name__}({module.extra_repr()})" if module.extra_repr() else type(module).__name__


def _halves(output_size, rounding: str) -> bool:
    """Whether ``output_size(n)`` equals ``ceil(n / 2)`` (or ``floor``) on every probe size."""
    expected = (lambda n: -(-n // 2)) if rounding == "ceil" else (lambda n: n // 2)
    return all(output_size(n) == expected(n) for n in _PROBE_SIZES)


def _resize_kernel(weight: torch.Tensor, kernel_size: tuple[int, ...]) -> torch.Tensor:
    """Centre-crop or zero-pad the spatial axes of an odd kernel to ``kernel_size`` (odd)."""
    for axis, (old, new) in enumerate(zip(weight.shape[2:], kernel_size)):
        axis += 2
        if new < old:
            weight = weight.narrow(axis, (old - new) // 2, new)
        elif new > old:
            pad = [0, 0] * (weight.dim() - 2)
            side = (new - old) // 2
            pad[2 * (weight.dim() - 1 - axis)] = pad[2 * (weight.dim() - 1 - axis) + 1] = side
            weight = F.pad(weight, pad)
    return weight


def _padding_for_kernel(padding, dilation, old_kernel, new_kernel) -> tuple[int, ...]:
    """Padding that keeps the output size when an odd kernel is resized to another odd size."""
    return tuple(p + d * (n - k) // 2 for p, d, k, n in zip(padding, dilation, old_kernel, new_kernel))


def _transpose_kernel_to_conv(weight: torch.Tensor, groups: int) -> torch.Tensor:
    """The conv kernel ``(out, in/groups, *k)`` a transposed conv kernel ``(in, out/groups, *k)`` applies."""
    in_channels, out_per_group = weight.shape[:2]
    spatial = weight.shape[2:]
    grouped = weight.reshape(groups, in_channels // groups, out_per_group, *spatial).transpose(1, 2)
    return grouped.reshape(groups * out_per_group, in_channels // groups, *spatial).flip(list(range(2, weight.dim())))


class ModuleConverter(abc.ABC):
    """Walks a model and replaces modules: the traversal, the report and symmetric pooling shared by converters.

    Subclasses define :meth:`convert` (a replacement for one module, or ``None`` to descend into it).
    """

    conv_types = _CONVS
    conv_transpose_types = _CONV_TRANSPOSES
    pool_types = tuple(_POOLS)

    def __init__(self, stride_policy: str = "pool", skip: Sequence[str] = ()) -> None:
        self.stride_policy = look_up_option(stride_policy, ("pool", "keep"))
        self.skip = tuple(skip)
        self.report = ConversionReport()

    def visit(self, module: nn.Module, prefix: str) -> None:
        for child_name, child in list(module.named_children()):
            name = prefix + child_name
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in self.skip):
                self.report.skipped.append((name, "matches skip"))
                continue
            replacement = self.convert(child, name)
            if replacement is None:
                self.visit(child, name + ".")
            else:
                setattr(module, child_name, replacement)
                self.report.replaced.append((name, describe(child), describe(replacement)))

    @staticmethod
    def numeric_padding(conv: nn.Module) -> tuple[int, ...]:
        """The padding per axis of an odd-kernel convolution (also given as "same" or "valid")."""
        if conv.padding == "valid":
            return (0,) * len(conv.kernel_size)
        if conv.padding == "same":
            return same_padding(conv.kernel_size, conv.dilation)
        return tuple(conv.padding)

    def keep(self, name: str, reason: str) -> None:
        self.report.skipped.append((name, reason))

    @abc.abstractmethod
    def convert(self, module: nn.Module, name: str) -> nn.Module | None:
        """The replacement of ``module`` (called ``name``), or ``None`` to keep it and visit its children."""

    def convert_pool(self, pool: nn.Module, name: str) -> nn.Module | None:
        """A strided max/avg pool as :class:`SymmetricPool` with the same output size, or kept with the reason."""
        dims, mode = next(value for pool_type, value in _POOLS.items() if isinstance(pool, pool_type))
        kernel, stride, padding = (ensure_tuple_rep(v, dims) for v in (pool.kernel_size, pool.stride, pool.padding))
        if stride == (1,) * dims:
            return None
        dilation = ensure_tuple_rep(getattr(pool, "dilation", 1), dims)
        uniform = len(set(kernel)) == len(set(stride)) == len(set(padding)) == 1 and set(dilation) == {1}
        if uniform and stride[0] == 2 and not getattr(pool, "return_indices", False):
            probe_fn = F.max_pool1d if mode == "max" else F.avg_pool1d
            args = dict(kernel_size=kernel[0], stride=2, padding=padding[0], ceil_mode=pool.ceil_mode)

            def size(n: int) -> int:
                return probe_fn(torch.zeros(1, 1, n), **args).shape[-1]

            for rounding in ("ceil", "floor"):
                if _halves(size, rounding):
                    return SymmetricPool(dims, mode, rounding)
        self.keep(
            name,
            f"{type(pool).__name__} (kernel {kernel}, stride {stride}, padding {padding}) has no "
            "symmetric equivalent with the same output size",
        )
        return None


class _SREConverter(ModuleConverter):
    def __init__(self, kernel_size, num_bands, project_weights, stride_policy, skip) -> None:
        super().__init__(stride_policy, skip)
        self.kernel_size = kernel_size
        self.num_bands = num_bands
        self.project_weights = project_weights

    def convert(self, module: nn.Module, name: str) -> nn.Module | None:
        if isinstance(module, _CONVS):
            return self.convert_conv(module, name)
        if isinstance(module, _CONV_TRANSPOSES):
            return self.convert_conv_transpose(module, name)
        if isinstance(module, tuple(_POOLS)) and self.stride_policy == "pool":
            return self.convert_pool(module, name)
        return None

    # geometry -----------------------------------------------------------------------------------------------

    def new_kernel(self, kernel: tuple[int, ...], name: str) -> tuple[int, ...]:
        if self.kernel_size is None:
            return kernel
        dims = len(kernel)
        new = checked_tuple_rep(self.kernel_size, dims, "kernel_size", f"an odd int or {dims} odd ints for '{name}'")
        # axes of extent 1 (a 1 x 3 x 3 kernel) keep their extent
        return tuple(1 if k == 1 else n for k, n in zip(kernel, new))

    def project(self, layer: nn.Module, conv_weight: torch.Tensor, bias: torch.Tensor | None, name: str) -> None:
        if not self.project_weights:
            return
        if any(k % 2 == 0 for k in conv_weight.shape[2:]):
            self.report.notes.append((name, "weights not projected: an even kernel has no centre tap (fresh init)"))
            return
        with torch.no_grad():
            resized = _resize_kernel(conv_weight.detach(), layer.kernel_size)
            layer.weight.copy_(layer.project_dense_weight(resized))
            if bias is not None and layer.bias is not None:
                layer.bias.copy_(bias.detach())

    def sre_layer(self, cls: type, conv: nn.Module, name: str, kernel, padding, stride) -> nn.Module:
        """``cls.from_conv`` with the new geometry, then the (resized) kernel projected onto the bands."""
        layer = cls.from_conv(
            conv, project=False, kernel_size=kernel, padding=padding, stride=stride, num_bands=self.num_bands
        )
        self.project(layer, conv.weight, conv.bias, name)
        return layer

    # replacements -------------------------------------------------------------------------------------------

    def convert_conv(self, conv: nn.Conv3d, name: str) -> nn.Module | None:
        dims = len(conv.kernel_size)
        stride = tuple(conv.stride)
        strided = any(s != 1 for s in stride)
        if all(k == 1 for k in conv.kernel_size):
            if not strided:
                self.keep(name, ALREADY_SYMMETRIC)
                return None
            if self.stride_policy == "keep":
                self.keep(name, f"strided 1x1 conv kept (stride_policy='keep'), stride {stride}")
                return None
            padding = self.numeric_padding(conv)
            if any(s != 2 for s in stride) or any(padding):
                self.keep(
                    name,
                    f"strided 1x1 conv with stride {stride}, padding {padding}: no symmetric pooling "
                    "gives its output shape",
                )
                return None
            plain = copy.deepcopy(conv)
            plain.stride = (1,) * dims
            return nn.Sequential(SymmetricPool(dims, "avg", "ceil"), plain)

        kernel = self.new_kernel(tuple(conv.kernel_size), name)
        if any(k % 2 == 0 for k in kernel):
            self.keep(name, f"even kernel {kernel} has no centre tap; pass an odd kernel_size to convert it")
            return None
        if any(k % 2 == 0 for k in conv.kernel_size):
            self.keep(
                name, f"even kernel {tuple(conv.kernel_size)} cannot become odd {kernel} at the same output shape"
            )
            return None
        padding = self.numeric_padding(conv)
        new_padding = _padding_for_kernel(padding, conv.dilation, tuple(conv.kernel_size), kernel)
        if any(p < 0 for p in new_padding):
            self.keep(name, f"kernel {kernel} with padding {padding} would change the output shape")
            return None
        if conv.padding_mode != "zeros" and kernel != tuple(conv.kernel_size):
            self.keep(name, f"padding_mode '{conv.padding_mode}' with a new kernel size is not converted")
            return None

        if strided and self.stride_policy == "pool":
            if any(s != 2 for s in stride) or new_padding != same_padding(kernel, conv.dilation):
                self.keep(
                    name,
                    f"stride {stride} with padding {padding}: symmetric pooling cannot give its output "
                    "shape; use stride_policy='keep' to convert it with its stride",
                )
                return None
            layer = self.sre_layer(SREConv, conv, name, kernel, new_padding, stride=1)
            return nn.Sequential(SymmetricPool(dims, "avg", "ceil"), layer)
        return self.sre_layer(SREConv, conv, name, kernel, new_padding, stride=stride)

    def convert_conv_transpose(self, conv: nn.ConvTranspose3d, name: str) -> nn.Module | None:
        dims = len(conv.kernel_size)
        stride = tuple(conv.stride)
        padding = self.numeric_padding(conv)
        strided = any(s != 1 for s in stride)
        if strided and self.stride_policy == "pool":
            grows_by_stride = all(
                -s - 2 * p + d * (k - 1) + op + 1 == 0
                for s, p, d, k, op in zip(stride, padding, conv.dilation, conv.kernel_size, conv.output_padding)
            )
            if not grows_by_stride:
                self.keep(
                    name,
                    f"transposed conv (stride {stride}, padding {padding}) does not output stride * n; "
                    "use stride_policy='keep' to convert it with its stride",
                )
                return None
            kernel = tuple(k + 1 if k % 2 == 0 else k for k in self.new_kernel(tuple(conv.kernel_size), name))
            layer = SREConv(
                dims, conv.in_channels, conv.out_channels, kernel, padding=None, dilation=conv.dilation,
                groups=conv.groups, bias=conv.bias is not None, num_bands=self.num_bands,
                device=conv.weight.device, dtype=conv.weight.dtype,
            )  # fmt: skip
            self.project(layer, _transpose_kernel_to_conv(conv.weight, conv.groups), conv.bias, name)
            scale = stride[0] if len(set(stride)) == 1 else stride
            return nn.Sequential(nn.Upsample(scale_factor=scale, mode="nearest"), layer)
        kernel = self.new_kernel(tuple(conv.kernel_size), name)
        if any(k % 2 == 0 for k in kernel) or any(k % 2 == 0 for k in conv.kernel_size):
            self.keep(name, f"transposed conv with even kernel {tuple(conv.kernel_size)} kept at stride {stride}")
            return None
        new_padding = _padding_for_kernel(padding, conv.dilation, tuple(conv.kernel_size), kernel)
        return self.sre_layer(SREConvTranspose, conv, name, kernel, new_padding, stride=stride)


def convert_to_sre(
    model: nn.Module,
    *,
    kernel_size: Sequence[int] | int | None = None,
    num_bands: int | None = None,
    project_weights: bool = True,
    stride_policy: str = "pool",
    skip: Sequence[str] = (),
    inplace: bool = False,
) -> tuple[nn.Module, ConversionReport]:
    """Replace the convolutions (and strided pools) of ``model`` by SRE equivalents; see the module docstring.

    Args:
        model: any ``nn.Module`` (MONAI or plain torch).
        kernel_size: odd kernel size for every converted layer, an int or one per spatial dim of the converted
            layers; ``None`` keeps each layer's own (padding is adjusted so output shapes stay the same).
        num_bands: SRE bands for every converted layer; ``None`` for the default layout.
        project_weights: initialise every SRE kernel as the least-squares projection of the dense kernel it
            replaces (and copy biases); otherwise SRE layers start from a fresh initialisation.
        stride_policy: ``"pool"`` replaces strides by symmetric pooling (exact equivariance), ``"keep"`` keeps
            strides on the SRE layers.
        skip: shell-style patterns of module names (as in ``named_modules``) to leave untouched, with their
            children.
        inplace: modify ``model`` itself instead of a deep copy.

    Raises:
        ValueError: ``model`` is not a module, ``kernel_size`` is not odd, ``stride_policy`` is unknown, or a
            ``kernel_size`` sequence does not have one entry per spatial dim of a layer to convert (the message
            names the value and the layer).

    Returns:
        the converted model (never ``None``) and a :class:`ConversionReport`.

    Example::

        >>> from monai.networks.nets import resnet18
        >>> sre_model, report = convert_to_sre(resnet18(spatial_dims=3, n_input_channels=1, num_classes=2))
        >>> print(report)  # doctest: +SKIP
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    if kernel_size is not None:
        sizes = ensure_tuple(kernel_size)
        for k in sizes:
            check_odd_positive_int("kernel_size" if len(sizes) == 1 else f"every entry of kernel_size {sizes}", k)
    converter = _SREConverter(kernel_size, num_bands, project_weights, stride_policy, skip)
    converter.report.params_before = count_parameters(model)
    target = model if inplace else copy.deepcopy(model)
    replacement = converter.convert(target, "(model)")
    if replacement is None:
        converter.visit(target, "")
    else:
        converter.report.replaced.append(("(model)", describe(target), describe(replacement)))
        target = replacement
    converter.report.params_after = count_parameters(target)
    return target, converter.report

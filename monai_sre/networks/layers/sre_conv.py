# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""SRE convolution (Du et al., ISBI 2025) for 1, 2 and 3 spatial dims, and its transposed form.

Every kernel tap belongs to a band by its distance from the kernel centre (see
:mod:`monai_sre.networks.layers.bands`); taps of one band share one learnable weight. The layer stores
``weight`` of shape ``(out_channels, in_channels // groups, num_bands)`` (transposed:
``(in_channels, out_channels // groups, num_bands)``). Two paths compute the same function: the dense path
expands the weights into the dense kernel (``dense = weight @ band_basis``, well under 1 % of the convolution's
time on the CPU) on every call while training; off the CPU it reuses the expansion while the weight is unchanged
and no gradient flows into it (:mod:`~monai_sre.networks.layers.kernel_cache`); the band path
(:mod:`~monai_sre.networks.layers.band_pooling`) never builds it. ``path`` chooses (at construction or later, by
assigning ``layer.path``); the default takes the band path on CPU from k=5 on, where it was measured faster.
Both paths give the same outputs and derivatives of every order (up to float round-off). The band path is a
Python autograd function, so tracing (``torch.jit.trace``), ``torch.export``, ONNX, ``torch.compile`` and TorchScript
record the dense path whatever ``path`` says, and an empty batch takes it too. The cache is keyed on the weight's
version counter, storage, dtype and device and on the autocast state, so the output always reflects the current
weights, in train and eval mode, after ``load_state_dict``, ``.to()``, in-place edits or an optimizer step, with or
without autocast. Under ``torch.autocast`` both paths compute in the autocast dtype (as ``F.conv3d`` does), see
:mod:`~monai_sre.networks.layers.autocast`.

Where equivariance holds: with stride 1, "same" zero padding (or any symmetric padding mode), a cubic
kernel and isotropic spacing, the layer commutes exactly with the 48 axis permutations and flips of the 3D
voxel grid (8 in 2D, 2 in 1D). Other rotation angles are equivariant only up to interpolation error;
stride > 1 breaks equivariance (use symmetric pooling and a stride-1 SRE conv instead); a non-cubic kernel
or anisotropic spacing keeps only the symmetries that map the kernel onto itself.

``SREConv``/``SREConvTranspose`` take ``spatial_dims`` first, as MONAI layers do; ``SREConv1d/2d/3d`` and
``SREConvTranspose1d/2d/3d`` are short subclasses that fix it and are called like ``nn.Conv3d`` /
``nn.ConvTranspose3d`` (MONAI's ``Conv["sre", 3]`` and ``Conv["sretrans", 3]``). The arguments are written once,
in ``_SREConvBase.__init__``; a subclass fixes some by class keyword (``class SREConv3d(SREConv, spatial_dims=3)``)
and its constructor takes the others, with their names, order and defaults (``inspect.signature`` shows them).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from monai.networks.layers.factories import Conv
from monai.utils import look_up_option
from torch import nn

from monai_sre.arguments import check_positive_int
from monai_sre.networks.layers.autocast import cast_to_autocast
from monai_sre.networks.layers.band_pooling import BandConvolution, band_offsets
from monai_sre.networks.layers.bands import BandLayout
from monai_sre.networks.layers.convutils import PADDING_MODES, checked_tuple_rep, same_padding
from monai_sre.networks.layers.group_features import GroupFeatureType, check_group_features
from monai_sre.networks.layers.kernel_cache import KernelCachingModule

__all__ = [
    "SREConv",
    "SREConvTranspose",
    "SREConv1d",
    "SREConv2d",
    "SREConv3d",
    "SREConvTranspose1d",
    "SREConvTranspose2d",
    "SREConvTranspose3d",
]

PATHS = ("auto", "dense", "bands")
# smallest kernel from which the band path beats the dense convolution on CPU (scripts/benchmark_layers.py)
BAND_PATH_MIN_KERNEL = 5


def _per_axis(value: Sequence[int] | int, spatial_dims: int, name: str, minimum: int) -> tuple[int, ...]:
    def valid(v) -> bool:
        return isinstance(v, int) and v >= minimum

    return checked_tuple_rep(value, spatial_dims, name, f"an int >= {minimum} or {spatial_dims} such ints", valid)


def _init_with_fixed_arguments(cls: type, init: Callable[..., None], fixed: Mapping[str, Any]) -> Callable[..., None]:
    """An ``__init__`` for ``cls`` that takes the parameters of ``init`` but those in ``fixed``, and calls ``init``.

    The parameters keep their names, order and defaults; the signature is bound as Python binds a written one
    (a missing or unknown argument is a ``TypeError``), so ``cls`` is called positionally, like ``nn.Conv3d``.
    """
    parameters = inspect.signature(init).parameters
    signature = inspect.Signature([p for name, p in parameters.items() if name not in fixed])

    def __init__(self, *args, **kwargs) -> None:
        try:
            arguments = signature.bind(self, *args, **kwargs).arguments
        except TypeError as error:
            raise TypeError(f"{cls.__name__}(): {error}") from None
        arguments.pop("self")
        init(self, **arguments, **fixed)

    __init__.__signature__ = signature
    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    __init__.__module__ = cls.__module__
    __init__.__doc__ = f"Build the layer; see :class:`{cls.__name__}` (fixed here: {dict(fixed)})."
    return __init__


def _geometry(conv: nn.Module, transposed: bool) -> dict[str, Any]:
    """The constructor arguments that an SRE layer and a dense ``nn.ConvNd``/``nn.ConvTransposeNd`` share, read
    from either (the other is built from them)."""
    names = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "padding_mode")
    geometry = {name: getattr(conv, name) for name in names}
    geometry.update(bias=conv.bias is not None, device=conv.weight.device, dtype=conv.weight.dtype)
    if transposed:
        geometry["output_padding"] = conv.output_padding
    return geometry


SREConvType = TypeVar("SREConvType", bound="_SREConvBase")


class _SREConvBase(KernelCachingModule):
    """Arguments, validation, parameters, band expansion, forward and export of SREConv and SREConvTranspose.

    ``__init__`` holds every argument of every SRE layer, once. Subclasses fix some by class keyword:
    ``transposed=False`` (:class:`SREConv`: no ``output_padding``), ``transposed=True`` (:class:`SREConvTranspose`:
    only the dense ``path``), ``spatial_dims=d`` (``SREConv3d``, ...); their constructors take the rest.
    """

    transposed: bool = False
    # set by the fixed-dimension subclasses (SREConv3d, ...), whose constructors take no spatial_dims
    _fixed_spatial_dims: int | None = None
    # the setter validates with Python-only code; TorchScript never reads the path (it runs the dense path)
    __jit_unused_properties__ = ["path"]

    __constants__ = [
        "spatial_dims",
        "in_channels",
        "out_channels",
        "kernel_size",
        "stride",
        "padding",
        "output_padding",
        "dilation",
        "groups",
        "padding_mode",
        "num_bands",
        "transposed",
    ]

    def __init_subclass__(cls, transposed: bool | None = None, spatial_dims: int | None = None, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        fixed: dict[str, Any] = {}
        if transposed is not None:
            cls.transposed = transposed
            # the band path serves no transposed convolution; a convolution has no output padding
            fixed.update({"path": "dense"} if transposed else {"output_padding": 0})
        if spatial_dims is not None:
            cls._fixed_spatial_dims = spatial_dims
            fixed.update(spatial_dims=spatial_dims)
        if fixed:
            cls.__init__ = _init_with_fixed_arguments(cls, cls.__init__, fixed)

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        kernel_size: Sequence[int] | int,
        stride: Sequence[int] | int = 1,
        padding: Sequence[int] | int | str | None = None,
        output_padding: Sequence[int] | int = 0,
        dilation: Sequence[int] | int = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        num_bands: int | None = None,
        band_layout: str = "linear",
        spacing: Sequence[float] | float | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        path: str = "auto",
    ) -> None:
        super().__init__()
        layout = BandLayout(spatial_dims, kernel_size, num_bands, band_layout, spacing)
        check_positive_int("in_channels", in_channels)
        check_positive_int("out_channels", out_channels)
        if not isinstance(groups, int) or groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(
                f"groups must be a positive int dividing in_channels ({in_channels}) and out_channels "
                f"({out_channels}), got {groups!r}."
            )
        self.padding_mode = look_up_option(padding_mode, PADDING_MODES)
        if self.transposed and self.padding_mode != "zeros":
            raise ValueError(f"{type(self).__name__} supports only padding_mode 'zeros', got '{padding_mode}'.")
        self.spatial_dims = spatial_dims
        self.in_channels = in_channels
        self.out_channels = out_channels
        # plain features in and out (the band kernels are invariant: no orientations to keep)
        self.in_type = GroupFeatureType(space="trivial", channels=in_channels, spatial_dims=spatial_dims)
        self.out_type = GroupFeatureType(space="trivial", channels=out_channels, spatial_dims=spatial_dims)
        self._expected_input = self.in_type.expected_by(self)
        self.kernel_size = layout.kernel_size
        self.stride = _per_axis(stride, spatial_dims, "stride", 1)
        self.dilation = _per_axis(dilation, spatial_dims, "dilation", 1)
        self.padding = self._resolve_padding(padding, layout.kernel_size, self.dilation)
        self.output_padding = _per_axis(output_padding, spatial_dims, "output_padding", 0)
        if any(op >= max(s, d) for op, s, d in zip(self.output_padding, self.stride, self.dilation)):
            raise ValueError(
                f"output_padding must be smaller than stride or dilation, got output_padding={self.output_padding}, "
                f"stride={self.stride}, dilation={self.dilation}."
            )
        self.groups = groups
        self.num_bands = layout.num_bands
        self.bands = layout
        # F.pad wants the padding per side, last axis first; the convolution itself then pads nothing
        self._reversed_padding = [p for p in reversed(self.padding) for _ in range(2)]
        self._conv_padding = self.padding if self.padding_mode == "zeros" else (0,) * spatial_dims
        self.path = path  # validated by the property; sets the band offsets

        factory_kwargs = {"device": device, "dtype": dtype}
        leading = (in_channels, out_channels // groups) if self.transposed else (out_channels, in_channels // groups)
        self.weight = nn.Parameter(torch.empty((*leading, self.num_bands), **factory_kwargs))
        self.bias = nn.Parameter(torch.empty(out_channels, **factory_kwargs)) if bias else None
        # derived from the constructor arguments: not a parameter, not saved in state dicts
        basis = torch.as_tensor(layout.basis(), dtype=self.weight.dtype, device=self.weight.device)
        self.register_buffer("band_basis", basis, persistent=False)
        self.reset_parameters()

    @staticmethod
    def _resolve_padding(
        padding: Sequence[int] | int | str | None, kernel_size: tuple[int, ...], dilation: tuple[int, ...]
    ) -> tuple[int, ...]:
        if padding is None or padding == "same":
            return same_padding(kernel_size, dilation)
        if padding == "valid":
            return (0,) * len(kernel_size)
        if isinstance(padding, str):
            raise ValueError(f"padding must be None, 'same', 'valid', an int or one int per axis, got '{padding}'.")
        return _per_axis(padding, len(kernel_size), "padding", 0)

    @property
    def path(self) -> str:
        """How :meth:`forward` computes: ``"auto"``, ``"dense"`` or ``"bands"`` (see :class:`SREConv`).

        Assigning it switches the path of a built layer (for example ``conv.path = "bands"``), with the same
        validation as the constructor argument.

        Raises:
            ValueError: on an unknown path, or ``"bands"`` on a layer the band path cannot serve (transposed,
                strided, not "same" zero padding); the message names the value.
        """
        return self._path

    @path.setter
    def path(self, value: str) -> None:
        path = look_up_option(value, PATHS)
        eligible = self._band_path_eligible()
        if path == "bands" and not eligible:
            raise ValueError(
                f"path='bands' needs a non-transposed conv with stride 1 and 'same' zero padding, got "
                f"{type(self).__name__} stride={self.stride}, padding={self.padding}, "
                f"padding_mode='{self.padding_mode}'."
            )
        self._path = path
        # tap offsets of every band, for the band path (None where only the dense path applies)
        self._band_offsets = band_offsets(self.bands, self.dilation) if eligible and path != "dense" else None

    def _band_path_eligible(self) -> bool:
        """Whether the band path computes this layer: stride 1, "same" zero padding, not transposed."""
        return (
            not self.transposed
            and set(self.stride) == {1}
            and self.padding == same_padding(self.kernel_size, self.dilation)
            and self.padding_mode == "zeros"
        )

    def reset_parameters(self) -> None:
        """Initialise as ``torch.nn.ConvNd`` initialises a dense kernel of the same shape.

        Every band weight and the bias are drawn from ``uniform(-1/sqrt(fan_in), 1/sqrt(fan_in))`` (Kaiming
        uniform with ``a=sqrt(5)``), with ``fan_in = weight.shape[1] * prod(kernel_size)`` counted on the dense
        kernel, exactly as for ``nn.Conv3d`` / ``nn.ConvTranspose3d``. This is the SRE-Conv authors' weight
        initialisation; their bias used the band count instead of the kernel volume.
        """
        fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
        bound = 1.0 / math.sqrt(fan_in)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def dense_weight(self) -> torch.Tensor:
        """The materialised kernel, shaped like the weight of the equivalent ``nn.ConvNd``/``nn.ConvTransposeNd``."""
        expanded = self.weight.reshape(-1, self.num_bands) @ self.band_basis
        shape = [self.weight.shape[0], self.weight.shape[1]] + list(self.kernel_size)
        return expanded.reshape(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolve ``x`` of shape ``(batch, channels, *spatial)``: band path or dense kernel (see ``path``)."""
        check_group_features(x, self._expected_input, self.in_channels, 1, self.spatial_dims)
        if not torch.jit.is_scripting():
            return self._band_forward(x) if self.uses_band_path(x) else self._convolve(x, self._cached_dense_weight())
        return self._convolve(x, self.dense_weight())

    def _convolve(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """The dense path: ``x`` padded and convolved with the dense kernel ``weight``.

        Outside TorchScript input, kernel and bias are cast to the autocast dtype, as autocast casts ``F.conv3d``.
        """
        x = x if self.padding_mode == "zeros" else F.pad(x, self._reversed_padding, mode=self.padding_mode)
        bias = self.bias
        if not torch.jit.is_scripting():
            x, weight, bias = cast_to_autocast(x.device.type, x, weight, bias)
        return torch.convolution(
            x, weight, bias, self.stride, self._conv_padding, self.dilation, self.transposed, self.output_padding,
            self.groups,
        )  # fmt: skip

    @torch.jit.unused
    def _cached_dense_weight(self):
        """:meth:`dense_weight`, reused while the weight is unchanged and no gradient flows into it (eval)."""
        return self.kernel_cache.get((self.weight, self.band_basis), self.dense_weight)

    @torch.jit.unused
    def uses_band_path(self, x):  # no annotations: TorchScript cannot read string annotations of unused methods
        """Whether :meth:`forward` takes the band path for ``x``.

        ``path="bands"``: always (eligible layers only); ``path="auto"``: on CPU for kernels of at least
        ``BAND_PATH_MIN_KERNEL`` taps per axis, where it was measured faster. Never for an empty batch, nor while
        tracing (``torch.jit.trace``), compiling or exporting (``torch.export``, ONNX), nor in TorchScript: those
        record the dense kernel, a function of the parameters that the graph can hold (the band path is a Python
        autograd function, which a traced module cannot save).
        """
        if self._band_offsets is None or x.shape[0] == 0:
            return False
        if torch.jit.is_tracing() or torch.compiler.is_compiling():
            return False
        return self.path == "bands" or (x.device.type == "cpu" and max(self.kernel_size) >= BAND_PATH_MIN_KERNEL)

    @torch.jit.unused
    def _band_forward(self, x):
        """The band path; under autocast in the autocast dtype, as the dense path's convolution computes."""
        x, weight, bias = cast_to_autocast(x.device.type, x, self.weight, self.bias)
        with torch.autocast(x.device.type, enabled=False):
            return BandConvolution.apply(x, weight, bias, self._band_offsets, self.padding, self.groups)

    def extra_repr(self) -> str:
        text = (
            f"spatial_dims={self.spatial_dims}, {self.in_channels}, {self.out_channels}, "
            f"kernel_size={self.kernel_size}, num_bands={self.num_bands}, band_sizes={self.bands.band_sizes}"
        )
        if self.bands.band_layout != "linear":
            text += f", band_layout='{self.bands.band_layout}'"
        if any(s != 1.0 for s in self.bands.spacing):
            text += f", spacing={self.bands.spacing}"
        if any(s != 1 for s in self.stride):
            text += f", stride={self.stride}"
        text += f", padding={self.padding}"
        if any(self.output_padding):
            text += f", output_padding={self.output_padding}"
        if any(d != 1 for d in self.dilation):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode='{self.padding_mode}'"
        if self.path != ("dense" if self.transposed else "auto"):
            text += f", path='{self.path}'"
        return text

    # export and import ------------------------------------------------------------------------------------

    def to_dense(self) -> nn.Module:
        """An equivalent plain ``nn.ConvNd`` (``nn.ConvTransposeNd`` for the transposed layer) holding the dense kernel.

        The result computes the same function as this layer and trains as an ordinary, unconstrained conv.
        """
        dense = Conv[self._dense_kind(), self.spatial_dims](**_geometry(self, self.transposed))
        with torch.no_grad():
            dense.weight.copy_(self.dense_weight())
            if self.bias is not None:
                dense.bias.copy_(self.bias)
        return dense

    @classmethod
    def _dense_kind(cls) -> str:
        """The name of the equivalent dense convolution in MONAI's ``Conv`` factory."""
        return Conv.CONVTRANS if cls.transposed else Conv.CONV

    @torch.no_grad()
    def project_dense_weight(self, dense_weight: torch.Tensor) -> torch.Tensor:
        """Least-squares band weights of a dense kernel: the mean of its taps over each band.

        Args:
            dense_weight: kernel shaped like ``dense_weight()``.

        Returns:
            band weights shaped like ``weight``; taps outside every band (the corners) are dropped.
        """
        expected = (*self.weight.shape[:2], *self.kernel_size)
        if tuple(dense_weight.shape) != expected:
            raise ValueError(f"dense kernel must have shape {expected}, got {tuple(dense_weight.shape)}.")
        projection = torch.as_tensor(self.bands.projection(), dtype=torch.float64, device=dense_weight.device)
        flat = dense_weight.reshape(-1, self.bands.num_taps).to(torch.float64)
        return (flat @ projection).reshape(self.weight.shape).to(self.weight.dtype)

    @classmethod
    def from_conv(cls: type[SREConvType], conv: nn.Module, project: bool = True, **overrides) -> SREConvType:
        """Build an SRE layer with the geometry of a dense convolution.

        ``SREConv`` takes an ``nn.Conv1d/2d/3d``, ``SREConvTranspose`` an ``nn.ConvTranspose1d/2d/3d`` (the
        dimension is the dense layer's); the fixed-dimension classes take the dense class of their dimension
        (``SREConv3d.from_conv(nn.Conv3d(...))``).

        Args:
            conv: the dense convolution (odd kernel).
            project: copy the bias and replace the kernel by its least-squares projection onto the band space
                (the mean over each band); otherwise keep a fresh initialisation.
            overrides: constructor arguments that replace the dense layer's (``num_bands``, ``band_layout``,
                ``spacing``, ``path`` for the non-transposed classes, or geometry such as ``stride``).

        Raises:
            ValueError: ``conv`` is not a dense convolution of the kind and dimension this class builds,
                ``overrides`` holds ``spatial_dims``, or ``project=True`` with an overridden kernel size.

        Example::

            >>> SREConv3d.from_conv(nn.Conv3d(2, 4, 3, padding=1)).weight.shape
            torch.Size([4, 2, 2])
        """
        dense_types = {d: Conv[cls._dense_kind(), d] for d in (1, 2, 3) if cls._fixed_spatial_dims in (None, d)}
        spatial_dims = next((d for d, dense_type in dense_types.items() if isinstance(conv, dense_type)), None)
        if spatial_dims is None:
            dims = list(dense_types)
            names = ", ".join(dense_type.__name__ for dense_type in dense_types.values())
            expected = names if len(dims) == 1 else f"one of {names}"
            raise ValueError(f"{cls.__name__}.from_conv expects {expected}, got {type(conv).__name__}.")
        if "spatial_dims" in overrides:
            raise ValueError(
                f"{cls.__name__}.from_conv takes spatial_dims from the dense layer ({spatial_dims}), got the "
                f"override spatial_dims={overrides['spatial_dims']!r}."
            )
        kwargs = _geometry(conv, cls.transposed)
        if isinstance(conv.padding, str):  # nn.Conv accepts "same" and "valid"
            kwargs["padding"] = None if conv.padding == "same" else 0
        if cls._fixed_spatial_dims is None:
            kwargs["spatial_dims"] = spatial_dims
        kwargs.update(overrides)
        layer = cls(**kwargs)
        if project:
            if tuple(layer.kernel_size) != tuple(conv.kernel_size):
                raise ValueError(
                    f"project=True needs the dense kernel size {tuple(conv.kernel_size)}, got kernel_size "
                    f"{layer.kernel_size}; resize the kernel and call project_dense_weight() instead."
                )
            with torch.no_grad():
                layer.weight.copy_(layer.project_dense_weight(conv.weight))
                if conv.bias is not None:
                    layer.bias.copy_(conv.bias)
        return layer


class SREConv(_SREConvBase, transposed=False):
    """Symmetric rotation-equivariant convolution for 1, 2 or 3 spatial dims.

    Args:
        spatial_dims: number of spatial dimensions, 1, 2 or 3.
        in_channels: number of input channels.
        out_channels: number of output channels.
        kernel_size: odd kernel size, an int or one per spatial dim.
        stride: stride; anything but 1 breaks equivariance.
        padding: ``None`` or ``"same"`` (default) keeps the spatial size at stride 1 (``dilation * (k - 1) // 2``
            per side); ``"valid"``, an int or one int per axis otherwise.
        dilation: kernel dilation.
        groups: blocked connections from input to output channels; must divide both channel counts.
        bias: whether to add a learnable bias.
        padding_mode: ``"zeros"``, ``"reflect"``, ``"replicate"`` or ``"circular"``.
        num_bands: number of learnable bands; ``None`` gives the layout's default (``k // 2 + 1`` for the
            authors' ``"linear"`` layout).
        band_layout: ``"linear"`` (the SRE-Conv authors' layout, default), ``"integer"`` or ``"shell"``; see
            :mod:`monai_sre.networks.layers.bands`.
        spacing: physical voxel spacing per axis, so that distances (and bands) are isotropic in millimetres
            on anisotropic volumes; ``None`` means isotropic.
        device: device of the parameters.
        dtype: dtype of the parameters.
        path: how to compute: ``"dense"`` (expand the kernel, one ordinary convolution), ``"bands"`` (band
            pooling + 1x1 mixing, :mod:`~monai_sre.networks.layers.band_pooling`; stride 1, "same" zero padding
            only) or ``"auto"`` (the band path on CPU for k >= 5, where it measured faster, else dense). Both
            compute the same function, and its derivatives of every order; the parameters and state dict do not
            depend on it. The ``path`` attribute can be reassigned later, with the same validation.

    Raises:
        ValueError: on an even kernel, bad channels/groups/stride/padding/dilation, an unknown padding_mode,
            band_layout or path, a bad spacing, an impossible num_bands, or ``path="bands"`` on a layer it cannot
            serve; the message names the value.

    :class:`SREConv1d`, :class:`SREConv2d` and :class:`SREConv3d` fix ``spatial_dims`` and are called like
    ``nn.Conv1d/2d/3d``; :meth:`from_conv` builds any of them from a dense convolution.

    Example::

        >>> conv = SREConv(3, in_channels=1, out_channels=8, kernel_size=5)
        >>> conv.weight.shape
        torch.Size([8, 1, 3])
        >>> conv(torch.randn(2, 1, 16, 16, 16)).shape
        torch.Size([2, 8, 16, 16, 16])
    """


class SREConvTranspose(_SREConvBase, transposed=True):
    """Transposed SRE convolution for 1, 2 or 3 spatial dims.

    Arguments are those of :class:`SREConv` plus ``output_padding`` (as in ``nn.ConvTranspose3d``); only
    ``padding_mode="zeros"`` exists. ``padding=None`` gives ``dilation * (k - 1) // 2`` per side, so that at
    stride ``s`` the output size is ``(n - 1) * s + 1 + output_padding``. The weight has shape
    ``(in_channels, out_channels // groups, num_bands)``. With stride 1 the layer is exactly equivariant
    under the grid symmetries, like :class:`SREConv`. :class:`SREConvTranspose1d`, :class:`SREConvTranspose2d`
    and :class:`SREConvTranspose3d` fix ``spatial_dims`` and are called like ``nn.ConvTranspose1d/2d/3d``.

    Example::

        >>> up = SREConvTranspose(3, 8, 4, kernel_size=3, stride=2, output_padding=1)
        >>> up(torch.randn(1, 8, 8, 8, 8)).shape
        torch.Size([1, 4, 16, 16, 16])
    """


class SREConv1d(SREConv, spatial_dims=1):
    """:class:`SREConv` with ``spatial_dims=1``, called like ``nn.Conv1d``: ``SREConv1d(2, 4, kernel_size=5)``."""


class SREConv2d(SREConv, spatial_dims=2):
    """:class:`SREConv` with ``spatial_dims=2``, called like ``nn.Conv2d``: ``SREConv2d(2, 4, kernel_size=5)``."""


class SREConv3d(SREConv, spatial_dims=3):
    """:class:`SREConv` with ``spatial_dims=3``, called like ``nn.Conv3d``: ``SREConv3d(2, 4, kernel_size=5)``.

    ``Conv["sre", 3]`` in MONAI's layer factory.
    """


class SREConvTranspose1d(SREConvTranspose, spatial_dims=1):
    """:class:`SREConvTranspose` with ``spatial_dims=1``, called like ``nn.ConvTranspose1d``."""


class SREConvTranspose2d(SREConvTranspose, spatial_dims=2):
    """:class:`SREConvTranspose` with ``spatial_dims=2``, called like ``nn.ConvTranspose2d``."""


class SREConvTranspose3d(SREConvTranspose, spatial_dims=3):
    """:class:`SREConvTranspose` with ``spatial_dims=3``, called like ``nn.ConvTranspose3d``.

    ``Conv["sretrans", 3]`` in MONAI's layer factory.
    """

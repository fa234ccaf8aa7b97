# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Reuse of an expanded kernel while the tensors it was expanded from are unchanged.

SRE and group convolutions store a few learnable values and expand them into the dense kernel of one ordinary
convolution on every call (:meth:`SREConv.dense_weight`, :meth:`GroupConv.dense_weight`). The expansion is a
matmul or a gather: well under 1 % of a convolution's time on the CPU, but on a GPU with small inputs (launch-bound
eval batches) it is one or two extra kernel launches per layer. :class:`KernelCache` keeps the last expansion
and returns it while its sources are unchanged, where it can never go stale:

- the key holds, per source tensor, its storage address, **version counter** (bumped by every in-place change:
  optimizer steps, ``load_state_dict``, ``copy_``, ``nn.init`` functions), dtype, device and shape, so any
  change through the tensor, ``.to()``, ``.half()`` or assigned parameters gives a new key; the cache keeps the
  old sources alive, so a new tensor can never reuse their address; it also holds the autocast state of the
  sources' devices, since under ``torch.autocast`` the expansion (a ``matmul``) comes out in the autocast dtype;
- it is used only where no gradient flows into the kernel (``torch.no_grad()``, ``torch.inference_mode()`` or
  frozen weights): with autograd recording, every call expands afresh so that the graph is new each step;
- never while tracing, compiling or exporting (the kernel must stay a function of the parameters in the graph),
  under ``torch.func`` transforms, or for inference tensors;
- only off the CPU by default (``KernelCache.use_on_cpu``): on the CPU the expansion costs nothing measurable and
  the cache would hold a dense kernel per layer (for SRE ResNet-18, resnet18's 130 MB of weights) in eval;
- switching a module between training and eval mode clears it.

One hole is PyTorch's, not the key's: writes through ``param.data`` (``layer.weight.data.fill_(0)``) bypass the
version counter, as they bypass autograd. After such a write call :func:`clear_kernel_caches` on the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import torch
from torch import nn

from monai_sre.networks.layers.autocast import autocast_dtype

__all__ = ["KernelCache", "KernelCachingModule", "clear_kernel_caches"]

T = TypeVar("T")


def _functorch_active() -> bool:
    probe = getattr(torch._C._functorch, "_are_functorch_transforms_active", None)
    return bool(probe()) if probe is not None else False


class KernelCache(Generic[T]):
    """The last value of ``expand()`` for a set of source tensors, returned again while they are unchanged.

    Example::

        >>> cache = KernelCache()
        >>> with torch.no_grad():
        ...     kernel = cache.get([layer.weight], layer.dense_weight)  # expands
        ...     kernel = cache.get([layer.weight], layer.dense_weight)  # reuses
    """

    # whether to cache kernels of CPU tensors too (tests switch it on; nothing to win on the CPU, see above)
    use_on_cpu: bool = False

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        """Forget the cached value (and release the sources it kept alive)."""
        self._key: tuple | None = None
        self._value: T | None = None
        self._sources: tuple[torch.Tensor, ...] = ()
        self.expansions = 0  # how often get() expanded since the last clear(): for tests and diagnostics

    @staticmethod
    def usable(sources: Sequence[torch.Tensor]) -> bool:
        """Whether a cached expansion of ``sources`` may be returned now (see the module docstring)."""
        if torch.jit.is_tracing() or torch.compiler.is_compiling() or _functorch_active():
            return False
        if not KernelCache.use_on_cpu and any(t.device.type == "cpu" for t in sources):
            return False
        if torch.is_grad_enabled() and any(t.requires_grad for t in sources):
            return False
        return not any(t.is_inference() for t in sources)  # inference tensors have no version counter

    def get(self, sources: Sequence[torch.Tensor | None], expand: Callable[[], T]) -> T:
        """``expand()``, or its cached value when ``sources`` (``None`` entries ignored) are unchanged."""
        tensors = tuple(t for t in sources if t is not None)
        if not self.usable(tensors):
            if self._key is not None:
                self.clear()
            return expand()
        autocast = tuple((d, autocast_dtype(d)) for d in sorted({t.device.type for t in tensors}))
        key = (torch.is_inference_mode_enabled(), autocast) + tuple(
            (t.data_ptr(), t._version, t.dtype, t.device, tuple(t.shape)) for t in tensors
        )
        if key != self._key:
            self._value = expand()
            self._key, self._sources = key, tuple(t.detach() for t in tensors)
            self.expansions += 1
        return self._value  # type: ignore[return-value]


class KernelCachingModule(nn.Module):
    """Base of the layers that expand their kernel: holds ``kernel_cache``, cleared on a switch of training mode."""

    def __init__(self) -> None:
        super().__init__()
        self.kernel_cache: KernelCache = KernelCache()

    def train(self, mode: bool = True):
        if mode != self.training:
            self.kernel_cache.clear()
        return super().train(mode)


def clear_kernel_caches(module: nn.Module) -> None:
    """Clear the kernel cache of every layer in ``module`` (after writing weights through ``param.data``)."""
    for layer in module.modules():
        if isinstance(layer, KernelCachingModule):
            layer.kernel_cache.clear()

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Dense maps from a patch classifier: classify the patch around every (``stride``-th) voxel of a volume."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from monai.data import MetaTensor
from monai.inferers import Inferer
from monai.utils import convert_to_dst_type, convert_to_tensor

from monai_sre.arguments import check_positive_int, check_positive_ints

__all__ = ["PatchCentreInferer"]

MODES = ("nearest", "linear")


def _positive_ints(value: int | Sequence[int], name: str) -> tuple[int, ...]:
    """One positive int (for every axis) or a sequence of them (one per axis), as a tuple."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        return check_positive_ints(name, value)
    return (check_positive_int(name, value),)


class PatchCentreInferer(Inferer):
    """Turn a patch classifier into a dense map: the class scores of the ``patch_size`` patch centred on every
    ``stride``-th voxel, spread back to every voxel.

    ``inputs`` ``(B, C, *spatial)`` must already be at the network's spacing and intensity scale (for the tissue
    bundle: RAS, 2 mm, 0..255 mapped to [-1, 1]). The network must map ``(n, C, *patch_size)`` to ``(n, K)``
    class scores; the result is ``(B, K, *spatial)`` (``(B, K + 1, *spatial)`` with ``with_background``).

    - Patch geometry: the patch around voxel ``v`` covers ``v - patch_size // 2`` to
      ``v - patch_size // 2 + patch_size - 1`` per axis, as a centre crop of a larger patch centred on ``v``
      does (the tissue bundle's training pipeline: 30^3 stored patches, 16^3 centre crop). Beyond the volume
      the patch is filled with ``padding_value``, which should be what background looks like after the
      intensity scaling (-1 for the tissue bundle: its training patches show the masked template's background,
      0 before scaling).
    - Stride: each axis is cut into blocks of ``stride`` voxels; only the patch centred on each block's middle
      voxel (index ``(stride - 1) // 2`` within the block; the middle of a shorter last block) is classified.
      ``stride=1`` classifies every voxel: then the map at ``v`` is exactly the network's output on the patch
      around ``v``.
    - Mask: a voxel is foreground where any input channel exceeds ``threshold`` (``None``: every voxel), and,
      when ``mask`` is passed to the call, where ``mask`` holds too. A block is classified when it holds a
      foreground voxel; the output is 0 at every background voxel (all channels; the background channel is 1
      there with ``with_background``).
    - Spreading to voxels (``mode``): ``"nearest"`` gives every voxel its block's scores (blocky, exact at the
      classified centres); ``"linear"`` (trilinear in 3D) interpolates between the classified centres,
      weighting only classified ones (normalised convolution), so that background blocks do not dilute the
      scores at the mask's edge; with ``softmax`` the probabilities still sum to 1.
    - Memory: at most ``batch_size`` patches exist at a time (gathered by index from one padded copy of the
      input); the class scores are kept at the stride grid and spread to voxels at the end.

    Call it with the network in eval mode and under ``torch.no_grad()``, as MONAI's evaluators do: with gradients
    on, every batch's graph is kept. The output has the network's dtype (float32 at least with ``softmax``).

    Example (the tissue bundle's network on a RAS 2 mm volume scaled to [-1, 1])::

        inferer = PatchCentreInferer(16, stride=2, padding_value=-1.0, threshold=-0.84, with_background=True)
        with torch.no_grad():
            probabilities = inferer(image[None], network)  # (1, 5, X, Y, Z): background, then the 4 tissues
        labels = probabilities.argmax(1)  # 0 background, k + 1 tissue k

    Args:
        patch_size: network input size per spatial axis (an int: the same on every axis).
        stride: spacing of the classified centres per axis, in voxels.
        batch_size: patches per network call.
        padding_value: value of the input beyond its border.
        threshold: foreground where any channel exceeds it; ``None`` classifies every block.
        softmax: apply a softmax over the network's ``K`` outputs (the output holds probabilities);
            ``False`` keeps its raw outputs.
        with_background: prepend a background channel (1 outside the mask, 0 inside), so that ``argmax`` over
            channels gives a label map with 0 for background and ``k + 1`` for class ``k``; needs ``softmax``.
        mode: ``"nearest"`` or ``"linear"``, how scores spread from the classified centres to every voxel.

    Raises:
        ValueError: a bad argument (named with its value); on call, inputs whose dimensions do not fit
            ``patch_size``, a ``mask`` of the wrong shape, or a network that does not return ``(n, K)``.
    """

    def __init__(
        self,
        patch_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        batch_size: int = 64,
        padding_value: float = 0.0,
        threshold: float | None = None,
        softmax: bool = True,
        with_background: bool = False,
        mode: str = "nearest",
    ) -> None:
        super().__init__()
        self.patch_size = _positive_ints(patch_size, "patch_size")
        self.stride = _positive_ints(stride, "stride")
        if len(self.stride) > 1 and len(self.patch_size) > 1 and len(self.stride) != len(self.patch_size):
            raise ValueError(f"stride {stride!r} and patch_size {patch_size!r} have different numbers of axes.")
        check_positive_int("batch_size", batch_size)
        if not isinstance(padding_value, (int, float)) or not math.isfinite(padding_value):
            raise ValueError(f"padding_value must be a finite number, got {padding_value!r}.")
        if threshold is not None and (not isinstance(threshold, (int, float)) or math.isnan(threshold)):
            raise ValueError(f"threshold must be a number or None, got {threshold!r}.")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
        if with_background and not softmax:
            raise ValueError("with_background=True needs softmax=True (a background channel is a probability).")
        self.batch_size = batch_size
        self.padding_value = float(padding_value)
        self.threshold = None if threshold is None else float(threshold)
        self.softmax = bool(softmax)
        self.with_background = bool(with_background)
        self.mode = mode

    def _check(self, inputs: torch.Tensor, mask: torch.Tensor | None) -> tuple[tuple[int, ...], tuple[int, ...]]:
        if not isinstance(inputs, torch.Tensor) or inputs.ndim < 3:
            shape = tuple(inputs.shape) if isinstance(inputs, torch.Tensor) else type(inputs).__name__
            raise ValueError(f"inputs must be a (B, C, *spatial) tensor, got {shape}.")
        dims = inputs.ndim - 2
        for name, value in (("patch_size", self.patch_size), ("stride", self.stride)):
            if len(value) not in (1, dims):
                raise ValueError(f"{name} {value} does not fit inputs with {dims} spatial dims {tuple(inputs.shape)}.")
        if mask is not None:
            expected = (inputs.shape[0], *inputs.shape[2:])
            if tuple(mask.shape) not in (expected, (inputs.shape[0], 1, *inputs.shape[2:])):
                raise ValueError(
                    f"mask must have shape {expected} or {(inputs.shape[0], 1, *inputs.shape[2:])} to fit inputs "
                    f"{tuple(inputs.shape)}, got {tuple(mask.shape)}."
                )
        patch, stride = (v * dims if len(v) == 1 else v for v in (self.patch_size, self.stride))
        return patch, stride

    def foreground(self, inputs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The voxels to classify, ``(B, *spatial)`` bool: any channel above ``threshold``, and ``mask``."""
        self._check(inputs, mask)
        if self.threshold is None:
            fg = torch.ones((inputs.shape[0], *inputs.shape[2:]), dtype=torch.bool, device=inputs.device)
        else:
            fg = (inputs > self.threshold).any(dim=1)
        if mask is not None:
            fg = fg & mask.to(device=inputs.device, dtype=torch.bool).reshape(fg.shape)
        return fg

    def __call__(
        self, inputs: torch.Tensor, network: Callable[..., Any], *args: Any, mask: torch.Tensor | None = None, **kwargs
    ) -> torch.Tensor:
        """Classify the patches and spread their scores to every voxel.

        Args:
            inputs: ``(B, C, *spatial)`` at the network's spacing and intensity scale.
            network: maps ``(n, C, *patch_size)`` to ``(n, K)``.
            args: passed on to ``network``.
            mask: optional ``(B, *spatial)`` or ``(B, 1, *spatial)`` mask of the voxels to classify (with
                ``threshold``, if set, both must hold).
            kwargs: passed on to ``network``.

        Returns:
            ``(B, K, *spatial)`` (``(B, K + 1, *spatial)`` with ``with_background``), on the input's device.
        """
        patch, stride = self._check(inputs, mask)
        source, inputs = inputs, convert_to_tensor(inputs, track_meta=False)
        fg = self.foreground(inputs, mask)
        spatial = tuple(inputs.shape[2:])
        device = inputs.device
        grid = tuple(math.ceil(n / s) for n, s in zip(spatial, stride))
        # per axis: the voxel index of each block's classified centre
        centres = [
            torch.tensor([b * s + (min(s, n - b * s) - 1) // 2 for b in range(g)], device=device)
            for n, s, g in zip(spatial, stride, grid)
        ]
        # blocks holding a foreground voxel
        ends = [p for n, s in zip(reversed(spatial), reversed(stride)) for p in (0, -n % s)]
        padded_fg = F.pad(fg.to(torch.uint8), ends)
        blocks = padded_fg.reshape(fg.shape[0], *[v for g, s in zip(grid, stride) for v in (g, s)])
        grid_mask = blocks.amax(dim=tuple(range(2, 2 * len(grid) + 1, 2))).bool()
        todo = torch.nonzero(grid_mask)  # (N, 1 + dims): batch index, block index per axis

        # one padded copy; patch around voxel v = padded[v : v + patch] per axis
        before = [p // 2 for p in patch]
        pads = [q for p, b in zip(reversed(patch), reversed(before)) for q in (b, p - 1 - b)]
        volume = F.pad(inputs, pads, mode="constant", value=self.padding_value)
        flat = volume.reshape(*volume.shape[:2], math.prod(volume.shape[2:])).transpose(1, 2)  # (B, L, C)
        strides = [math.prod(volume.shape[3 + a :]) for a in range(len(spatial))]
        local = torch.zeros((), dtype=torch.long, device=device)
        for p, st in zip(patch, strides):
            local = local[..., None] + torch.arange(p, device=device) * st
        local = local.reshape(-1)  # flat offsets of a patch's voxels from its first voxel

        scores: torch.Tensor | None = None
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start : start + self.batch_size]
            first = sum(centres[a][chunk[:, 1 + a]] * strides[a] for a in range(len(spatial)))
            patches = flat[chunk[:, :1], first[:, None] + local[None]]  # (n, prod(patch), C)
            patches = patches.transpose(1, 2).reshape(len(chunk), inputs.shape[1], *patch)
            out = network(patches, *args, **kwargs)
            if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != len(chunk):
                got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                raise ValueError(f"network must map {tuple(patches.shape)} patches to (n, K) scores, got {got}.")
            if self.softmax:  # in float32 at least
                out = out.softmax(dim=1, dtype=torch.promote_types(out.dtype, torch.float32))
            if scores is None:
                scores = torch.zeros((inputs.shape[0], out.shape[1], *grid), dtype=out.dtype, device=device)
            scores[(chunk[:, 0], slice(None), *chunk[:, 1:].unbind(1))] = out.to(scores.dtype)
        if scores is None:  # nothing to classify: the class count comes from one background patch
            probe = torch.full((1, inputs.shape[1], *patch), self.padding_value, dtype=inputs.dtype, device=device)
            num_classes = network(probe, *args, **kwargs).shape[1]
            scores = torch.zeros((inputs.shape[0], num_classes, *grid), dtype=inputs.dtype, device=device)

        dense = self._spread(scores, grid_mask, centres, spatial, stride)
        dense = dense * fg[:, None].to(dense.dtype)
        if self.with_background:
            dense = torch.cat([(~fg[:, None]).to(dense.dtype), dense], dim=1)
        if isinstance(source, MetaTensor):  # keep the input's metadata (affine, applied operations), as MONAI's
            return convert_to_dst_type(dense, source, dtype=dense.dtype)[0]  # sliding window inference does
        return dense

    def _spread(
        self,
        scores: torch.Tensor,
        grid_mask: torch.Tensor,
        centres: list[torch.Tensor],
        spatial: tuple[int, ...],
        stride: tuple[int, ...],
    ) -> torch.Tensor:
        """Scores at the block centres ``(B, K, *grid)`` to every voxel ``(B, K, *spatial)``."""
        if self.mode == "nearest":
            for a, (n, s) in enumerate(zip(spatial, stride)):
                scores = scores.index_select(2 + a, torch.arange(n, device=scores.device) // s)
            return scores
        # linear: separable interpolation between the centres, of scores * classified and of classified
        weight = grid_mask[:, None].to(scores.dtype)
        values = scores * weight
        for a, n in enumerate(spatial):
            positions = centres[a].to(scores.dtype)
            voxels = torch.arange(n, device=scores.device, dtype=scores.dtype)
            upper = torch.searchsorted(positions, voxels, right=True).clamp(1, max(len(positions) - 1, 1))
            lower = upper - 1
            upper = upper.clamp(max=len(positions) - 1)
            gap = (positions[upper] - positions[lower]).clamp(min=1)
            w = ((voxels - positions[lower]) / gap).clamp(0, 1)
            shape = [1] * values.ndim
            shape[2 + a] = n
            w = w.reshape(shape)
            values = values.index_select(2 + a, lower) * (1 - w) + values.index_select(2 + a, upper) * w
            weight = weight.index_select(2 + a, lower) * (1 - w) + weight.index_select(2 + a, upper) * w
        return torch.where(weight > 0, values / weight.clamp(min=torch.finfo(weight.dtype).tiny), 0.0)

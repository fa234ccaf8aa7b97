# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Pure functions on the symmetries of the voxel grid (no MONAI transform state).

The lossless symmetries of a cubic grid are the signed axis permutations: 48 in 3D (6 permutations times 8
flip patterns: all 24 rotations by multiples of 90 degrees and their 24 mirror images), 8 in 2D and 2 in 1D.
They act on the last ``spatial_dims`` axes of a tensor, so the same element applies to ``(C, *spatial)``
images and ``(N, C, *spatial)`` batches.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cache

import torch

__all__ = ["GridSymmetryElement", "apply_grid_symmetry", "grid_symmetries"]


@dataclass(frozen=True)
class GridSymmetryElement:
    """A signed permutation of the spatial axes: output axis ``i`` is input axis ``permutation[i]``, then
    output axis ``i`` is reversed where ``flips[i]`` is true."""

    permutation: tuple[int, ...]
    flips: tuple[bool, ...]

    @property
    def spatial_dims(self) -> int:
        return len(self.permutation)

    @property
    def is_identity(self) -> bool:
        return self.permutation == tuple(range(self.spatial_dims)) and not any(self.flips)

    @property
    def is_rotation(self) -> bool:
        """True for proper rotations (determinant +1), false for reflections."""
        inversions = sum(
            1
            for i, j in itertools.combinations(range(self.spatial_dims), 2)
            if self.permutation[i] > self.permutation[j]
        )
        return (inversions + sum(self.flips)) % 2 == 0

    def __str__(self) -> str:
        return "".join(("-" if f else "+") + "xyz"[p] for p, f in zip(self.permutation, self.flips))


@cache
def grid_symmetries(spatial_dims: int) -> tuple[GridSymmetryElement, ...]:
    """All lossless symmetries of the ``spatial_dims``-D grid, identity first (48 in 3D, 8 in 2D, 2 in 1D)."""
    if spatial_dims not in (1, 2, 3):
        raise ValueError(f"spatial_dims must be 1, 2 or 3, got {spatial_dims}.")
    return tuple(
        GridSymmetryElement(tuple(perm), tuple(flips))
        for perm in itertools.permutations(range(spatial_dims))
        for flips in itertools.product((False, True), repeat=spatial_dims)
    )


def apply_grid_symmetry(tensor: torch.Tensor, element: GridSymmetryElement) -> torch.Tensor:
    """Apply ``element`` to the last ``element.spatial_dims`` axes of ``tensor`` (exact, no interpolation).

    Raises:
        ValueError: when the tensor has fewer axes than the element acts on, or when a permutation would
            map spatial axes of different sizes onto each other.
    """
    dims = element.spatial_dims
    lead = tensor.dim() - dims
    if lead < 0:
        raise ValueError(
            f"a {dims}-D grid symmetry needs a tensor with at least {dims} axes, got shape {tuple(tensor.shape)}."
        )
    spatial = tensor.shape[lead:]
    if any(spatial[p] != spatial[i] for i, p in enumerate(element.permutation)):
        raise ValueError(
            f"grid symmetry {element} maps spatial axes of different sizes onto each other: {tuple(spatial)}."
        )
    out = tensor.permute(*range(lead), *(lead + p for p in element.permutation))
    flip_axes = [lead + i for i, f in enumerate(element.flips) if f]
    return out.flip(flip_axes) if flip_axes else out

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Named, deterministic rotation protocols for evaluating rotation robustness and equivariance.

Protocols (``RotationSweep(name)``):

- ``"paper"``: the SRE-Conv paper's rotated test. 3D: 0, 30, ..., 360 degrees about each of the x, y, z
  axes (spatial axes 0, 1, 2): 39 cases; 2D: 0, 10, ..., 360 degrees: 37 cases. Nearest-neighbour
  interpolation, output size kept (corners cut), zero fill. The sweep rotates the network input, so the fill
  is zero in the normalised intensity space (mid-grey after normalisation to [-1, 1], as in the paper).
- ``"paper-trilinear"``: the same angles with (tri)linear interpolation.
- ``"haar-N"``: ``N`` rotations drawn uniformly over SO(3) (uniform angles in 2D) from ``seed``, trilinear.
- ``"grid48"``: the 48 lossless axis permutations and flips (8 in 2D), exact, no interpolation.
- ``"grid24"``: the 24 rotations among them (the cube's rotation group O; C4's 4 in 2D), exact: what a network
  invariant to rotations but not to reflections (a group network over O) answers the same to.
- ``"flips"``: a flip along each spatial axis, exact.

Every case knows how to transform a batch ``(N, C, *spatial)``: rotations resample through MONAI's
``Rotate`` (all images and channels at once), grid symmetries permute and flip axes. The sweeps act on batches,
so they belong to evaluation; the per-image transforms they use live in :mod:`monai_sre.transforms`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from monai.data.meta_obj import get_track_meta, set_track_meta

from monai_sre.groups import grid_group
from monai_sre.transforms.array import rotate_by_matrix
from monai_sre.transforms.functional import (
    AXES,
    GridSymmetryElement,
    apply_grid_symmetry,
    axis_rotation_matrix,
    grid_symmetries,
    planar_rotation_matrix,
    random_rotation_matrix,
)

__all__ = ["PROTOCOLS", "RotationCase", "RotationSweep"]

PROTOCOLS = ("paper", "paper-trilinear", "haar-N", "grid48", "grid24", "flips")


@dataclass(frozen=True)
class RotationCase:
    """One evaluation condition: a rotation matrix (interpolated) or a grid symmetry (exact).

    Attributes:
        name: unique within its sweep, e.g. ``"z+030"``, ``"haar-007"``, ``"grid-+y-x+z"``.
        group: what a plot draws as one line: the axis (``"x"``, ``"y"``, ``"z"``, ``"xy"`` in 2D),
            ``"haar"``, ``"grid"`` or ``"flip"``.
        angle: rotation angle in degrees (about ``group`` for axis sweeps), or ``None``.
        matrix: the rotation, or ``None`` for grid symmetries.
        element: the grid symmetry, or ``None`` for rotations.
        mode: interpolation of rotations (``"nearest"`` or ``"bilinear"``).
    """

    name: str
    group: str
    angle: float | None = None
    matrix: np.ndarray | None = None
    element: GridSymmetryElement | None = None
    mode: str = "bilinear"

    @property
    def is_identity(self) -> bool:
        if self.element is not None:
            return self.element.is_identity
        return self.matrix is not None and bool(np.allclose(self.matrix, np.eye(len(self.matrix)), atol=1e-12))

    def apply(self, batch: torch.Tensor) -> torch.Tensor:
        """Transform every image of ``batch`` ``(N, C, *spatial)`` the same way; returns a plain tensor."""
        if self.element is not None:  # whole volumes of any shape: a permutation permutes the shape too
            return apply_grid_symmetry(batch, self.element, keep_shape=False)
        if self.is_identity:
            return batch
        spatial = batch.shape[2:]
        stacked = batch.reshape(-1, *spatial)  # every image and channel as one channel-first image
        previous = get_track_meta()
        set_track_meta(False)
        try:
            out = rotate_by_matrix(stacked, self.matrix, keep_size=True, mode=self.mode, padding_mode="zeros")
        finally:
            set_track_meta(previous)
        return torch.as_tensor(out).reshape(batch.shape).to(batch.dtype)

    def inverse(self) -> RotationCase:
        """The case that undoes this one (the transposed matrix, or the inverse grid symmetry), named
        ``"<name>-inverse"``; up to interpolation and the cut corners, ``case.inverse().apply(case.apply(x)) == x``.
        """
        name = f"{self.name}-inverse"
        if self.element is not None:
            return replace(self, name=name, element=self.element.inverse())
        return replace(self, name=name, matrix=None if self.matrix is None else self.matrix.T.copy())

    def apply_labels(self, batch: torch.Tensor) -> torch.Tensor:
        """Transform label maps or masks ``(N, C, *spatial)`` as :meth:`apply` does, but with nearest-neighbour
        interpolation whatever :attr:`mode` is: every output voxel holds one input value, or the fill ``0``
        (``False``) where it comes from outside the grid. Grid symmetries are exact in both methods. Keeps the
        dtype (integer and ``bool`` included; integers up to ``2**24`` are exact).
        """
        case = self if self.mode == "nearest" else replace(self, mode="nearest")
        if batch.dtype == torch.bool:
            return case.apply(batch.float()) > 0.5
        return case.apply(batch)

    def output_shape(self, spatial_shape: Sequence[int]) -> tuple[int, ...]:
        """The spatial shape of :meth:`apply`'s output for inputs of ``spatial_shape``: permuted by a grid symmetry's
        permutation, kept by rotations (keep-size)."""
        if self.element is None:
            return tuple(spatial_shape)
        return tuple(spatial_shape[p] for p in self.element.permutation)

    def field_of_view(self, spatial_shape: Sequence[int], device: torch.device | str | None = None) -> torch.Tensor:
        """Where :meth:`apply_labels` output takes content from inside the input grid: ``bool (1, 1, *spatial)``,
        ``False`` in the corners a keep-size rotation cuts, ``True`` everywhere for grid symmetries."""
        ones = torch.ones(1, 1, *spatial_shape, dtype=torch.bool, device=device)
        return ones if self.element is not None else self.apply_labels(ones)


class RotationSweep:
    """A named, deterministic list of :class:`RotationCase` (see the module docstring for the protocols).

    Args:
        protocol: ``"paper"``, ``"paper-trilinear"``, ``"haar-N"`` (e.g. ``"haar-64"``), ``"grid48"``, ``"grid24"``
            or ``"flips"``.
        spatial_dims: 2 or 3.
        seed: seed of the ``"haar-N"`` draws.

    Example::

        >>> sweep = RotationSweep("paper")
        >>> len(sweep), sweep.cases[13].name
        (39, 'y+000')
    """

    def __init__(self, protocol: str, spatial_dims: int = 3, seed: int = 0) -> None:
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims}.")
        self.protocol = protocol
        self.spatial_dims = spatial_dims
        self.seed = seed
        self.cases = self._build()

    def _build(self) -> list[RotationCase]:
        haar = re.fullmatch(r"haar-(\d+)", self.protocol)
        if self.protocol in ("paper", "paper-trilinear"):
            mode = "nearest" if self.protocol == "paper" else "bilinear"
            return self._axis_sweep(mode)
        if haar:
            count = int(haar.group(1))
            if count < 1:
                raise ValueError(f"haar-N needs N >= 1, got '{self.protocol}'.")
            rng = np.random.RandomState(self.seed)
            width = len(str(count - 1))
            return [
                RotationCase(f"haar-{i:0{width}d}", "haar", None, random_rotation_matrix(rng, self.spatial_dims))
                for i in range(count)
            ]
        if self.protocol == "grid48":
            return [RotationCase(f"grid{e}", "grid", element=e) for e in grid_symmetries(self.spatial_dims)]
        if self.protocol == "grid24":
            rotations = grid_group("O" if self.spatial_dims == 3 else "C4").elements
            return [RotationCase(f"grid{e}", "grid", element=e) for e in rotations]
        if self.protocol == "flips":
            identity = tuple(range(self.spatial_dims))
            return [
                RotationCase(
                    f"flip-{AXES[a]}", "flip", element=GridSymmetryElement(identity, tuple(i == a for i in identity))
                )
                for a in identity
            ]
        raise ValueError(f"unknown rotation protocol '{self.protocol}'; expected one of {', '.join(PROTOCOLS)}.")

    def _axis_sweep(self, mode: str) -> list[RotationCase]:
        step = 30 if self.spatial_dims == 3 else 10
        angles = range(0, 361, step)
        if self.spatial_dims == 2:
            return [
                RotationCase(f"xy{a:+04d}", "xy", float(a), planar_rotation_matrix(np.deg2rad(a)), mode=mode)
                for a in angles
            ]
        return [
            RotationCase(f"{axis}{a:+04d}", axis, float(a), axis_rotation_matrix(axis, np.deg2rad(a)), mode=mode)
            for axis in AXES
            for a in angles
        ]

    def __len__(self) -> int:
        return len(self.cases)

    def __iter__(self) -> Iterator[RotationCase]:
        return iter(self.cases)

    def __repr__(self) -> str:
        return (
            f"RotationSweep('{self.protocol}', spatial_dims={self.spatial_dims}, seed={self.seed}, cases={len(self)})"
        )

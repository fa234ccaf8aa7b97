# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Pure functions on rotations and on the symmetries of the voxel grid (no MONAI transform state).

The lossless symmetries of a cubic grid are the signed axis permutations: 48 in 3D (6 permutations times 8
flip patterns: all 24 rotations by multiples of 90 degrees and their 24 mirror images), 8 in 2D and 2 in 1D.
They act on the last ``spatial_dims`` axes of a tensor, so the same element applies to ``(C, *spatial)``
images and ``(N, C, *spatial)`` batches.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch

__all__ = [
    "AXES",
    "GridSymmetryElement",
    "apply_grid_symmetry",
    "axis_rotation_matrix",
    "euler_xyz_from_matrix",
    "grid_symmetries",
    "random_rotation_matrix",
    "rotation_angle",
]


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


# rotations ------------------------------------------------------------------------------------------------
#
# Matrices act on spatial coordinates in the order of the array axes; "x", "y", "z" name spatial axes 0, 1, 2
# (as MONAI's create_rotate and RandRotate's range_x/range_y/range_z do). A 3D matrix R is applied through
# MONAI's Rotate with the intrinsic "XYZ" Euler angles of R, so that create_rotate(3, angles) == R.

AXES = ("x", "y", "z")


def axis_rotation_matrix(axis: str | int, angle: float) -> np.ndarray:
    """The 3D rotation by ``angle`` radians about spatial axis ``axis`` (``"x"``/0, ``"y"``/1, ``"z"``/2)."""
    index = AXES.index(axis) if isinstance(axis, str) else int(axis)
    if index not in (0, 1, 2):
        raise ValueError(f"axis must be one of 'x', 'y', 'z' or 0, 1, 2, got {axis!r}.")
    c, s = np.cos(angle), np.sin(angle)
    i, j = [a for a in range(3) if a != index]
    matrix = np.eye(3)
    sign = -1.0 if index == 1 else 1.0  # y follows MONAI's create_rotate: [[c, s], [-s, c]] in the (x, z) plane
    matrix[i, i], matrix[i, j], matrix[j, i], matrix[j, j] = c, -sign * s, sign * s, c
    return matrix


def euler_xyz_from_matrix(matrix: np.ndarray) -> tuple[float, float, float]:
    """Intrinsic ``XYZ`` Euler angles ``(a, b, c)`` with ``Rx(a) @ Ry(b) @ Rz(c) == matrix`` (MONAI's convention)."""
    m = np.asarray(matrix, dtype=float)
    b = float(np.arctan2(m[0, 2], np.hypot(m[0, 0], m[0, 1])))
    if np.hypot(m[0, 0], m[0, 1]) < 1e-12:  # gimbal lock: fold the third angle into the first
        return float(np.arctan2(m[2, 1], m[1, 1])), b, 0.0
    return float(np.arctan2(-m[1, 2], m[2, 2])), b, float(np.arctan2(-m[0, 1], m[0, 0]))


def rotation_angle(matrix: np.ndarray) -> float:
    """The angle (radians, in ``[0, pi]``) of a 3D rotation matrix; for 2D, the absolute planar angle."""
    m = np.asarray(matrix, dtype=float)
    if m.shape == (2, 2):
        return float(abs(np.arctan2(m[1, 0], m[0, 0])))
    return float(np.arccos(np.clip((np.trace(m) - 1) / 2, -1.0, 1.0)))


def random_rotation_matrix(
    rng: np.random.RandomState, spatial_dims: int = 3, max_angle: float | None = None
) -> np.ndarray:
    """A rotation drawn uniformly (Haar measure), optionally restricted to angles up to ``max_angle``.

    In 3D the unrestricted draw is a uniformly random unit quaternion. Restricted, the axis is uniform on the
    sphere and the angle has the Haar density ``(1 - cos t)`` on ``[0, max_angle]`` (inverse-CDF sampling of
    ``t - sin t``), which is the Haar measure conditioned on the angle. In 2D the angle is uniform on
    ``[-max_angle, max_angle]`` (``[-pi, pi)`` unrestricted).

    Note: uniform Euler angles (MONAI's ``RandRotate``) are not uniform over rotations in 3D.
    """
    if max_angle is not None and not 0 < max_angle <= np.pi:
        raise ValueError(f"max_angle must be in (0, pi] radians or None, got {max_angle}.")
    limit = np.pi if max_angle is None else float(max_angle)
    if spatial_dims == 2:
        t = rng.uniform(-limit, limit)
        return np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    if spatial_dims != 3:
        raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims}.")
    if max_angle is None:
        w, x, y, z = _unit(rng.normal(size=4))
        return np.array(
            [
                [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
            ]
        )
    axis = _unit(rng.normal(size=3))
    target = rng.uniform(0.0, limit - np.sin(limit))
    angle = _solve_increasing(lambda t: t - np.sin(t), target, 0.0, limit)
    return _axis_angle(axis, angle)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _axis_angle(axis: np.ndarray, angle: float) -> np.ndarray:
    x, y, z = axis
    k = np.array([[0, -z, y], [z, 0, -x], [-y, x, 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)


def _solve_increasing(f, target: float, low: float, high: float) -> float:
    for _ in range(60):  # bisection to ~1e-18 of the interval
        mid = (low + high) / 2
        low, high = (mid, high) if f(mid) < target else (low, mid)
    return (low + high) / 2

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""The symmetry groups of the voxel grid: one table of elements for transforms, layers and tests.

(:mod:`monai_sre.groups.kernels` holds what the groups do to convolution kernels.)

The lossless symmetries of a cubic grid are the signed axis permutations: 48 in 3D (the full octahedral group
Oh: 6 permutations times 8 flip patterns, the 24 rotations by multiples of 90 degrees and their mirror images),
8 in 2D (the dihedral group D4) and 2 in 1D. Every one maps the grid onto itself, so applying it to an image or
a kernel is an exact re-indexing (no interpolation).

Conventions (checked by ``tests/groups/test_grid.py``):

- :class:`GridSymmetryElement` acts on the last ``spatial_dims`` axes of a tensor by
  :func:`apply_grid_symmetry`: output axis ``i`` is input axis ``permutation[i]``, then reversed where
  ``flips[i]``. On centred voxel coordinates it moves the voxel at ``p`` to ``matrix @ p``:
  ``(g f)(x) = f(g^-1 x)``.
- :class:`GridGroup` is a group of such elements (``"C4"``, ``"D4"`` in 2D; ``"O"``, ``"Oh"`` in 3D) with its
  Cayley table (``product[a, b]`` is the index of ``g_a g_b``, i.e. ``g_b`` applied first), inverses, and
  its action on the small sets that orientation-aware features live on (:meth:`GridGroup.action`): the group
  itself (``"regular"``), one point (``"trivial"``), the coordinate axes (``"axes"``) and the body diagonals
  (``"diagonals"``), all taken without sign, and, for Oh, the 24 rotations (``"rotations"``) on which a mirror
  image ``g`` acts as the rotation ``-g`` (``Oh = O x {I, -I}``, and ``g -> det(g) g`` maps it onto ``O``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cache, cached_property

import numpy as np
import torch
from monai.utils import look_up_option

__all__ = [
    "GRID_GROUPS",
    "GROUP_SPACES",
    "GridGroup",
    "GridSymmetryElement",
    "apply_grid_symmetry",
    "apply_group_element",
    "grid_group",
    "grid_symmetries",
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

    @property
    def matrix(self) -> np.ndarray:
        """The signed permutation matrix ``M`` that moves the voxel at centred coordinates ``p`` to ``M @ p``."""
        matrix = np.zeros((self.spatial_dims, self.spatial_dims), dtype=np.int64)
        for i, (p, f) in enumerate(zip(self.permutation, self.flips)):
            matrix[i, p] = -1 if f else 1
        return matrix

    @classmethod
    def from_matrix(cls, matrix: np.ndarray) -> GridSymmetryElement:
        """The element of a signed permutation matrix (the inverse of :attr:`matrix`)."""
        m = np.asarray(matrix)
        if (
            m.ndim != 2
            or m.shape[0] != m.shape[1]
            or not (np.abs(m).sum(0) == 1).all()
            or not (np.abs(m).sum(1) == 1).all()
        ):
            raise ValueError(f"a grid symmetry needs a signed permutation matrix, got {m.tolist()}.")
        permutation = tuple(int(np.flatnonzero(row)[0]) for row in m)
        return cls(permutation, tuple(bool(m[i, p] < 0) for i, p in enumerate(permutation)))

    def inverse(self) -> GridSymmetryElement:
        return GridSymmetryElement.from_matrix(self.matrix.T)

    def __matmul__(self, other: GridSymmetryElement) -> GridSymmetryElement:
        """``self @ other``: apply ``other`` first, then ``self``."""
        return GridSymmetryElement.from_matrix(self.matrix @ other.matrix)

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


def apply_grid_symmetry(tensor: torch.Tensor, element: GridSymmetryElement, keep_shape: bool = True) -> torch.Tensor:
    """Apply ``element`` to the last ``element.spatial_dims`` axes of ``tensor`` (exact, no interpolation).

    Args:
        tensor: ``(..., *spatial)``.
        element: the symmetry.
        keep_shape: refuse a permutation that maps spatial axes of different sizes onto each other (a transform
            in a pipeline of fixed-size patches must keep their shape); ``False`` permutes the shape with the
            axes (a 90-degree rotation of a whole ``98 x 18 x 94`` volume is ``98 x 94 x 18``).

    Raises:
        ValueError: when the tensor has fewer axes than the element acts on, or, with ``keep_shape``, when a
            permutation would map spatial axes of different sizes onto each other.
    """
    dims = element.spatial_dims
    lead = tensor.dim() - dims
    if lead < 0:
        raise ValueError(
            f"a {dims}-D grid symmetry needs a tensor with at least {dims} axes, got shape {tuple(tensor.shape)}."
        )
    spatial = tensor.shape[lead:]
    if keep_shape and any(spatial[p] != spatial[i] for i, p in enumerate(element.permutation)):
        raise ValueError(
            f"grid symmetry {element} maps spatial axes of different sizes onto each other: {tuple(spatial)}."
        )
    out = tensor.permute(*range(lead), *(lead + p for p in element.permutation))
    flip_axes = [lead + i for i, f in enumerate(element.flips) if f]
    return out.flip(flip_axes) if flip_axes else out


# name -> (spatial dims, rotations only)
GRID_GROUPS = {"C4": (2, True), "D4": (2, False), "O": (3, True), "Oh": (3, False)}
GROUP_SPACES = ("trivial", "regular", "axes", "diagonals", "rotations")


class GridGroup:
    """A group of grid symmetries with its multiplication table and its action on orientation sets.

    Args:
        name: ``"C4"`` (the 4 rotations of the square), ``"D4"`` (its 8 symmetries), ``"O"`` (the 24 rotations of
            the cube) or ``"Oh"`` (its 48 symmetries). Elements are in the order of :func:`grid_symmetries`,
            identity first. Use :func:`grid_group` for a shared, cached instance.
    """

    def __init__(self, name: str) -> None:
        # raises with the closest valid name
        self.spatial_dims, rotations_only = look_up_option(name, GRID_GROUPS)
        self.name = name
        self.elements = tuple(e for e in grid_symmetries(self.spatial_dims) if e.is_rotation or not rotations_only)
        self._index = {e: i for i, e in enumerate(self.elements)}
        self._actions: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.elements)

    def __repr__(self) -> str:
        return f"GridGroup('{self.name}', order={len(self)})"

    def index(self, element: GridSymmetryElement) -> int:
        if element not in self._index:
            raise ValueError(f"{element} is not an element of {self.name}.")
        return self._index[element]

    @cached_property
    def product(self) -> np.ndarray:
        """Cayley table: ``product[a, b]`` is the index of ``elements[a] @ elements[b]`` (``b`` applied first)."""
        return np.array([[self.index(a @ b) for b in self.elements] for a in self.elements], dtype=np.int64)

    @cached_property
    def inverse(self) -> np.ndarray:
        """``inverse[a]`` is the index of the inverse of ``elements[a]``."""
        return np.array([self.index(e.inverse()) for e in self.elements], dtype=np.int64)

    def space_size(self, space: str) -> int:
        """Number of points of an orientation set (see :meth:`action`)."""
        return self.action(space).shape[1]

    def action(self, space: str) -> np.ndarray:
        """How the group permutes an orientation set: ``table[g, x]`` is the index of ``g x``.

        Args:
            space: ``"trivial"`` (one point: invariant features), ``"regular"`` (the group itself, ``g h``),
                ``"axes"`` (the coordinate axes without sign: 3 in 3D, 2 in 2D), ``"diagonals"`` (the body
                diagonals without sign: 4 in 3D, 2 in 2D) or ``"rotations"`` (the rotations of the group, on which
                an element acts by left multiplication with its rotation part ``det(g) g``: the regular space
                of a rotation group; for Oh the 24 rotations of the cube, the point reflection ``-I`` acting
                trivially, so features over it cost what O's regular features cost while a network built on
                them is invariant to all 48 symmetries. D4 has no such action: ``-I`` is a rotation in 2D).

        Raises:
            ValueError: ``"rotations"`` for D4.
        """
        space = look_up_option(space, GROUP_SPACES)
        if space not in self._actions:
            table = self._action_table(space)
            table.setflags(write=False)  # shared by every caller
            self._actions[space] = table
        return self._actions[space]

    def _action_table(self, space: str) -> np.ndarray:
        if space == "trivial":
            return np.zeros((len(self), 1), dtype=np.int64)
        if space == "regular":
            return self.product.copy()
        if space == "rotations":
            return self._rotations_table()
        dims = self.spatial_dims
        if space == "axes":
            points = [np.eye(dims, dtype=np.int64)[i] for i in range(dims)]
        else:  # diagonals: sign patterns with a positive first coordinate
            points = [np.array((1, *signs)) for signs in itertools.product((1, -1), repeat=dims - 1)]
        keys = {tuple(p): i for i, p in enumerate(points)}

        def find(v: np.ndarray) -> int:
            v = v if v[np.flatnonzero(v)[0]] > 0 else -v
            return keys[tuple(int(c) for c in v)]

        return np.array([[find(e.matrix @ p) for p in points] for e in self.elements], dtype=np.int64)

    def _rotations_table(self) -> np.ndarray:
        rotations = [e for e in self.elements if e.is_rotation]
        if len(rotations) == len(self):
            return self.product.copy()
        if self.spatial_dims % 2 == 0:
            raise ValueError(
                f"the 'rotations' space needs the point reflection -I to be a mirror image (odd spatial dims); "
                f"in {self.name} it is a rotation, so no action of {self.name} on its rotations extends theirs. "
                "Use 'regular', 'axes' or 'diagonals'."
            )
        index = {e: i for i, e in enumerate(rotations)}

        def rotation_part(e: GridSymmetryElement) -> GridSymmetryElement:
            return e if e.is_rotation else GridSymmetryElement.from_matrix(-e.matrix)

        return np.array([[index[rotation_part(e) @ r] for r in rotations] for e in self.elements], dtype=np.int64)


@cache
def grid_group(name: str) -> GridGroup:
    """The shared :class:`GridGroup` called ``name`` (``"C4"``, ``"D4"``, ``"O"``, ``"Oh"``)."""
    return GridGroup(name)


def apply_group_element(features: torch.Tensor, group: GridGroup | str, space: str, element: int) -> torch.Tensor:
    """Act with ``group.elements[element]`` on features over an orientation set.

    ``(g f)[c, x](p) = f[c, g^-1 x](g^-1 p)``: space and orientation axis move together.

    Args:
        features: ``(batch, channels * |X|, *spatial)``, the point index fastest (the layout of
            :class:`~monai_sre.networks.layers.GroupConv`).
        group: a :class:`GridGroup` or its name.
        space: the orientation set ``X`` (see :meth:`GridGroup.action`).
        element: index of the element in ``group.elements``.
    """
    group = grid_group(group) if isinstance(group, str) else group
    table = group.action(space)
    points = table.shape[1]
    if features.dim() < group.spatial_dims + 2 or features.shape[1] % points:
        raise ValueError(
            f"features must be (batch, channels * {points}, {group.spatial_dims} spatial dims) for the "
            f"'{space}' space of {group.name}, got {list(features.shape)}."
        )
    moved = apply_grid_symmetry(features, group.elements[element])
    source = torch.tensor(table[group.inverse[element]], device=features.device)  # new[y] = old[g^-1 y]
    grouped = moved.reshape(features.shape[0], features.shape[1] // points, points, *features.shape[2:])
    return grouped.index_select(2, source).reshape(features.shape)

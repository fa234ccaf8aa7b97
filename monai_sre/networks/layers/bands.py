# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Band maths of SRE kernels: which band every kernel tap belongs to.

An SRE kernel ties together the taps that lie at the same distance from the kernel centre. This module is
pure geometry (numpy in, numpy out, no ``nn``): it decides, for a kernel size, a voxel spacing and a band
layout, the band of every tap, and turns that into the basis matrix that expands per-band weights into a
dense kernel (``dense = weight @ basis``) and into the least-squares projection back.

Layouts (``band_layout``):

- ``"linear"`` (default, the SRE-Conv authors' layout): ``num_bands`` bands with edges
  ``linspace(0, R, num_bands + 1)``; band ``i`` holds the taps with ``edge[i] <= d < edge[i + 1]``. ``R`` is
  the radius of the largest ball inside the kernel box (``k // 2 + 0.5`` for a cubic kernel and isotropic
  spacing); taps at ``d >= R`` (the corners) are fixed at zero. The default ``num_bands`` is ``k // 2 + 1``.
- ``"integer"``: band ``i`` holds the taps whose distance rounds to the integer ``i`` (``i - 0.5 <= d <
  i + 0.5``), for ``i < num_bands``; taps at ``d >= R`` are zero.
- ``"shell"``: one band per distinct distance below ``R`` (the finest isotropic layout).

Distances are physical: tap offsets are multiplied by the per-axis ``spacing`` (normalised so that the
smallest spacing is 1), so kernels over anisotropic voxels are isotropic in millimetres, and non-cubic
kernels measure distance correctly along every axis.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from monai.utils import look_up_option

from monai_sre.networks.layers.convutils import checked_tuple_rep

__all__ = ["BAND_LAYOUTS", "BandLayout"]

BAND_LAYOUTS = ("linear", "integer", "shell")

# distances closer than this are treated as one distance (they are square roots of sums of squares)
_DISTANCE_DECIMALS = 9


def _as_tuple(value: Sequence[float] | float, length: int, name: str) -> tuple:
    expected = f"a number or a sequence of {length} numbers (one per spatial dim)"
    return checked_tuple_rep(value, length, name, expected, lambda v: isinstance(v, numbers.Real))


@dataclass(frozen=True)
class BandLayout:
    """The band of every tap of an SRE kernel.

    Args:
        spatial_dims: number of spatial dimensions, 1, 2 or 3.
        kernel_size: odd kernel size, an int or one per spatial dim.
        num_bands: number of learnable bands; ``None`` picks the layout's default.
        band_layout: ``"linear"`` (the authors' layout), ``"integer"`` or ``"shell"`` (see module docstring).
        spacing: physical voxel spacing per axis (only ratios matter); ``None`` means isotropic.

    Raises:
        ValueError: on a bad spatial_dims, an even or non-positive kernel size, a bad spacing, an unknown
            layout, a ``num_bands`` outside ``1..`` the number of distinct tap distances, or a layout that
            would leave a band without taps.

    Example::

        >>> BandLayout(3, 5).band_sizes
        (1, 18, 62)
    """

    spatial_dims: int
    kernel_size: Sequence[int] | int
    num_bands: int | None = None
    band_layout: str = "linear"
    spacing: Sequence[float] | float | None = None

    def __post_init__(self) -> None:
        if self.spatial_dims not in (1, 2, 3):
            raise ValueError(f"spatial_dims must be 1, 2 or 3, got {self.spatial_dims}.")
        kernel_size = tuple(int(k) for k in _as_tuple(self.kernel_size, self.spatial_dims, "kernel_size"))
        if any(k < 1 or k % 2 == 0 for k in kernel_size):
            raise ValueError(f"kernel_size must be odd and positive along every axis, got {kernel_size}.")
        spacing = (1.0,) * self.spatial_dims if self.spacing is None else self.spacing
        spacing = tuple(float(s) for s in _as_tuple(spacing, self.spatial_dims, "spacing"))
        if any(not np.isfinite(s) or s <= 0 for s in spacing):
            raise ValueError(f"spacing must be finite and positive along every axis, got {spacing}.")
        smallest = min(spacing)
        spacing = tuple(s / smallest for s in spacing)
        layout = look_up_option(self.band_layout, BAND_LAYOUTS)
        object.__setattr__(self, "kernel_size", kernel_size)
        object.__setattr__(self, "spacing", spacing)
        object.__setattr__(self, "band_layout", layout)
        if self.num_bands is None:
            object.__setattr__(self, "num_bands", self._default_num_bands())
        num_distinct = len(self.distinct_distances)
        if isinstance(self.num_bands, bool) or not isinstance(self.num_bands, (int, np.integer)):
            raise ValueError(f"num_bands must be an int or None, got {self.num_bands!r}.")
        if not 1 <= self.num_bands <= num_distinct:
            raise ValueError(
                f"num_bands must be between 1 and {num_distinct} (the number of distinct tap distances inside "
                f"radius {self.radius:g} of kernel {kernel_size} with spacing {spacing}), got {self.num_bands}."
            )
        if layout == "shell" and self.num_bands != num_distinct:
            raise ValueError(
                f"band_layout 'shell' has exactly {num_distinct} bands here, got num_bands={self.num_bands}."
            )
        empty = [i for i, size in enumerate(self.band_sizes) if size == 0]
        if empty:
            raise ValueError(
                f"num_bands={self.num_bands} with band_layout '{layout}' leaves band(s) {empty} of kernel "
                f"{kernel_size} without taps (band sizes {self.band_sizes}); choose fewer bands."
            )

    # geometry ---------------------------------------------------------------------------------------------

    @cached_property
    def offsets(self) -> np.ndarray:
        """Physical offset of every tap from the centre, shape ``(prod(kernel_size), spatial_dims)``, C order."""
        axes = [(np.arange(k) - k // 2) * s for k, s in zip(self.kernel_size, self.spacing)]
        grid = np.meshgrid(*axes, indexing="ij")
        return np.stack([g.reshape(-1) for g in grid], axis=1)

    @cached_property
    def distances(self) -> np.ndarray:
        """Euclidean distance of every tap from the centre, shape ``(prod(kernel_size),)``, C order."""
        return np.round(np.sqrt((self.offsets**2).sum(axis=1)), _DISTANCE_DECIMALS)

    @cached_property
    def radius(self) -> float:
        """Cut-off radius: taps at this distance or farther are zero (the largest ball inside the kernel box)."""
        half_widths = [(k // 2 + 0.5) * s for k, s in zip(self.kernel_size, self.spacing) if k > 1]
        return min(half_widths) if half_widths else 0.5

    @cached_property
    def distinct_distances(self) -> np.ndarray:
        """Sorted distinct tap distances below the cut-off radius."""
        return np.unique(self.distances[self.distances < self.radius])

    def _default_num_bands(self) -> int:
        if self.band_layout == "shell":
            return len(self.distinct_distances)
        # one band per unit of the smallest spacing: k // 2 + 1 for a cubic kernel, as the authors do
        return int(np.floor(self.radius)) + 1 if self.band_layout == "linear" else int(np.floor(self.radius + 0.5))

    # bands ------------------------------------------------------------------------------------------------

    @cached_property
    def edges(self) -> np.ndarray:
        """Band edges ``(num_bands + 1,)``: band ``i`` holds taps with ``edges[i] <= d < edges[i + 1]``."""
        if self.band_layout == "linear":
            return np.linspace(0.0, self.radius, self.num_bands + 1)
        if self.band_layout == "integer":
            edges = np.arange(self.num_bands + 1, dtype=float) - 0.5
            edges[0] = 0.0
            edges[-1] = min(edges[-1], self.radius)
            return edges
        # shell: midpoints between consecutive distinct distances
        distinct = self.distinct_distances
        return np.concatenate([[0.0], (distinct[:-1] + distinct[1:]) / 2, [self.radius]])

    @cached_property
    def band_index(self) -> np.ndarray:
        """Band of every tap (C order, shape ``(prod(kernel_size),)``), ``-1`` for the taps fixed at zero."""
        index = np.searchsorted(self.edges, self.distances, side="right") - 1
        index[(self.distances >= self.edges[-1]) | (self.distances >= self.radius)] = -1
        return index.astype(np.int64)

    @cached_property
    def band_sizes(self) -> tuple:
        """Number of taps in each band."""
        return tuple(int(c) for c in np.bincount(self.band_index[self.band_index >= 0], minlength=self.num_bands))

    @property
    def num_taps(self) -> int:
        """Number of taps of the dense kernel, ``prod(kernel_size)``."""
        return int(np.prod(self.kernel_size))

    def basis(self) -> np.ndarray:
        """One-hot band masks, shape ``(num_bands, prod(kernel_size))``: ``dense = weight @ basis``."""
        basis = np.zeros((self.num_bands, self.num_taps))
        used = self.band_index >= 0
        basis[self.band_index[used], np.nonzero(used)[0]] = 1.0
        return basis

    def projection(self) -> np.ndarray:
        """Least-squares projection ``(prod(kernel_size), num_bands)``: ``weight = dense @ projection``.

        It is the pseudo-inverse of :meth:`basis`; for one-hot bands, the mean over each band.
        """
        return np.linalg.pinv(self.basis())

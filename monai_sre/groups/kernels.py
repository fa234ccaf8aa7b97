# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""What the grid groups do to convolution kernels: how they move the taps, and the orbits that share a weight.

Plain numpy, no ``nn``: :class:`~monai_sre.networks.layers.GroupConv` builds its weight sharing from these tables,
and tests and analyses can read them without building a layer.

- :func:`tap_action`: ``table[g, t]`` is the tap that ``g`` moves tap ``t`` of a cubic kernel to;
- :func:`kernel_orbits`: the orbit of every ``(output orientation, input orientation, tap)`` under the group, so
  that a kernel constant on the orbits satisfies ``W(g x, g x', g u) = W(x, x', u)``, the condition for a
  convolution between features on orientation sets to be equivariant.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from monai_sre.arguments import check_odd_positive_int
from monai_sre.groups.grid import GridGroup

__all__ = ["kernel_orbits", "tap_action"]


@cache
def tap_action(group: GridGroup, kernel_size: int) -> np.ndarray:
    """How ``group`` permutes the taps of a cubic kernel: ``table[g, t]`` is the index of the tap ``g u_t``.

    Taps are numbered in C order over the ``kernel_size ** spatial_dims`` kernel; ``u_t`` is the offset of tap ``t``
    from the centre, moved by ``g`` to ``g.matrix @ u_t`` (as :func:`~monai_sre.groups.apply_grid_symmetry` moves
    voxels).

    Args:
        group: the group acting.
        kernel_size: odd size of the kernel along every axis.

    Returns:
        a read-only ``(len(group), kernel_size ** spatial_dims)`` integer table (cached).
    """
    check_odd_positive_int("kernel_size", kernel_size)
    shape = (kernel_size,) * group.spatial_dims
    centre = kernel_size // 2
    offsets = np.stack(np.unravel_index(np.arange(kernel_size**group.spatial_dims), shape), axis=1) - centre
    matrices = np.stack([element.matrix for element in group.elements])
    moved = np.einsum("gij,tj->igt", matrices, offsets) + centre  # axis, element, tap
    table = np.ravel_multi_index(tuple(moved), shape)
    table.setflags(write=False)  # cached
    return table


@cache
def kernel_orbits(group: GridGroup, out_space: str, in_space: str, kernel_size: int) -> np.ndarray:
    """Orbit id of every ``(output point, input point, tap)`` under the group: shape ``(|X_out|, |X_in|, k^d)``.

    Ids run from 0 to the number of orbits - 1 (the learnable values per channel pair), in order of first
    appearance, so the identity's taps come first. The numbering is part of the weight layout of
    :class:`~monai_sre.networks.layers.GroupConv`: saved weights depend on it.

    Args:
        group: the group acting.
        out_space: orientation set of the output (see :meth:`GridGroup.action`).
        in_space: orientation set of the input.
        kernel_size: odd size of the kernel along every axis.

    Returns:
        a read-only integer array (cached: shared by every layer of this shape).
    """
    act_out, act_in = group.action(out_space), group.action(in_space)
    act_tap = tap_action(group, kernel_size)
    n, m, t = act_out.shape[1], act_in.shape[1], act_tap.shape[1]
    # the smallest flat index over the orbit of every (x, x', u) names its orbit (one element at a time: the
    # whole (|G|, n, m, t) array would take hundreds of MB for Oh's regular features)
    canonical = np.full((n, m, t), n * m * t, dtype=np.int64)
    for g in range(len(group)):
        flat = act_out[g][:, None, None] * (m * t) + act_in[g][None, :, None] * t + act_tap[g][None, None, :]
        np.minimum(canonical, flat, out=canonical)
    _, first, ids = np.unique(canonical.ravel(), return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))  # renumber by first appearance
    orbits = order[ids].reshape(n, m, t)
    orbits.setflags(write=False)
    return orbits

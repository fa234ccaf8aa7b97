from __future__ import annotations

import numpy as np
import pytest
import torch

import monai_sre.groups
from monai_sre.groups import GridGroup, apply_grid_symmetry, grid_group, kernel_orbits, tap_action


@pytest.mark.parametrize("name, kernel_size", [("C4", 3), ("D4", 5), ("O", 3), ("Oh", 5)])
def test_tap_action_moves_taps_as_the_group_moves_voxels(name, kernel_size):
    group = grid_group(name)
    table = tap_action(group, kernel_size)
    taps = torch.arange(kernel_size**group.spatial_dims).reshape((kernel_size,) * group.spatial_dims)
    for g, element in enumerate(group.elements):
        # (g f)(u) = f(g^-1 u): the tap at g u of the moved kernel holds what tap u held
        moved = apply_grid_symmetry(taps, element).flatten().numpy()
        assert np.array_equal(moved[table[g]], np.arange(taps.numel()))
    assert not table.flags.writeable and tap_action(group, kernel_size) is table  # cached, shared


@pytest.mark.parametrize(
    "name, out_space, in_space, kernel_size, orbits",
    [
        ("O", "regular", "trivial", 3, 27),  # lifting: one free kernel, rotated
        ("Oh", "trivial", "trivial", 3, 4),  # centre, faces, edges, corners
        ("Oh", "trivial", "trivial", 5, 10),
        ("O", "regular", "regular", 3, 24 * 27),
        ("D4", "regular", "trivial", 3, 9),
    ],
)
def test_kernel_orbits_count_and_order(name, out_space, in_space, kernel_size, orbits):
    group = grid_group(name)
    ids = kernel_orbits(group, out_space, in_space, kernel_size)
    assert ids.max() + 1 == orbits and set(np.unique(ids)) == set(range(orbits))
    first = [int(ids.ravel()[np.flatnonzero(ids.ravel() == i)[0]]) for i in range(orbits)]
    assert first == sorted(first)  # numbered by first appearance
    act_out, act_in, act_tap = group.action(out_space), group.action(in_space), tap_action(group, kernel_size)
    for g in range(len(group)):  # constant on orbits: W(g x, g x', g u) = W(x, x', u)
        moved = ids[np.ix_(act_out[g], act_in[g], act_tap[g])]
        assert np.array_equal(moved, ids)


def test_even_kernels_are_refused():
    with pytest.raises(ValueError, match="kernel_size must be an odd positive int"):
        tap_action(grid_group("O"), 4)


def test_the_package_keeps_its_names():
    assert monai_sre.groups.GridGroup is GridGroup and "kernel_orbits" in monai_sre.groups.__all__
    from monai_sre.groups import grid as grid_module

    assert grid_module.grid_group is grid_group

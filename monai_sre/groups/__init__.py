# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""The symmetry groups of the voxel grid (:mod:`~monai_sre.groups.grid`) and what they do to convolution kernels
(:mod:`~monai_sre.groups.kernels`)."""

from __future__ import annotations

from .grid import (
    GRID_GROUPS,
    GROUP_SPACES,
    GridGroup,
    GridSymmetryElement,
    apply_grid_symmetry,
    apply_group_element,
    grid_group,
    grid_symmetries,
)
from .kernels import kernel_orbits, tap_action

__all__ = [
    "GRID_GROUPS",
    "GROUP_SPACES",
    "GridGroup",
    "GridSymmetryElement",
    "apply_grid_symmetry",
    "apply_group_element",
    "grid_group",
    "grid_symmetries",
    "kernel_orbits",
    "tap_action",
]

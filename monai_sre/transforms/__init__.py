# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
from __future__ import annotations

from .array import GridSymmetry, RandGridSymmetry, RandSO3Rotate, rotate_by_matrix
from .dictionary import (
    GridSymmetryD,
    GridSymmetryd,
    GridSymmetryDict,
    RandGridSymmetryD,
    RandGridSymmetryd,
    RandGridSymmetryDict,
    RandSO3RotateD,
    RandSO3Rotated,
    RandSO3RotateDict,
)
from .functional import (
    AXES,
    GridSymmetryElement,
    apply_grid_symmetry,
    axis_rotation_matrix,
    centre_crop,
    euler_xyz_from_matrix,
    grid_symmetries,
    planar_rotation_matrix,
    random_rotation_matrix,
    rotation_angle,
)
from .intensity import (
    ScaleToWhiteMatterPeak,
    ScaleToWhiteMatterPeakD,
    ScaleToWhiteMatterPeakd,
    ScaleToWhiteMatterPeakDict,
    template_white_matter_peak,
    white_matter_peak,
)

__all__ = [
    "AXES",
    "ScaleToWhiteMatterPeak",
    "ScaleToWhiteMatterPeakD",
    "ScaleToWhiteMatterPeakDict",
    "ScaleToWhiteMatterPeakd",
    "template_white_matter_peak",
    "white_matter_peak",
    "GridSymmetry",
    "GridSymmetryD",
    "GridSymmetryDict",
    "GridSymmetryElement",
    "GridSymmetryd",
    "RandGridSymmetry",
    "RandGridSymmetryD",
    "RandGridSymmetryDict",
    "RandGridSymmetryd",
    "RandSO3Rotate",
    "RandSO3RotateD",
    "RandSO3RotateDict",
    "RandSO3Rotated",
    "apply_grid_symmetry",
    "axis_rotation_matrix",
    "centre_crop",
    "euler_xyz_from_matrix",
    "grid_symmetries",
    "planar_rotation_matrix",
    "random_rotation_matrix",
    "rotate_by_matrix",
    "rotation_angle",
]

# fused random rotation + centre crop (per sample), and batched random rotation on the model's device
from .batch_rotation import BatchRandSO3Rotate, PrepareBatchRandSO3Rotate  # noqa: E402
from .rotate_crop import (  # noqa: E402
    RandSO3RotateCrop,
    RandSO3RotateCropD,
    RandSO3RotateCropd,
    RandSO3RotateCropDict,
    inverse_rotate_crop,
    rotate_crop,
    rotate_crop_index_map,
)

__all__ += [
    "BatchRandSO3Rotate",
    "PrepareBatchRandSO3Rotate",
    "RandSO3RotateCrop",
    "RandSO3RotateCropD",
    "RandSO3RotateCropDict",
    "RandSO3RotateCropd",
    "inverse_rotate_crop",
    "rotate_crop",
    "rotate_crop_index_map",
]

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Transforms in MONAI's layout: :mod:`.functional` (maths and metadata), :mod:`.array` and :mod:`.dictionary`
(the transform classes), :mod:`.geometry` (index maps of the fused rotation + crop), :mod:`.batch_rotation`
(whole batches on the model's device) and :mod:`.intensity` (white-matter-peak scaling)."""

from __future__ import annotations

from monai_sre.deprecation import deprecated_names

# the deprecated module first, so that the package's ``rotate_crop`` stays the function below, not that module
from . import rotate_crop as _deprecated_rotate_crop_module  # noqa: F401
from .array import GridSymmetry, RandGridSymmetry, RandSO3Rotate, RandSO3RotateCrop, rotate_by_matrix
from .batch_rotation import BatchRandSO3Rotate
from .dictionary import (
    GridSymmetryD,
    GridSymmetryd,
    GridSymmetryDict,
    RandGridSymmetryD,
    RandGridSymmetryd,
    RandGridSymmetryDict,
    RandSO3RotateCropD,
    RandSO3RotateCropd,
    RandSO3RotateCropDict,
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
    inverse_rotate_crop,
    planar_rotation_matrix,
    random_rotation_matrix,
    rotate_crop,
    rotation_angle,
)
from .geometry import rotate_crop_index_map
from .intensity import (
    ScaleToWhiteMatterPeak,
    ScaleToWhiteMatterPeakD,
    ScaleToWhiteMatterPeakd,
    ScaleToWhiteMatterPeakDict,
    white_matter_peak,
)

__all__ = [
    "AXES",
    "BatchRandSO3Rotate",
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
    "RandSO3RotateCrop",
    "RandSO3RotateCropD",
    "RandSO3RotateCropDict",
    "RandSO3RotateCropd",
    "RandSO3RotateD",
    "RandSO3RotateDict",
    "RandSO3Rotated",
    "ScaleToWhiteMatterPeak",
    "ScaleToWhiteMatterPeakD",
    "ScaleToWhiteMatterPeakDict",
    "ScaleToWhiteMatterPeakd",
    "apply_grid_symmetry",
    "axis_rotation_matrix",
    "centre_crop",
    "euler_xyz_from_matrix",
    "grid_symmetries",
    "inverse_rotate_crop",
    "planar_rotation_matrix",
    "random_rotation_matrix",
    "rotate_by_matrix",
    "rotate_crop",
    "rotate_crop_index_map",
    "rotation_angle",
    "white_matter_peak",
]

# moved out of the transforms: the batch helper is the engines' (MONAI's monai.engines.utils), the template's peak
# a property of the embedded dataset (transforms do not read data assets)
__getattr__ = deprecated_names(
    __name__,
    {
        "PrepareBatchRandSO3Rotate": "monai_sre.engines.prepare_batch:PrepareBatchRandSO3Rotate",
        "template_white_matter_peak": "monai_sre.data.tissue:template_white_matter_peak",
    },
)

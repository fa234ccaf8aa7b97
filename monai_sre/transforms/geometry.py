# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Index-space geometry of a rotation about the volume centre followed by a centre crop, and its resampling.

Shared by the per-sample fused transform (:func:`~monai_sre.transforms.functional.rotate_crop`) and the batched
one (:class:`~monai_sre.transforms.BatchRandSO3Rotate`), and by :func:`~monai_sre.transforms.centre_crop`: the
centre crop is defined once here (:func:`centre_crop_start`, as MONAI's ``CenterSpatialCrop`` cuts it).

The pipeline ``Rotate`` then ``CenterSpatialCrop(roi_size)`` is a composition of two maps of voxel indices, so
output voxel ``j`` of the crop is voxel ``j + start`` of the rotated volume (``start = n // 2 - s // 2`` per
axis), which samples the input at

    ``i = R (j + start - c) + c``,  ``c = (n - 1) / 2`` (the volume centre, as MONAI's ``Rotate``).

Half-voxel convention: the crop centre is ``start + (s - 1) / 2``, which is the volume centre ``c`` when ``n``
and ``s`` have the same parity (30 -> 16) and half a voxel past it otherwise (31 -> 16), as MONAI's crop.

Grid-sample normalisation follows MONAI's ``AffineTransform(normalized=False)`` for either ``align_corners``, so
indices are voxel centres in both cases (``align_corners`` only changes ``"border"``/``"reflection"`` padding).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from monai.utils import GridSampleMode, GridSamplePadMode, ensure_tuple_rep, fall_back_tuple, look_up_option

__all__ = [
    "centre_crop_slices",
    "centre_crop_start",
    "grid_theta",
    "resample",
    "resolve_roi_size",
    "rotate_crop_index_map",
]


def centre_crop_start(size: Sequence[int], roi: Sequence[int]) -> tuple[int, ...]:
    """First voxel of the central ``roi`` region of a grid of ``size``, per axis: ``n // 2 - s // 2``.

    The region MONAI's ``CenterSpatialCrop(roi)`` cuts (and ``ResizeWithPadOrCrop`` when it crops).

    Example::

        >>> centre_crop_start((30, 31), (16, 16))
        (7, 7)
    """
    return tuple(int(n) // 2 - int(s) // 2 for n, s in zip(size, roi))


def centre_crop_slices(size: Sequence[int], roi: Sequence[int]) -> tuple[slice, ...]:
    """The slices of the central ``roi`` region of a grid of ``size`` (see :func:`centre_crop_start`)."""
    return tuple(slice(start, start + int(s)) for start, s in zip(centre_crop_start(size, roi), roi))


def resolve_roi_size(size: Sequence[int], roi_size: Sequence[int] | int | None) -> tuple[int, ...]:
    """The crop size per axis: ``None`` or non-positive entries take the image's size (MONAI's convention).

    Raises:
        ValueError: the crop has the wrong number of axes or does not fit the image.
    """
    size = tuple(int(n) for n in size)
    if roi_size is not None and not isinstance(roi_size, (int, np.integer)) and len(roi_size) != len(size):
        raise ValueError(f"roi_size {tuple(roi_size)} has {len(roi_size)} axes, the image has {len(size)}: {size}.")
    roi = tuple(int(s) for s in fall_back_tuple(ensure_tuple_rep(roi_size, len(size)), size))
    if any(s > n for s, n in zip(roi, size)):
        raise ValueError(f"roi_size {roi} does not fit the spatial size {size}: pad first (the crop only crops).")
    return roi


def rotate_crop_index_map(matrix: np.ndarray | None, size: Sequence[int], roi: Sequence[int]) -> np.ndarray:
    """The homogeneous map from output (crop) voxel indices to input voxel indices of a rotation plus centre crop.

    ``i = R (j + start - c) + c`` with ``c = (n - 1) / 2`` and ``start`` from :func:`centre_crop_start`: MONAI's
    ``Rotate`` (about the volume centre, ``keep_size``) composed with ``CenterSpatialCrop(roi)``; this is what
    both record in the affine. ``matrix`` may hold a batch of rotations ``(..., d, d)``; ``None`` is the crop alone.
    """
    dims = len(size)
    centre = (np.asarray(size, dtype=float) - 1) / 2
    start = np.asarray(centre_crop_start(size, roi), dtype=float)
    rotation = np.eye(dims) if matrix is None else np.asarray(matrix, dtype=float)
    index_map = np.zeros((*rotation.shape[:-2], dims + 1, dims + 1))
    index_map[..., :dims, :dims] = rotation
    index_map[..., :dims, dims] = rotation @ (start - centre) + centre
    index_map[..., dims, dims] = 1.0
    return index_map


def _index_to_normalised(size: Sequence[int], align_corners: bool) -> np.ndarray:
    """Voxel index to ``grid_sample``'s [-1, 1] coordinates, as MONAI's ``normalize_transform`` (not zero-centred)."""
    n = np.asarray(size, dtype=float)
    xform = np.eye(len(size) + 1)
    if align_corners:
        n = np.where(n <= 1.0, 2.0, n)
        xform[:-1, :-1] = np.diag(2.0 / (n - 1.0))
        xform[:-1, -1] = -1.0
    else:
        xform[:-1, :-1] = np.diag(2.0 / n)
        xform[:-1, -1] = 1.0 / n - 1.0
    return xform


def grid_theta(index_map: np.ndarray, size: Sequence[int], roi: Sequence[int], align_corners: bool) -> np.ndarray:
    """``affine_grid``'s ``theta`` ``(..., d, d + 1)`` for index maps ``(..., d + 1, d + 1)`` (output -> input).

    As MONAI's ``AffineTransform(normalized=False, reverse_indexing=True)``: normalise both index spaces, then
    reverse the spatial axes (``grid_sample`` orders grid coordinates W, H, D).
    """
    dims = len(size)
    to_input, to_output = _index_to_normalised(size, align_corners), _index_to_normalised(roi, align_corners)
    theta = to_input @ index_map @ np.linalg.inv(to_output)
    order = [*range(dims - 1, -1, -1), dims]
    return theta[..., order, :][..., :, order][..., :dims, :]


def resample(
    images: torch.Tensor,
    theta: np.ndarray,
    roi: Sequence[int],
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool = False,
) -> torch.Tensor:
    """One ``affine_grid`` + ``grid_sample`` call for a batch ``(B, C, *spatial)`` and ``theta`` ``(B, d, d + 1)``.

    ``theta`` goes to the images' device and dtype; the output is ``(B, C, *roi)`` in that dtype.
    """
    mode = look_up_option(mode, GridSampleMode).value
    padding_mode = look_up_option(padding_mode, GridSamplePadMode).value
    theta_t = torch.as_tensor(theta, dtype=images.dtype).to(images.device, non_blocking=True)
    grid = F.affine_grid(theta_t, [images.shape[0], images.shape[1], *roi], align_corners=align_corners)
    return F.grid_sample(images, grid, mode=mode, padding_mode=padding_mode, align_corners=align_corners)

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Functional transforms: rotation maths, the grid symmetries and the fused rotation + centre crop, with metadata.

As in MONAI's ``monai/transforms/spatial/functional.py``, the maths and the ``MetaTensor`` bookkeeping (affine,
applied operations, lazy execution) live here, and the transform classes in :mod:`~monai_sre.transforms.array`
and :mod:`~monai_sre.transforms.dictionary` hold only their parameters and random state. The index-space
geometry of the rotation + crop (shared with the batched rotation) is in :mod:`~monai_sre.transforms.geometry`.

The lossless symmetries of a cubic grid (the signed axis permutations: 48 in 3D, 8 in 2D, 2 in 1D) are defined
once, in :mod:`monai_sre.groups`, and re-exported here for the transforms. They act on the last ``spatial_dims``
axes of a tensor, so the same element applies to ``(C, *spatial)`` images and ``(N, C, *spatial)`` batches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from monai.config import DtypeLike
from monai.data import MetaTensor
from monai.data.meta_obj import get_track_meta
from monai.transforms import BorderPad, Rotate
from monai.transforms.inverse import TraceableTransform
from monai.utils import (
    LazyAttr,
    TraceKeys,
    convert_to_tensor,
    ensure_tuple_rep,
    fall_back_tuple,
    get_equivalent_dtype,
)

from monai_sre.groups import GridSymmetryElement, apply_grid_symmetry, grid_symmetries
from monai_sre.transforms.geometry import (
    centre_crop_slices,
    centre_crop_start,
    grid_theta,
    resample,
    resolve_roi_size,
    rotate_crop_index_map,
)

__all__ = [
    "AXES",
    "GridSymmetryElement",
    "apply_grid_symmetry",
    "axis_rotation_matrix",
    "centre_crop",
    "euler_xyz_from_matrix",
    "grid_symmetries",
    "grid_symmetry",
    "grid_symmetry_element",
    "grid_symmetry_from_info",
    "grid_symmetry_index_map",
    "inverse_rotate_crop",
    "planar_rotation_matrix",
    "random_rotation_matrix",
    "rotate_crop",
    "rotation_angle",
    "spatial_size",
]


# rotations ------------------------------------------------------------------------------------------------
#
# Matrices act on spatial coordinates in the order of the array axes; "x", "y", "z" name spatial axes 0, 1, 2
# (as MONAI's create_rotate and RandRotate's range_x/range_y/range_z do). A 3D matrix R is applied through
# MONAI's Rotate with the intrinsic "XYZ" Euler angles of R, so that create_rotate(3, angles) == R.

AXES = ("x", "y", "z")


def planar_rotation_matrix(angle: float) -> np.ndarray:
    """The 2D rotation by ``angle`` radians: ``[[cos, -sin], [sin, cos]]`` (as MONAI's ``create_rotate(2, angle)``)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


def axis_rotation_matrix(axis: str | int, angle: float) -> np.ndarray:
    """The 3D rotation by ``angle`` radians about spatial axis ``axis`` (``"x"``/0, ``"y"``/1, ``"z"``/2)."""
    index = AXES.index(axis) if isinstance(axis, str) else int(axis)
    if index not in (0, 1, 2):
        raise ValueError(f"axis must be one of 'x', 'y', 'z' or 0, 1, 2, got {axis!r}.")
    plane = [a for a in range(3) if a != index]
    sign = -1.0 if index == 1 else 1.0  # y follows MONAI's create_rotate: [[c, s], [-s, c]] in the (x, z) plane
    matrix = np.eye(3)
    matrix[np.ix_(plane, plane)] = planar_rotation_matrix(sign * angle)
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
        return planar_rotation_matrix(rng.uniform(-limit, limit))
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


# grid symmetries of channel-first images, with their metadata ------------------------------------------------


def spatial_size(img: torch.Tensor) -> list[int]:
    """The spatial size of a channel-first image ``(C, *spatial)``, after any pending (lazy) operations."""
    return [int(s) for s in (img.peek_pending_shape() if isinstance(img, MetaTensor) else img.shape[1:])]


def grid_symmetry_element(spatial_dims: int, index: int) -> GridSymmetryElement:
    """Element ``index`` of :func:`grid_symmetries` ``(spatial_dims)``, with the valid range in the error.

    Raises:
        ValueError: ``index`` is not below the group's order (48 in 3D, 8 in 2D, 2 in 1D).
    """
    elements = grid_symmetries(spatial_dims)
    if index >= len(elements):
        raise ValueError(f"index must be below {len(elements)} for {spatial_dims} spatial dims, got {index}.")
    return elements[index]


def grid_symmetry_index_map(element: GridSymmetryElement, size: Sequence[int]) -> torch.Tensor:
    """The homogeneous map from output voxel indices to input voxel indices of ``element`` on a grid of ``size``.

    This is what MONAI records in the affine of a spatial transform (as for ``Flip``): composed with the input
    affine, voxel ``v`` of the output sits where its source voxel sat.
    """
    dims = element.spatial_dims
    xform = torch.zeros(dims + 1, dims + 1, dtype=torch.float64)
    xform[dims, dims] = 1.0
    for out_axis, (in_axis, flip) in enumerate(zip(element.permutation, element.flips)):
        xform[in_axis, out_axis] = -1.0 if flip else 1.0
        xform[in_axis, dims] = size[in_axis] - 1 if flip else 0.0
    return xform


def grid_symmetry(img: torch.Tensor, element: GridSymmetryElement, lazy: bool, transform_info: dict) -> torch.Tensor:
    """Functional implementation of the grid symmetries, eager or lazy, in the manner of MONAI's ``flip``.

    Args:
        img: channel-first image ``(C, *spatial)``; a ``MetaTensor`` gets the operation recorded (affine, applied
            operations, with ``extra_info`` ``{"permutation", "flips"}`` for the inverse).
        element: the symmetry, acting on the spatial axes.
        lazy: record the operation as pending instead of executing it.
        transform_info: the calling transform's ``get_transform_info()``.

    Raises:
        ValueError: the element maps spatial axes of different sizes onto each other.
    """
    img = convert_to_tensor(img, track_meta=get_track_meta())
    size = spatial_size(img)
    if any(size[p] != size[i] for i, p in enumerate(element.permutation)):
        raise ValueError(f"grid symmetry {element} maps spatial axes of different sizes onto each other: {size}.")
    meta_info = TraceableTransform.track_transform_meta(
        img,
        sp_size=[size[p] for p in element.permutation],
        affine=grid_symmetry_index_map(element, size),
        extra_info={"permutation": list(element.permutation), "flips": [int(f) for f in element.flips]},
        orig_size=size,
        transform_info=transform_info,
        lazy=lazy,
    )
    out = img
    if isinstance(img, MetaTensor):  # a new MetaTensor: the caller's keeps its own metadata
        out = MetaTensor(img.as_tensor(), meta=img.meta, applied_operations=list(img.applied_operations))
    if lazy:
        return out.copy_meta_from(meta_info) if isinstance(out, MetaTensor) else meta_info
    out = apply_grid_symmetry(out, element)
    return out.copy_meta_from(meta_info) if isinstance(out, MetaTensor) else out


def grid_symmetry_from_info(extra_info: dict) -> GridSymmetryElement:
    """The element that :func:`grid_symmetry` recorded in a trace's ``extra_info``."""
    return GridSymmetryElement(tuple(extra_info["permutation"]), tuple(bool(f) for f in extra_info["flips"]))


# crops of batches -------------------------------------------------------------------------------------------


def centre_crop(images: torch.Tensor, size: Sequence[int] | int) -> torch.Tensor:
    """The central ``size`` region of the spatial axes of a batch ``(N, C, *spatial)`` (a view, no copy).

    The region is the one MONAI's ``CenterSpatialCrop(size)`` cuts from each image
    (:func:`~monai_sre.transforms.geometry.centre_crop_start`), so a crop here matches a ``CenterSpatialCropd``
    in a pipeline; non-positive entries keep that axis whole, as there.

    Args:
        images: the batch.
        size: the spatial size of the crop, one int for every axis or one per axis.

    Raises:
        ValueError: ``size`` has the wrong number of axes or exceeds the images.

    Example::

        >>> centre_crop(torch.zeros(2, 1, 30, 30, 30), 16).shape
        torch.Size([2, 1, 16, 16, 16])
    """
    spatial = tuple(images.shape[2:])
    try:
        size = tuple(int(s) for s in ensure_tuple_rep(size, len(spatial)))
    except ValueError:  # a sequence of the wrong length
        size = tuple(size)  # type: ignore[arg-type]
    if len(size) != len(spatial) or any(s > n for s, n in zip(size, spatial)):
        raise ValueError(f"crop_size {size} does not fit images of spatial shape {spatial}.")
    return images[(slice(None), slice(None), *centre_crop_slices(spatial, fall_back_tuple(size, spatial)))]


# a rotation fused with the centre crop that follows it ---------------------------------------------------------


def _torch_dtype(dtype: DtypeLike | torch.dtype | str | None, default: torch.dtype) -> torch.dtype:
    if dtype is None:
        return default if default.is_floating_point else torch.float32
    return get_equivalent_dtype(dtype, torch.Tensor)


def rotate_crop(
    img: torch.Tensor,
    matrix: np.ndarray | None,
    roi_size: Sequence[int] | int | None,
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool = False,
    dtype: DtypeLike | torch.dtype = np.float32,
    lazy: bool = False,
    transform_info: dict | None = None,
) -> torch.Tensor:
    """Rotate a channel-first image about its centre by ``matrix`` and keep the central ``roi_size``, in one step.

    Equal, to interpolation round-off, to MONAI's ``Rotate`` (``keep_size=True``, the same ``mode``,
    ``padding_mode`` and ``align_corners``) followed by ``CenterSpatialCrop(roi_size)`` (or
    ``ResizeWithPadOrCrop(roi_size)``), at a fraction of the cost: only the output region is resampled, in one
    ``affine_grid`` + ``grid_sample`` call. It is recorded like them: the affine becomes ``affine @ A`` with ``A``
    the index map of :func:`~monai_sre.transforms.geometry.rotate_crop_index_map` (so the affine of the output
    equals the two-step pipeline's, for every size and parity), and the trace holds what
    :func:`inverse_rotate_crop` needs. The crop must fit the image; pad before the transform otherwise.

    Args:
        img: channel-first image ``(C, *spatial)``, 2 or 3 spatial dims.
        matrix: the rotation (``d x d``), or ``None`` for the crop alone (exact, no interpolation).
        roi_size: the output spatial size; ``None`` or non-positive entries keep that axis's size.
        mode: ``"bilinear"`` (trilinear in 3D) or ``"nearest"``.
        padding_mode: ``"zeros"``, ``"border"`` or ``"reflection"``, for samples outside the input.
        align_corners: as for ``torch.nn.functional.grid_sample``.
        dtype: resampling dtype (``None``: the image's float dtype); the output is float32, as MONAI's.
        lazy: record the operation as pending instead of executing it.
        transform_info: the calling transform's ``get_transform_info()``.

    Raises:
        ValueError: not 2 or 3 spatial dims, a matrix of the wrong shape, or a crop larger than the image.
    """
    img = convert_to_tensor(img, track_meta=get_track_meta())
    size = spatial_size(img)
    if len(size) not in (2, 3):
        raise ValueError(f"rotate_crop needs 2 or 3 spatial dims (channel first), got shape {tuple(img.shape)}.")
    if matrix is not None and np.shape(matrix) != (len(size), len(size)):
        raise ValueError(f"matrix must be {len(size)}x{len(size)} for this image, got shape {np.shape(matrix)}.")
    roi = resolve_roi_size(size, roi_size)
    index_map = rotate_crop_index_map(matrix, size, roi)
    compute_dtype = _torch_dtype(dtype, img.dtype)
    extra_info = {
        "rot_mat": index_map,
        "mode": mode,
        "padding_mode": padding_mode,
        "align_corners": align_corners,
        "dtype": str(compute_dtype)[6:],  # "float32", as MONAI's rotate records it
        "rotated": matrix is not None,
    }
    if lazy and transform_info:  # the pending operation carries its modes (MONAI's default is border padding)
        transform_info = {**transform_info, LazyAttr.INTERP_MODE: mode, LazyAttr.PADDING_MODE: padding_mode}
    meta_info = TraceableTransform.track_transform_meta(
        img,
        sp_size=roi,
        affine=index_map,
        extra_info=extra_info,
        orig_size=size,
        transform_info=transform_info,
        lazy=lazy,
    )
    if lazy:
        if not isinstance(img, MetaTensor):
            return meta_info  # type: ignore[return-value]
        out = MetaTensor(img.as_tensor(), meta=img.meta, applied_operations=list(img.applied_operations))
        return out.copy_meta_from(meta_info)
    data = img.as_tensor() if isinstance(img, MetaTensor) else img
    if matrix is None:
        result = data[(slice(None), *centre_crop_slices(size, roi))].to(torch.float32, copy=True)
    else:
        theta = grid_theta(index_map, size, roi, align_corners)[None]
        result = resample(data[None].to(compute_dtype), theta, roi, mode, padding_mode, align_corners)[0]
        result = result.to(torch.float32)
    return MetaTensor(result).copy_meta_from(meta_info) if isinstance(img, MetaTensor) else result


def inverse_rotate_crop(data: torch.Tensor, transform: Mapping) -> torch.Tensor:
    """Undo :func:`rotate_crop` given its popped trace: back to the original size and affine.

    A rotation is resampled back through the inverse index map (MONAI's ``Rotate.inverse_transform``), so the
    values agree with the original inside the region the crop kept, up to interpolation; outside it the result
    is ``padding_mode`` fill. The crop alone is undone exactly, by zero padding.
    """
    info = transform[TraceKeys.EXTRA_INFO]
    if info["rotated"]:
        return Rotate(0).inverse_transform(data, transform)
    size, roi = transform[TraceKeys.ORIG_SIZE], spatial_size(data)
    border = []
    for n, s, before in zip(size, roi, centre_crop_start(size, roi)):
        border += [before, n - s - before]
    padder = BorderPad(border)
    with padder.trace_transform(False):
        return padder(data)

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""A uniformly random rotation fused with the centre crop that follows it: only the output region is resampled.

The pipeline ``RandSO3Rotated`` then ``ResizeWithPadOrCropd(roi_size)`` resamples the whole stored patch (e.g.
30^3) through MONAI's ``Rotate`` and then keeps the central ``roi_size`` (e.g. 16^3). Both steps are maps of
voxel indices, so they compose into one: output voxel ``j`` of the crop is voxel ``j + start`` of the rotated
volume (``start = n // 2 - s // 2`` per axis, as MONAI's ``CenterSpatialCrop``), which samples the input at

    ``i = R (j + start - c) + c``,  ``c = (n - 1) / 2`` (the volume centre, as MONAI's ``Rotate``).

:func:`rotate_crop` resamples only those ``s`` voxels per axis, in one ``affine_grid`` + ``grid_sample`` call,
and records that index map in the affine and the applied operations exactly as ``Rotate`` followed by the
crop would (so the affine of the output equals the old pipeline's, and :func:`inverse_rotate_crop` inverts it).

Half-voxel convention: the crop centre is ``start + (s - 1) / 2``, which is the volume centre ``c`` when ``n``
and ``s`` have the same parity (30 -> 16) and half a voxel past it otherwise (31 -> 16), as the old pipeline's
crop. The index map above keeps that offset, so the fused output equals the old pipeline's for every size.

Grid-sample normalisation follows MONAI's ``AffineTransform(normalized=False)`` for either ``align_corners``, so
indices are voxel centres in both cases (``align_corners`` only changes ``"border"``/``"reflection"`` padding).
The crop must fit the image (``roi_size <= spatial size`` per axis); pad before the transform otherwise.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from monai.config import DtypeLike, KeysCollection
from monai.data import MetaTensor
from monai.data.meta_obj import get_track_meta
from monai.transforms import BorderPad, Rotate
from monai.transforms.inverse import InvertibleTransform, TraceableTransform
from monai.transforms.transform import LazyTransform
from monai.utils import (
    GridSampleMode,
    GridSamplePadMode,
    LazyAttr,
    TraceKeys,
    TransformBackends,
    convert_to_tensor,
    ensure_tuple_rep,
    fall_back_tuple,
    get_equivalent_dtype,
    look_up_option,
)

from monai_sre.transforms.array import RandSO3Draw
from monai_sre.transforms.dictionary import _SharedDraw
from monai_sre.transforms.functional import spatial_size

__all__ = [
    "RandSO3RotateCrop",
    "RandSO3RotateCropD",
    "RandSO3RotateCropDict",
    "RandSO3RotateCropd",
    "inverse_rotate_crop",
    "rotate_crop",
    "rotate_crop_index_map",
]


# geometry (shared with monai_sre.transforms.batch_rotation) ----------------------------------------------------


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

    ``i = R (j + start - c) + c`` with ``c = (n - 1) / 2`` and ``start = n // 2 - s // 2``: MONAI's ``Rotate``
    (about the volume centre, ``keep_size``) composed with ``CenterSpatialCrop(roi)``; this is what both record in
    the affine. ``matrix`` may hold a batch of rotations ``(..., d, d)``; ``None`` is the crop alone.
    """
    dims = len(size)
    centre = (np.asarray(size, dtype=float) - 1) / 2
    start = np.asarray([n // 2 - s // 2 for n, s in zip(size, roi)], dtype=float)
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


def _torch_dtype(dtype: DtypeLike | torch.dtype | str | None, default: torch.dtype) -> torch.dtype:
    if dtype is None:
        return default if default.is_floating_point else torch.float32
    return get_equivalent_dtype(dtype, torch.Tensor)


# functional, with the MetaTensor bookkeeping -------------------------------------------------------------------


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
    ``ResizeWithPadOrCrop(roi_size)``), and recorded like them: the affine becomes ``affine @ A`` with ``A`` the
    index map of :func:`rotate_crop_index_map`, and the trace holds what :func:`inverse_rotate_crop` needs.

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
        starts = [n // 2 - s // 2 for n, s in zip(size, roi)]
        crop = data[(slice(None), *[slice(a, a + s) for a, s in zip(starts, roi)])]
        result = crop.to(torch.float32, copy=True)
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
    for n, s in zip(size, roi):
        before = n // 2 - s // 2
        border += [before, n - s - before]
    padder = BorderPad(border)
    with padder.trace_transform(False):
        return padder(data)


# transforms ----------------------------------------------------------------------------------------------------


class RandSO3RotateCrop(RandSO3Draw, InvertibleTransform, LazyTransform):
    """Rotate by a uniformly random rotation and centre crop, resampling only the crop (fused, one step).

    The same output, draws and metadata as :class:`~monai_sre.transforms.RandSO3Rotate` (``keep_size=True``)
    followed by ``ResizeWithPadOrCrop(roi_size)``, at a fraction of the cost: only ``roi_size`` voxels are
    interpolated. With the same random state it draws the same rotations as ``RandSO3Rotate``. When the
    transform is skipped (``prob``) the image is still centre cropped (exactly, no interpolation).

    Args:
        roi_size: output spatial size; ``None`` or non-positive entries keep that axis (rotation only).
        prob: probability of rotating.
        max_angle: largest rotation angle in radians, in ``(0, pi]``; ``None`` for all rotations.
        mode: ``"bilinear"`` (trilinear in 3D) or ``"nearest"``.
        padding_mode: ``"zeros"``, ``"border"`` or ``"reflection"``.
        align_corners: as for ``torch.nn.functional.grid_sample``.
        dtype: resampling dtype; the output is float32.
        lazy: execute lazily.

    Example::

        >>> rotate_crop = RandSO3RotateCrop(roi_size=16).set_random_state(0)
        >>> rotate_crop(torch.rand(1, 30, 30, 30)).shape
        torch.Size([1, 16, 16, 16])
    """

    backend = [TransformBackends.TORCH]

    def __init__(
        self,
        roi_size: Sequence[int] | int | None,
        prob: float = 1.0,
        max_angle: float | None = None,
        mode: str = "bilinear",
        padding_mode: str = "zeros",
        align_corners: bool = False,
        dtype: DtypeLike | torch.dtype = np.float32,
        lazy: bool = False,
    ) -> None:
        RandSO3Draw.__init__(self, prob, max_angle)
        LazyTransform.__init__(self, lazy=lazy)
        self.roi_size = roi_size
        self.mode = look_up_option(mode, GridSampleMode).value
        self.padding_mode = look_up_option(padding_mode, GridSamplePadMode).value
        self.align_corners = align_corners
        self.dtype = dtype

    def __call__(
        self,
        img: torch.Tensor,
        mode: str | None = None,
        padding_mode: str | None = None,
        align_corners: bool | None = None,
        dtype: DtypeLike | torch.dtype = None,
        randomize: bool = True,
        lazy: bool | None = None,
    ) -> torch.Tensor:
        """Rotate and crop ``img`` (channel first); arguments override the constructor's for this call."""
        self._draw_for(img, randomize)
        return rotate_crop(
            img,
            self.matrix if self._do_transform else None,
            self.roi_size,
            mode=mode or self.mode,
            padding_mode=padding_mode or self.padding_mode,
            align_corners=self.align_corners if align_corners is None else align_corners,
            dtype=dtype or self.dtype,
            lazy=self.lazy if lazy is None else lazy,
            transform_info=self.get_transform_info(),
        )

    def inverse(self, data: torch.Tensor) -> torch.Tensor:
        return inverse_rotate_crop(data, self.pop_transform(data))


class RandSO3RotateCropd(_SharedDraw):
    """Dictionary :class:`RandSO3RotateCrop`: one uniformly random rotation and the same crop for every key.

    Draws as :class:`~monai_sre.transforms.RandSO3Rotated` does (same random state, same rotations), so it
    replaces ``RandSO3Rotated`` + ``ResizeWithPadOrCropd(roi_size)`` in a pipeline.

    Args:
        keys: keys of the images to rotate together (e.g. ``["image", "label"]``).
        roi_size: output spatial size; ``None`` or non-positive entries keep that axis.
        prob: probability of rotating (the crop is always applied).
        max_angle: largest rotation angle in radians, ``None`` for all rotations.
        mode: interpolation per key (``"bilinear"`` for images, ``"nearest"`` for labels) or one for all.
        padding_mode: padding per key or one for all.
        align_corners: per key or one for all.
        dtype: resampling dtype per key or one for all.
        allow_missing_keys: do not raise on missing keys.
        lazy: execute lazily.
    """

    backend = RandSO3RotateCrop.backend

    def __init__(
        self,
        keys: KeysCollection,
        roi_size: Sequence[int] | int | None,
        prob: float = 1.0,
        max_angle: float | None = None,
        mode: Sequence[str] | str = "bilinear",
        padding_mode: Sequence[str] | str = "zeros",
        align_corners: Sequence[bool] | bool = False,
        dtype: Sequence[DtypeLike | torch.dtype] | DtypeLike | torch.dtype = np.float32,
        allow_missing_keys: bool = False,
        lazy: bool = False,
    ) -> None:
        self.inner = RandSO3RotateCrop(roi_size, prob=1.0, max_angle=max_angle, lazy=lazy)
        super().__init__(keys, prob, allow_missing_keys, lazy)
        self._set_resampling_options(mode, padding_mode, align_corners, dtype)

    def __call__(self, data: Mapping[Hashable, torch.Tensor], lazy: bool | None = None) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        self._draw(d)  # as RandSO3Rotated draws, so both give the same rotations from the same state
        lazy_ = self.lazy if lazy is None else lazy
        for key, (mode, padding_mode, align_corners, dtype) in self.keys_with_options(d):
            d[key] = rotate_crop(
                d[key],
                self.inner.matrix if self._do_transform else None,
                self.inner.roi_size,
                mode=mode,
                padding_mode=padding_mode,
                align_corners=align_corners,
                dtype=dtype,
                lazy=lazy_,
                transform_info=self.get_transform_info(),
            )
        return d

    def inverse(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = inverse_rotate_crop(d[key], self.pop_transform(d[key]))
        return d


RandSO3RotateCropD = RandSO3RotateCropDict = RandSO3RotateCropd

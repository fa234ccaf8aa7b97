# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Array transforms: uniformly random rotations and the lossless grid symmetries, in MONAI style.

Inputs are channel-first (``(C, *spatial)``), ``MetaTensor``-aware (the affine records the operation),
invertible, and usable lazily (``Compose(..., lazy=True)``):

- :class:`RandSO3Rotate` draws rotations uniformly over SO(3) and resamples through MONAI's ``Rotate``;
- :class:`RandSO3RotateCrop` draws the same rotations and fuses each with the centre crop that follows it,
  resampling only the crop (:func:`~monai_sre.transforms.functional.rotate_crop`);
- :class:`GridSymmetry` / :class:`RandGridSymmetry` apply one of the 48 axis permutations and flips (8 in
  2D) exactly, by permuting and flipping axes, recording the index-space map in the affine like MONAI's
  ``Flip``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from monai.config import DtypeLike
from monai.data.meta_obj import get_track_meta
from monai.transforms import Rotate
from monai.transforms.inverse import InvertibleTransform
from monai.transforms.transform import LazyTransform, RandomizableTransform
from monai.utils import (
    GridSampleMode,
    GridSamplePadMode,
    TraceKeys,
    TransformBackends,
    convert_to_tensor,
    look_up_option,
)

from monai_sre.transforms.functional import (
    GridSymmetryElement,
    euler_xyz_from_matrix,
    grid_symmetries,
    grid_symmetry,
    grid_symmetry_element,
    grid_symmetry_from_info,
    inverse_rotate_crop,
    random_rotation_matrix,
    rotate_crop,
    spatial_size,
)

__all__ = ["GridSymmetry", "RandGridSymmetry", "RandSO3Draw", "RandSO3Rotate", "RandSO3RotateCrop", "rotate_by_matrix"]


def rotate_by_matrix(
    img: torch.Tensor,
    matrix: np.ndarray,
    keep_size: bool = True,
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool = False,
    dtype: DtypeLike | torch.dtype = np.float32,
    lazy: bool = False,
) -> torch.Tensor:
    """Rotate a channel-first image about its centre by a 2x2 or 3x3 rotation matrix, through MONAI's ``Rotate``.

    The 3D matrix is passed as its intrinsic ``XYZ`` Euler angles, so the rotation MONAI applies is exactly
    ``matrix`` (``create_rotate(3, angles) == matrix``); a 2D matrix is passed as its angle.
    """
    matrix = np.asarray(matrix, dtype=float)
    if matrix.shape == (2, 2):
        angle: float | tuple[float, ...] = float(np.arctan2(matrix[1, 0], matrix[0, 0]))
    elif matrix.shape == (3, 3):
        angle = euler_xyz_from_matrix(matrix)
    else:
        raise ValueError(f"matrix must be a 2x2 or 3x3 rotation, got shape {matrix.shape}.")
    rotator = Rotate(
        angle=angle,
        keep_size=keep_size,
        mode=mode,
        padding_mode=padding_mode,
        align_corners=align_corners,
        dtype=dtype,
        lazy=lazy,
        rotate_order="XYZ",
    )
    return rotator(img)


class RandSO3Draw(RandomizableTransform):
    """The random part of the SO(3) rotation transforms: with probability ``prob``, a rotation uniform over SO(3)
    (planar angles in 2D), restricted to angles up to ``max_angle`` radians when given.

    Shared by :class:`RandSO3Rotate` and :class:`RandSO3RotateCrop`, so both draw the same
    matrices from the same random state.
    """

    def __init__(self, prob: float = 1.0, max_angle: float | None = None) -> None:
        RandomizableTransform.__init__(self, prob)
        if max_angle is not None and not 0 < max_angle <= np.pi:
            raise ValueError(f"max_angle must be in (0, pi] radians or None, got {max_angle}.")
        self.max_angle = max_angle
        self.matrix = np.eye(3)

    def randomize(self, data: int | None = None) -> None:
        """Decide whether to rotate and draw the rotation; ``data`` is the number of spatial dims (default 3)."""
        super().randomize(None)
        if self._do_transform:
            self.matrix = random_rotation_matrix(self.R, 3 if data is None else data, self.max_angle)

    def _draw_for(self, img: torch.Tensor, randomize: bool) -> int:
        """Check that ``img`` (channel first) has 2 or 3 spatial dims, draw for it if asked; return the dims."""
        spatial_dims = len(spatial_size(img))
        if spatial_dims not in (2, 3):
            raise ValueError(
                f"{type(self).__name__} needs 2 or 3 spatial dims (channel first), got shape {tuple(img.shape)}."
            )
        if randomize:
            self.randomize(spatial_dims)
        return spatial_dims


class _ResamplingOptions:
    """The resampling options a rotating transform keeps, and a call's overrides of them."""

    def _keep_resampling_options(self, mode, padding_mode, align_corners: bool, dtype) -> None:
        self.mode, self.padding_mode, self.align_corners, self.dtype = mode, padding_mode, align_corners, dtype

    def _resampling_options(self, mode=None, padding_mode=None, align_corners: bool | None = None, dtype=None) -> dict:
        """The kept options, each replaced by the call's where given (``None``: keep it)."""
        return {
            "mode": mode or self.mode,
            "padding_mode": padding_mode or self.padding_mode,
            "align_corners": self.align_corners if align_corners is None else align_corners,
            "dtype": dtype or self.dtype,
        }


class RandSO3Rotate(RandSO3Draw, _ResamplingOptions, InvertibleTransform, LazyTransform):
    """Rotate by a uniformly random rotation (Haar measure on SO(3); uniform planar angle in 2D).

    MONAI's ``RandRotate`` draws three uniform Euler angles, which is not uniform over 3D rotations: it
    over-samples some orientations. Here a uniformly random unit quaternion gives every orientation the same
    chance; ``max_angle`` restricts the draw to rotations by at most that angle (axis uniform, angle with the
    Haar density ``1 - cos t``), uniformly over that set.

    Args:
        prob: probability of rotating.
        max_angle: largest rotation angle in radians, in ``(0, pi]``; ``None`` for all rotations.
        keep_size: keep the spatial size (corners cut) or grow it to hold the whole rotated image.
        mode: interpolation, ``"bilinear"`` (trilinear in 3D) or ``"nearest"``.
        padding_mode: ``"zeros"``, ``"border"`` or ``"reflection"``.
        align_corners: as for ``torch.nn.functional.grid_sample``.
        dtype: resampling dtype.
        lazy: execute lazily (fused with neighbouring spatial transforms by ``Compose(lazy=True)``).

    Example::

        >>> rotate = RandSO3Rotate(prob=1.0, mode="nearest")
        >>> rotate.set_random_state(0)(torch.rand(1, 16, 16, 16)).shape
        torch.Size([1, 16, 16, 16])
    """

    backend = Rotate.backend

    def __init__(
        self,
        prob: float = 1.0,
        max_angle: float | None = None,
        keep_size: bool = True,
        mode: str = "bilinear",
        padding_mode: str = "zeros",
        align_corners: bool = False,
        dtype: DtypeLike | torch.dtype = np.float32,
        lazy: bool = False,
    ) -> None:
        RandSO3Draw.__init__(self, prob, max_angle)
        LazyTransform.__init__(self, lazy=lazy)
        self.keep_size = keep_size
        self._keep_resampling_options(mode, padding_mode, align_corners, dtype)

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
        """Rotate ``img`` (channel first, 2 or 3 spatial dims); arguments override the constructor's for this call."""
        spatial_dims = self._draw_for(img, randomize)
        lazy_ = self.lazy if lazy is None else lazy
        if self._do_transform:
            if self.matrix.shape != (spatial_dims, spatial_dims):
                raise ValueError(
                    f"the drawn rotation is {self.matrix.shape[0]}-D but the image has {spatial_dims} spatial dims; "
                    f"call randomize({spatial_dims}) first."
                )
            options = self._resampling_options(mode, padding_mode, align_corners, dtype or self.dtype or img.dtype)
            out = rotate_by_matrix(img, self.matrix, keep_size=self.keep_size, lazy=lazy_, **options)
        else:
            out = convert_to_tensor(img, track_meta=get_track_meta(), dtype=torch.float32)
        self.push_transform(out, replace=True, lazy=lazy_)
        return out

    def inverse(self, data: torch.Tensor) -> torch.Tensor:
        transform = self.pop_transform(data)
        if not transform[TraceKeys.DO_TRANSFORM]:
            return data
        return Rotate(0).inverse_transform(data, transform[TraceKeys.EXTRA_INFO])


class RandSO3RotateCrop(RandSO3Draw, _ResamplingOptions, InvertibleTransform, LazyTransform):
    """Rotate by a uniformly random rotation and centre crop, resampling only the crop (fused, one step).

    The same output, draws and metadata as :class:`RandSO3Rotate` (``keep_size=True``) followed by
    ``ResizeWithPadOrCrop(roi_size)``, at a fraction of the cost: only ``roi_size`` voxels are interpolated
    (:func:`~monai_sre.transforms.functional.rotate_crop`). With the same random state it draws the same
    rotations as ``RandSO3Rotate``. When the transform is skipped (``prob``) the image is still centre cropped
    (exactly, no interpolation).

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
        padding_mode = look_up_option(padding_mode, GridSamplePadMode).value
        self._keep_resampling_options(look_up_option(mode, GridSampleMode).value, padding_mode, align_corners, dtype)

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
            lazy=self.lazy if lazy is None else lazy,
            transform_info=self.get_transform_info(),
            **self._resampling_options(mode, padding_mode, align_corners, dtype),
        )

    def inverse(self, data: torch.Tensor) -> torch.Tensor:
        return inverse_rotate_crop(data, self.pop_transform(data))


def _undo_grid_symmetry(transform: InvertibleTransform, data: torch.Tensor) -> torch.Tensor:
    """Pop ``transform``'s trace from ``data`` and apply the inverse of the element it recorded."""
    element = grid_symmetry_from_info(transform.pop_transform(data)[TraceKeys.EXTRA_INFO])
    with transform.trace_transform(False):
        return grid_symmetry(data, element.inverse(), False, transform.get_transform_info())


class GridSymmetry(InvertibleTransform, LazyTransform):
    """Apply one of the lossless symmetries of the voxel grid, exactly (no interpolation).

    Args:
        index: which element of :func:`~monai_sre.transforms.functional.grid_symmetries` (``0`` is the
            identity; 48 elements in 3D, 8 in 2D).
        lazy: execute lazily.

    Raises:
        ValueError: an index outside the group, or a permutation between axes of different sizes.
    """

    backend = [TransformBackends.TORCH]

    def __init__(self, index: int, lazy: bool = False) -> None:
        LazyTransform.__init__(self, lazy=lazy)
        if not isinstance(index, (int, np.integer)) or index < 0:
            raise ValueError(f"index must be a non-negative int, got {index!r}.")
        self.index = int(index)

    def element(self, spatial_dims: int) -> GridSymmetryElement:
        """The element this transform applies to images of ``spatial_dims`` spatial dims."""
        return grid_symmetry_element(spatial_dims, self.index)

    def __call__(self, img: torch.Tensor, lazy: bool | None = None) -> torch.Tensor:
        lazy_ = self.lazy if lazy is None else lazy
        return grid_symmetry(img, self.element(len(spatial_size(img))), lazy_, self.get_transform_info())

    def inverse(self, data: torch.Tensor) -> torch.Tensor:
        return _undo_grid_symmetry(self, data)


class RandGridSymmetry(RandomizableTransform, InvertibleTransform, LazyTransform):
    """Apply a uniformly random grid symmetry (one of 48 in 3D, 8 in 2D; identity included), exactly.

    Args:
        prob: probability of applying a symmetry drawn uniformly from the whole group.
        lazy: execute lazily.
    """

    backend = [TransformBackends.TORCH]

    def __init__(self, prob: float = 1.0, lazy: bool = False) -> None:
        RandomizableTransform.__init__(self, prob)
        LazyTransform.__init__(self, lazy=lazy)
        self.index = 0

    def randomize(self, data: int | None = None) -> None:
        """Draw the element; ``data`` is the number of spatial dims (default 3)."""
        super().randomize(None)
        self.index = int(self.R.randint(len(grid_symmetries(3 if data is None else data)))) if self._do_transform else 0

    def __call__(self, img: torch.Tensor, randomize: bool = True, lazy: bool | None = None) -> torch.Tensor:
        spatial_dims = len(spatial_size(img))
        if randomize:
            self.randomize(spatial_dims)
        lazy_ = self.lazy if lazy is None else lazy
        return grid_symmetry(img, grid_symmetry_element(spatial_dims, self.index), lazy_, self.get_transform_info())

    def inverse(self, data: torch.Tensor) -> torch.Tensor:
        return _undo_grid_symmetry(self, data)

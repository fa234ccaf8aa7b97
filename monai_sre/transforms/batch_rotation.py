# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Uniformly random rotations of a whole batch on the model's device, in one resampling call.

:class:`BatchRandSO3Rotate` rotates every sample of a ``(B, C, *spatial)`` batch by its own uniformly random
rotation (about the volume centre) and keeps the central ``roi_size``, with one ``affine_grid`` +
``grid_sample`` call that samples only the output region: the geometry of
:class:`~monai_sre.transforms.RandSO3RotateCrop` (and so of ``RandSO3Rotate`` + ``ResizeWithPadOrCrop``), on
the batch's device and in its dtype. With the same seed it draws the same rotations, in sample order, as
``RandSO3RotateCrop`` applied to the samples one by one.

:class:`~monai_sre.engines.PrepareBatchRandSO3Rotate` puts it in a MONAI workflow (a trainer's
``prepare_batch``); the data pipeline then stops before the crop (the stored patches are batched whole).

Batched rotation is an augmentation for training: its output is a plain tensor, without metadata or trace (as
``EnsureTyped(track_meta=False)`` gives the bundles' batches), and is not invertible.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from monai.data import MetaTensor
from monai.utils import GridSampleMode, GridSamplePadMode, look_up_option
from monai.utils.misc import MAX_SEED

from monai_sre.deprecation import deprecated_names
from monai_sre.transforms.array import RandSO3Draw
from monai_sre.transforms.geometry import (
    centre_crop_slices,
    grid_theta,
    resample,
    resolve_roi_size,
    rotate_crop_index_map,
)

__all__ = ["BatchRandSO3Rotate"]


class BatchRandSO3Rotate(RandSO3Draw):
    """Rotate each sample of a batch by its own uniformly random rotation and centre crop, in one resampling call.

    Rotations are drawn with :func:`~monai_sre.transforms.functional.random_rotation_matrix` (Haar measure on
    SO(3); uniform angle in 2D), one per sample, from this transform's ``numpy`` random state (``seed``,
    :meth:`set_random_state`). A sample that is not rotated (``prob``) is centre cropped only.

    Args:
        roi_size: output spatial size; ``None`` or non-positive entries keep that axis (rotation only).
        prob: probability of rotating each sample.
        max_angle: largest rotation angle in radians, in ``(0, pi]``; ``None`` for all rotations.
        mode: ``"bilinear"`` (trilinear in 3D) or ``"nearest"``.
        padding_mode: ``"zeros"``, ``"border"`` or ``"reflection"``.
        align_corners: as for ``torch.nn.functional.grid_sample``.
        seed: seed of the random state; ``None`` draws one from numpy's global state, so that
            ``monai.utils.set_determinism`` (the bundles' ``initialize``) makes runs reproducible.

    Example::

        >>> rotate = BatchRandSO3Rotate(roi_size=16, seed=0)
        >>> rotate(torch.rand(32, 1, 30, 30, 30)).shape
        torch.Size([32, 1, 16, 16, 16])
    """

    def __init__(
        self,
        roi_size: Sequence[int] | int | None = None,
        prob: float = 1.0,
        max_angle: float | None = None,
        mode: str = "bilinear",
        padding_mode: str = "zeros",
        align_corners: bool = False,
        seed: int | None = None,
    ) -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"prob must be in [0, 1], got {prob}.")
        RandSO3Draw.__init__(self, prob, max_angle)  # checks max_angle; draws as the per-sample transforms draw
        self.roi_size = roi_size
        self.mode = look_up_option(mode, GridSampleMode).value
        self.padding_mode = look_up_option(padding_mode, GridSamplePadMode).value
        self.align_corners = align_corners
        self.set_random_state(int(np.random.randint(MAX_SEED)) if seed is None else seed)
        self.rotated = np.zeros(0, dtype=bool)
        self.matrices = np.zeros((0, 3, 3))

    def randomize(self, data: int | None = None, spatial_dims: int = 3) -> None:
        """Draw, for each of ``data`` samples (default 1), whether to rotate it and its rotation.

        Sets ``self.rotated`` ``(B,)`` and ``self.matrices`` ``(B, d, d)`` (the identity where not rotated), in
        the order in which ``RandSO3RotateCrop`` with the same random state draws them.
        """
        count = 1 if data is None else int(data)
        rotated, matrices = np.zeros(count, dtype=bool), np.tile(np.eye(spatial_dims), (count, 1, 1))
        for index in range(count):
            RandSO3Draw.randomize(self, spatial_dims)
            rotated[index] = self._do_transform
            if rotated[index]:
                matrices[index] = self.matrix
        self.rotated, self.matrices = rotated, matrices

    def __call__(self, images: torch.Tensor, randomize: bool = True) -> torch.Tensor:
        """Rotate and crop ``images`` ``(B, C, *spatial)`` (2 or 3 spatial dims) on their device.

        The output is ``(B, C, *roi_size)`` in the images' dtype (float32 for integer images), a plain tensor.

        Raises:
            ValueError: not 2 or 3 spatial dims, a crop larger than the images, or (``randomize=False``) drawn
                rotations that do not match the batch.
        """
        images = images.as_tensor() if isinstance(images, MetaTensor) else torch.as_tensor(images)
        size = tuple(images.shape[2:])
        if len(size) not in (2, 3):
            raise ValueError(f"BatchRandSO3Rotate needs (B, C, *spatial) with 2 or 3 spatial dims, got {images.shape}.")
        roi = resolve_roi_size(size, self.roi_size)
        if randomize:
            self.randomize(images.shape[0], len(size))
        if self.matrices.shape != (images.shape[0], len(size), len(size)):
            raise ValueError(f"drawn rotations {self.matrices.shape} do not match the batch {tuple(images.shape)}.")
        if not images.is_floating_point():
            images = images.float()
        if not self.rotated.any():  # the crop alone: exact, no interpolation
            return images[(slice(None), slice(None), *centre_crop_slices(size, roi))].clone()
        theta = grid_theta(rotate_crop_index_map(self.matrices, size, roi), size, roi, self.align_corners)
        return resample(images, theta, roi, self.mode, self.padding_mode, self.align_corners)


# moved to the engines' code (MONAI keeps prepare_batch helpers in monai.engines.utils)
__getattr__ = deprecated_names(
    __name__, {"PrepareBatchRandSO3Rotate": "monai_sre.engines.prepare_batch:PrepareBatchRandSO3Rotate"}
)

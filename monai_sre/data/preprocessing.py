# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Preprocessing presets for clinical volumes before rotation-robust classification.

Order matters for rotations: volumes are put in RAS orientation and resampled to ISOTROPIC spacing first
(a rotation of anisotropic voxels would mix millimetres along one axis with millimetres along another), then
normalised to [-1, 1] (CT: a Hounsfield window; MR: percentiles), then padded or cropped to a fixed size. Random
rotations, if any, come last, so their zero fill is mid-grey in the normalised range, as in the paper protocol.
"""

from __future__ import annotations

from collections.abc import Sequence

from monai.data import ImageReader
from monai.transforms import (
    Compose,
    EnsureTyped,
    LoadImaged,
    Orientationd,
    ResizeWithPadOrCropd,
    ScaleIntensityRanged,
    ScaleIntensityRangePercentilesd,
    Spacingd,
)
from monai.utils import ensure_tuple_rep, look_up_option

from monai_sre.transforms.dictionary import RandSO3RotateCropd

__all__ = ["MODALITIES", "classification_preprocessing"]

MODALITIES = ("ct", "mr")


def classification_preprocessing(
    modality: str = "mr",
    spacing: float | Sequence[float] | None = 1.0,
    spatial_size: int | Sequence[int] = 64,
    ct_window: tuple[float, float] = (-1000.0, 400.0),
    mr_percentiles: tuple[float, float] = (1.0, 99.0),
    reader: ImageReader | str | None = None,
    random_rotation: bool = False,
    crop_size: int | Sequence[int] | None = None,
    keys: Sequence[str] = ("image",),
    track_meta: bool = False,
) -> Compose:
    """Load, orient (RAS), resample isotropically, normalise to [-1, 1], and pad/crop volumes for a classifier.

    Args:
        modality: ``"ct"`` (clip to ``ct_window`` Hounsfield units) or ``"mr"`` (map ``mr_percentiles``).
        spacing: isotropic target spacing in mm (a float), or per axis; ``None`` keeps the native grid.
        spatial_size: output size per axis (centre pad or crop).
        ct_window: Hounsfield window mapped to [-1, 1].
        mr_percentiles: lower and upper intensity percentiles mapped to [-1, 1].
        reader: a MONAI reader (e.g. ``SimpleITKReader()``, ``"ITKReader"``, ``"NibabelReader"``) or ``None``
            for MONAI's choice by file type.
        random_rotation: append a uniformly random 3D rotation (training augmentation), fused with the crop
            (:class:`~monai_sre.transforms.RandSO3RotateCropd` resamples only the ``crop_size`` output).
        crop_size: centre crop to this size after the rotation (the network's input size): with
            ``spatial_size >= crop_size * sqrt(3)`` a rotated crop holds only real voxels, no zero fill.
            ``None``: no crop.
        keys: image keys.
        track_meta: keep MetaTensors (the file name and affine: needed by savers); else plain tensors.
    """
    modality = look_up_option(modality, MODALITIES)
    keys = list(keys)
    transforms = [
        LoadImaged(keys, reader=reader, image_only=True, ensure_channel_first=True),
        Orientationd(keys, "RAS", labels=None),
    ]
    if spacing is not None:
        transforms.append(Spacingd(keys, pixdim=spacing, mode="bilinear"))
    if modality == "ct":
        low, high = ct_window
        transforms.append(ScaleIntensityRanged(keys, a_min=low, a_max=high, b_min=-1.0, b_max=1.0, clip=True))
    else:
        low, high = mr_percentiles
        transforms.append(
            ScaleIntensityRangePercentilesd(keys, lower=low, upper=high, b_min=-1.0, b_max=1.0, clip=True)
        )
    if random_rotation and crop_size is not None:
        # the rotation resamples only the crop (fused); pad first where the crop is larger than the volume
        spatial_size = [max(s, c) for s, c in zip(ensure_tuple_rep(spatial_size, 3), ensure_tuple_rep(crop_size, 3))]
        transforms.append(ResizeWithPadOrCropd(keys, spatial_size=spatial_size))
        transforms.append(RandSO3RotateCropd(keys, roi_size=crop_size, prob=1.0))
    else:
        transforms.append(ResizeWithPadOrCropd(keys, spatial_size=spatial_size))
        if random_rotation:
            transforms.append(RandSO3RotateCropd(keys, roi_size=None, prob=1.0))
        if crop_size is not None:
            transforms.append(ResizeWithPadOrCropd(keys, spatial_size=crop_size))
    transforms.append(EnsureTyped(keys, track_meta=track_meta))
    return Compose(transforms)

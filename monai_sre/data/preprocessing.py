# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Preprocessing presets for clinical volumes before rotation-robust classification and segmentation.

Order matters for rotations: volumes are put in RAS orientation and resampled to ISOTROPIC spacing first
(a rotation of anisotropic voxels would mix millimetres along one axis with millimetres along another), then
normalised to [-1, 1] (CT: a Hounsfield window; MR: percentiles), then padded or cropped to a fixed size. Random
rotations, if any, come last, so their zero fill is mid-grey in the normalised range, as in the paper protocol.
"""

from __future__ import annotations

from collections.abc import Sequence

from monai.data import ImageReader
from monai.transforms import (
    BorderPadd,
    CenterSpatialCropd,
    Compose,
    EnsureTyped,
    LoadImaged,
    Orientationd,
    RandCropByLabelClassesd,
    ResizeWithPadOrCropd,
    ScaleIntensityRanged,
    ScaleIntensityRangePercentilesd,
    Spacingd,
)
from monai.utils import ensure_tuple_rep, look_up_option

from monai_sre.arguments import as_probability, check_positive_int
from monai_sre.transforms.dictionary import RandSO3RotateCropd

__all__ = ["MODALITIES", "classification_preprocessing", "rotation_context_size", "segmentation_preprocessing"]

MODALITIES = ("ct", "mr")
# the normalised intensity of air and of padding outside a volume (both presets map to [-1, 1])
OUTSIDE_VALUE = -1.0


def _load_orient_resample(keys: list[str], spacing, reader, modes: list[str]) -> list:
    """Load, put in RAS and resample to ``spacing`` (``None``: keep the grid); ``modes`` per key."""
    transforms = [
        LoadImaged(keys, reader=reader, image_only=True, ensure_channel_first=True),
        Orientationd(keys, "RAS", labels=None),
    ]
    if spacing is not None:
        transforms.append(Spacingd(keys, pixdim=spacing, mode=modes))
    return transforms


def _normalise(key: str, modality: str, ct_window: tuple[float, float], mr_percentiles: tuple[float, float]):
    """Map intensities to [-1, 1]: a Hounsfield window (CT) or percentiles (MR), clipped."""
    if modality == "ct":
        low, high = ct_window
        return ScaleIntensityRanged(key, a_min=low, a_max=high, b_min=-1.0, b_max=1.0, clip=True)
    low, high = mr_percentiles
    return ScaleIntensityRangePercentilesd(key, lower=low, upper=high, b_min=-1.0, b_max=1.0, clip=True)


def rotation_context_size(crop_size: int) -> int:
    """The side of the cube a ``crop_size`` crop reads from when rotated by any angle about its centre:
    ``ceil(crop_size * sqrt(3))`` (its samples lie within ``(crop_size - 1) / 2 * sqrt(3)`` voxels of the centre,
    and linear interpolation reads one voxel further), so a rotated crop cut from such a cube holds real voxels
    only, no fill."""
    check_positive_int("crop_size", crop_size)
    return int(-(-crop_size * 3**0.5 // 1))


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
    rotation_prob: float = 1.0,
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
        rotation_prob: with ``random_rotation``, the probability that a sample is rotated; the others keep their
            orientation (and are cropped the same way). A string that reads as a number (the command line's) is
            accepted.

    Raises:
        ValueError: ``rotation_prob`` outside [0, 1].
    """
    rotation_prob = as_probability(rotation_prob, "rotation_prob")
    modality = look_up_option(modality, MODALITIES)
    keys = list(keys)
    transforms = _load_orient_resample(keys, spacing, reader, ["bilinear"] * len(keys))
    transforms.append(_normalise(keys, modality, ct_window, mr_percentiles))
    if random_rotation and crop_size is not None:
        # the rotation resamples only the crop (fused); pad first where the crop is larger than the volume
        spatial_size = [max(s, c) for s, c in zip(ensure_tuple_rep(spatial_size, 3), ensure_tuple_rep(crop_size, 3))]
        transforms.append(ResizeWithPadOrCropd(keys, spatial_size=spatial_size))
        transforms.append(RandSO3RotateCropd(keys, roi_size=crop_size, prob=rotation_prob))
    else:
        transforms.append(ResizeWithPadOrCropd(keys, spatial_size=spatial_size))
        if random_rotation:
            transforms.append(RandSO3RotateCropd(keys, roi_size=None, prob=rotation_prob))
        if crop_size is not None:
            transforms.append(ResizeWithPadOrCropd(keys, spatial_size=crop_size))
    transforms.append(EnsureTyped(keys, track_meta=track_meta))
    return Compose(transforms)


def segmentation_preprocessing(
    modality: str = "mr",
    spacing: float | Sequence[float] | None = 2.0,
    patch_size: int | None = None,
    num_classes: int | None = None,
    num_samples: int = 4,
    class_ratios: Sequence[float] | None = None,
    random_rotation: bool = False,
    ct_window: tuple[float, float] = (-1000.0, 400.0),
    mr_percentiles: tuple[float, float] = (1.0, 99.0),
    reader: ImageReader | str | None = None,
    image_key: str = "image",
    label_key: str | None = "label",
    track_meta: bool = False,
) -> Compose:
    """Load, orient (RAS), resample image and label map to one spacing, normalise the image to [-1, 1]; for
    training, cut class-balanced patches, each rotated with its label map by one random 3D rotation.

    The image is resampled linearly and the label map by nearest neighbour, so labels never mix. Without
    ``patch_size`` the whole volume comes out (validation, evaluation and inference run a sliding window over it).
    With ``patch_size`` (training), the volume is padded by half a :func:`rotation_context_size` on every side
    (image: air, ``-1``; labels: background), so that any voxel can be a patch centre, ``num_samples`` context
    cubes are cut centred on voxels of classes drawn by ``class_ratios`` (MONAI's ``RandCropByLabelClassesd``:
    equal by default, so scarce classes are seen as often as common ones), and each is rotated (image bilinear,
    labels nearest) and cropped to ``patch_size`` in one resampling (:class:`~monai_sre.transforms.RandSO3RotateCropd`):
    the patch holds real voxels of the padded volume only, no fill.
    Without ``random_rotation`` the context cube is centre-cropped instead.

    Args:
        modality: ``"ct"`` (clip to ``ct_window`` Hounsfield units) or ``"mr"`` (map ``mr_percentiles``).
        spacing: target spacing in mm (a float: isotropic, as rotations need), or per axis; ``None`` keeps the
            native grid.
        patch_size: training patch side in voxels; ``None``: whole volumes.
        num_classes: classes of the label maps, background included (needed with ``patch_size``).
        num_samples: patches per volume and pass (with ``patch_size``).
        class_ratios: how often a patch is centred on each class (``num_classes`` weights); ``None``: equally.
        random_rotation: rotate every patch by a uniformly random 3D rotation (with ``patch_size``).
        ct_window: Hounsfield window mapped to [-1, 1].
        mr_percentiles: lower and upper intensity percentiles mapped to [-1, 1].
        reader: a MONAI reader, or ``None`` for MONAI's choice by file type.
        image_key: the image key.
        label_key: the label-map key; ``None`` for images alone (inference).
        track_meta: keep MetaTensors (file names and affines: needed by ``Invertd`` and savers).

    Raises:
        ValueError: an unknown modality; ``patch_size`` without a label map or ``num_classes``;
            ``random_rotation`` without ``patch_size``.
    """
    modality = look_up_option(modality, MODALITIES)
    keys = [image_key] + ([label_key] if label_key is not None else [])
    transforms = _load_orient_resample(keys, spacing, reader, ["bilinear", "nearest"][: len(keys)])
    transforms.append(_normalise(image_key, modality, ct_window, mr_percentiles))
    if patch_size is None:
        if random_rotation:
            raise ValueError("random_rotation rotates training patches: give patch_size too.")
        transforms.append(EnsureTyped(keys, track_meta=track_meta))
        return Compose(transforms)
    if label_key is None or num_classes is None:
        raise ValueError("training patches are balanced by class: give label_key and num_classes with patch_size.")
    check_positive_int("num_samples", num_samples)
    context = rotation_context_size(patch_size)
    transforms += [  # half a context of air around the volume: every voxel can be a patch centre
        BorderPadd(image_key, spatial_border=context // 2, value=OUTSIDE_VALUE),
        BorderPadd(label_key, spatial_border=context // 2, value=0),
        RandCropByLabelClassesd(
            keys,
            label_key=label_key,
            spatial_size=context,
            ratios=None if class_ratios is None else list(class_ratios),
            num_classes=num_classes,
            num_samples=num_samples,
            warn=False,
        ),
    ]
    if random_rotation:
        transforms.append(RandSO3RotateCropd(keys, roi_size=patch_size, prob=1.0, mode=["bilinear", "nearest"]))
    else:
        transforms.append(CenterSpatialCropd(keys, roi_size=patch_size))
    transforms.append(EnsureTyped(keys, track_meta=track_meta))
    return Compose(transforms)

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Voxel-wise tissue segmentation on the embedded MNI ICBM152 2009 template (a demo task, not a benchmark).

Labels per voxel (:data:`TISSUE_SEGMENTATION_CLASSES`): 0 background, 1 cortical grey matter, 2 deep grey
matter, 3 white matter, 4 internal CSF. They are the rules with which :mod:`monai_sre.data.tissue` labels a
classification patch by its centre voxel (:data:`~monai_sre.data.tissue.TISSUE_RULES`), evaluated at every
voxel of the same 2 mm grid, through the same function (``tissue_candidates`` of
``scripts/build_embedded_dataset.py``; the recipe is in the build scripts, the package only serves the files):

- GM and WM are the voxel's own template probabilities (2 x 2 x 2 block means of the 1 mm maps).
- Depth, the only neighbourhood in the rules, is already a per-voxel quantity: the voxel's distance in mm to
  the surface of the brain mask (GM + WM > 0.2, closed twice and hole-filled, over the whole volume). A voxel's
  label therefore depends on anatomy up to 25 mm away, as a classification patch's does.
- The brain-mask conditions (cortical GM and internal CSF must lie in the mask) are kept per voxel. The
  classification's last mask, "at least half a patch from the volume border", constrains patch centres, not
  tissue: it is dropped for labels, and patch centres here keep their own margin instead.
- The four rules are disjoint (GM + WM <= 1 in the template, the depth ranges do not meet, CSF needs
  GM < 0.2 and WM < 0.2); the builder checks it. Every other voxel is 0, "background": outside the brain, but
  also inside it where no rule holds (partial volume, GM at 12-25 mm depth, CSF shallower than 15 mm), about
  45 % of the brain mask. So the classification label of a patch is the segmentation label of its centre
  voxel minus 1 (tested against the shipped classification file).

What ships (``assets/mni152_tissue_segmentation_2mm.npz``, built by
``scripts/build_tissue_segmentation_dataset.py``): the label volume (uint8, 98 x 116 x 94), the patch centres
of every split and the build parameters. The T1 intensities are not duplicated: they are the 2 mm volume of the
classification file (``assets/mni152_tissue_2mm.npz``), checked by its SHA-256 on load. Labels could not be
derived on load from what was already shipped (the GM/WM maps are not shipped, and the depth needs scipy, which
is not a dependency); the label volume is the smallest addition (~45 kB).

Patches (image and label cut on load around each centre): a network sees the centre ``label_size`` = 16^3 crop
(the label region, scored); the stored ``patch_size`` = 28^3 cube is everything that crop can read when rotated
by any angle: its samples lie within (16 - 1) / 2 * sqrt(3) = 13.0 voxels of the patch's geometric centre,
and trilinear interpolation reads one voxel further, within the 28^3 cube, so rotations resample real anatomy
instead of padding. Larger crops do not fit: the brain spans 90 coronal voxels (internal CSF 55) and three
disjoint label slabs each at least one crop wide, with the rotation margins outside them, leave the test split
about 80 CSF voxels at 24^3 (42^3 patches), and no room at all at 32^3 (56^3 patches).

Splits are coronal slabs (centres along the posterior-anterior axis, as in the classification dataset):
train 14-38, validation 60-62, test 80-102 (patches' label regions train 6-45, validation 52-69, test 72-109).
No two splits' label regions (upright crops) share a voxel; every voxel a training patch holds (so any
rotated training crop) lies outside the validation and test label regions, and training and test patches
share no voxel at all (both may be rotated). Validation and test patches, rotated, may share a few voxels
(neither is trained on). ``split_separation`` in the build script measures these gaps.

Centres are drawn per split and per foreground class (``counts`` per class: 12 / 3 / 3, so 48 / 12 / 12
patches) with probability proportional to the number of voxels of that class in the label region, without
replacement, so every class is present in every split (internal CSF is scarce and sits mostly between the
test and training slabs).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from monai.data import Dataset

from monai_sre.arguments import check_positive_int
from monai_sre.data.tissue import (
    EMBEDDED_BUILDER,
    SPLITS,
    TISSUE_ASSET,
    TISSUE_CLASSES,
    TISSUE_RULES,
    built_by_script,
    cut_patches,
)

__all__ = [
    "TISSUE_SEGMENTATION_ASSET",
    "TISSUE_SEGMENTATION_CLASSES",
    "TISSUE_SEGMENTATION_RULES",
    "TissueSegmentationDataset",
    "load_tissue_segmentation_arrays",
    "volume_sha256",
]

TISSUE_SEGMENTATION_ASSET = Path(__file__).parent / "assets" / "mni152_tissue_segmentation_2mm.npz"
TISSUE_SEGMENTATION_CLASSES = ("background",) + TISSUE_CLASSES
TISSUE_SEGMENTATION_RULES = (
    "none of the rules below (outside the brain, partial volume, GM at 12-25 mm depth, CSF shallower than 15 mm)",
) + TISSUE_RULES
#: the stored patch side (what a rotated ``LABEL_SIZE`` crop can read) and the scored centre crop's side
PATCH_SIZE = 28
LABEL_SIZE = 16
SECTIONS = {"train": "train", "training": "train", "val": "val", "validation": "val", "test": "test"}
#: the script that builds the shipped file (and holds its recipe)
BUILDER = "scripts/build_tissue_segmentation_dataset.py"


def volume_sha256(volume: np.ndarray) -> str:
    """The SHA-256 of a uint8 volume's bytes: how the labels file names the T1 volume it was built on."""
    return hashlib.sha256(np.ascontiguousarray(volume, dtype=np.uint8).tobytes()).hexdigest()


def _open_npz(path: Path, key: str, what: str, builder: str) -> np.lib.npyio.NpzFile:
    if not path.is_file():
        raise FileNotFoundError(
            f"{what} not found at '{path}'; rebuild it with `pip install --no-deps nilearn scipy && python {builder}`."
        )
    try:
        opened = np.load(path, allow_pickle=False)
        if not isinstance(opened, np.lib.npyio.NpzFile) or key not in opened.files:
            raise ValueError(f"not an npz archive holding '{key}'")
    except (ValueError, OSError, zipfile.BadZipFile) as error:  # numpy reads any other file as a pickle
        raise ValueError(f"'{path}' is not the {what} (an .npz archive written by {builder}).") from error
    return opened


def load_tissue_segmentation_arrays(
    patch_size: int = PATCH_SIZE, path: str | Path | None = None, image_path: str | Path | None = None
) -> dict:
    """The segmentation dataset: ``{split}_images`` and ``{split}_labels`` (uint8, ``(N, P, P, P)``) per split.

    Also ``{split}_centers`` (int64 ``(N, 3)``, 2 mm voxel indices), ``affine`` (2 mm) and ``info`` (the build
    parameters, ``info["label_size"]`` being the side of the scored centre crop).

    Args:
        patch_size: side of the cut cubes (at most 28, the stored margin); the label region is the centre
            ``info["label_size"]``^3 crop.
        path: another file written by ``scripts/build_tissue_segmentation_dataset.py``; defaults to the shipped one.
        image_path: the classification file holding the 2 mm T1 ``volume``; defaults to the shipped one.

    Raises:
        FileNotFoundError: a file is missing (the message says how to rebuild it).
        ValueError: a file is not what it should be, the T1 volume is not the one the labels were built on, or
            ``patch_size`` exceeds the stored margin.
    """
    path = Path(path) if path is not None else TISSUE_SEGMENTATION_ASSET
    image_path = Path(image_path) if image_path is not None else TISSUE_ASSET
    with _open_npz(path, "labels", "tissue segmentation dataset", BUILDER) as stored:
        info = json.loads(str(stored["info"]))
        labels = stored["labels"]
        centres = {split: stored[f"{split}_centers"].astype(np.int64) for split in SPLITS}
        affine = stored["affine"]
    with _open_npz(image_path, "volume", "embedded tissue dataset", EMBEDDED_BUILDER) as images:
        volume = images["volume"]
    if volume.shape != labels.shape or volume_sha256(volume) != info["image"]["sha256"]:
        raise ValueError(
            f"the T1 volume in '{image_path}' is not the one the labels in '{path}' were built on (SHA-256 "
            f"{info['image']['sha256'][:12]}...); rebuild both files from the same template."
        )
    if not 1 <= patch_size <= info["patch_size"]:
        raise ValueError(
            f"patch_size must be between 1 and {info['patch_size']} (the stored margin), got {patch_size}."
        )
    arrays: dict = {"info": info, "affine": affine}
    for split in SPLITS:
        arrays[f"{split}_images"] = cut_patches(volume, centres[split], patch_size)
        arrays[f"{split}_labels"] = cut_patches(labels, centres[split], patch_size)
        arrays[f"{split}_centers"] = centres[split]
    return arrays


class TissueSegmentationDataset(Dataset):
    """One section of the embedded tissue segmentation dataset (see :mod:`monai_sre.data.tissue_segmentation`).

    Items are ``{"image": float32 (1, P, P, P) in 0..255, "label": int64 (1, P, P, P) in 0..4}``; rotate both
    together (nearest interpolation for the label) and centre crop ``self.label_size`` for the scored region.

    Args:
        section: ``"train"`` (or ``"training"``), ``"val"`` (or ``"validation"``) or ``"test"``.
        patch_size: side of the cubes to cut (28 keeps the full rotation margin for 16^3 crops).
        transform: MONAI (dictionary) transforms applied to every item.
        path: the dataset file, or a folder holding ``mni152_tissue_segmentation_2mm.npz``; defaults to the
            shipped one.
        num_samples: keep only the first ``num_samples`` items (quick runs and tests); ``None`` keeps all.
        image_path: the classification file holding the T1 volume; defaults to the shipped one.
    """

    def __init__(
        self,
        section: str,
        patch_size: int = PATCH_SIZE,
        transform: Callable | None = None,
        path: str | Path | None = None,
        num_samples: int | None = None,
        image_path: str | Path | None = None,
    ) -> None:
        if section not in SECTIONS:
            raise ValueError(
                f"section must be 'train' (or 'training'), 'val' (or 'validation') or 'test', got {section!r}."
            )
        check_positive_int("num_samples", num_samples, allow_none=True)
        split = SECTIONS[section]
        if path is not None and Path(path).is_dir():
            path = Path(path) / TISSUE_SEGMENTATION_ASSET.name
        arrays = load_tissue_segmentation_arrays(patch_size, path, image_path)
        images, labels = arrays[f"{split}_images"][:num_samples], arrays[f"{split}_labels"][:num_samples]
        items = [
            {"image": image[None].astype(np.float32), "label": label[None].astype(np.int64)}
            for image, label in zip(images, labels)
        ]
        super().__init__(items, transform)
        self.section = split
        self.class_names = TISSUE_SEGMENTATION_CLASSES
        self.centers = arrays[f"{split}_centers"][:num_samples]
        self.label_size = int(arrays["info"]["label_size"])
        self.info = arrays["info"]


__getattr__ = built_by_script(
    __name__,
    dict.fromkeys(
        ("build_tissue_segmentation_dataset", "sample_segmentation_centres", "split_separation", "tissue_label_volume"),
        BUILDER,
    ),
)

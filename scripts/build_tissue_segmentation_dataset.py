# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Rebuild the embedded tissue segmentation dataset from the MNI ICBM152 2009 template that nilearn ships.

Needs nilearn's files only (not its dependencies) and scipy; writes
monai_sre/data/assets/mni152_tissue_segmentation_2mm.npz::

    pip install --no-deps nilearn && pip install scipy
    python scripts/build_tissue_segmentation_dataset.py

The output is byte-identical on every rerun (fixed zip timestamps, fixed member order, deflate level 9). The
recipe is here: the labels are the classification rules of scripts/build_embedded_dataset.py applied to every
voxel (:func:`tissue_label_volume`), and the patch centres are drawn per split and per foreground class with
probability proportional to that class's voxels in the label region (:func:`sample_segmentation_centres`),
within coronal ranges whose regions :func:`split_separation` checks; monai_sre/data/tissue_segmentation.py
serves the file and says what it holds. The T1 intensities come from the classification file
(scripts/build_embedded_dataset.py), which must be built from the same template.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from itertools import product
from pathlib import Path

import numpy as np
from build_embedded_dataset import (
    affine_2mm,
    build_from_command_line,
    downsample2,
    t1_volume_2mm,
    tissue_candidates,
)

from monai_sre.data.tissue import SPLITS, TISSUE_ASSET
from monai_sre.data.tissue_segmentation import (
    LABEL_SIZE,
    PATCH_SIZE,
    TISSUE_SEGMENTATION_ASSET,
    TISSUE_SEGMENTATION_CLASSES,
    TISSUE_SEGMENTATION_RULES,
    volume_sha256,
)

SPLIT_RANGES = {"train": (14, 38), "val": (60, 62), "test": (80, 102)}
COUNTS_PER_CLASS = {"train": 12, "val": 3, "test": 3}
COPYRIGHT = (
    "Derived from the MNI ICBM152 2009 template. Copyright (C) 1993-2004 Louis Collins, McConnell Brain Imaging "
    "Centre, Montreal Neurological Institute, McGill University. See NOTICE beside this file."
)


def tissue_label_volume(gm: np.ndarray, wm: np.ndarray, voxel_mm: float) -> np.ndarray:
    """Label every voxel 0..4 by the classification rules (uint8; the classes: ``TISSUE_SEGMENTATION_CLASSES``).

    Args:
        gm: grey-matter probability in [0, 1].
        wm: white-matter probability in [0, 1].
        voxel_mm: voxel size; depth is measured in mm.

    Raises:
        ValueError: a voxel satisfies two rules (cannot happen for probability maps with GM + WM <= 1).
    """
    labels = np.zeros(gm.shape, np.uint8)
    for label, voxels in enumerate(tissue_candidates(gm, wm, voxel_mm, margin=0), start=1):
        index = tuple(voxels.T)
        if labels[index].any():
            raise ValueError(f"voxels satisfy the rule of class {label} and of an earlier class; the rules overlap.")
        labels[index] = label
    return labels


def _crop_counts(mask: np.ndarray, size: int) -> np.ndarray:
    """Voxels of ``mask`` in the ``size``^3 cube centred (``size // 2``) on each voxel; 0 where it leaves the volume."""
    total = np.zeros(tuple(n + 1 for n in mask.shape), np.int64)
    total[1:, 1:, 1:] = mask.astype(np.int64).cumsum(0).cumsum(1).cumsum(2)
    starts = [np.arange(max(n - size + 1, 0)) for n in mask.shape]
    counts = np.zeros(tuple(len(s) for s in starts), np.int64)
    for upper in product((False, True), repeat=3):  # inclusion-exclusion over the cube's 8 corners
        corner = np.ix_(*(s + size if u else s for s, u in zip(starts, upper)))
        counts += (-1) ** (3 - sum(upper)) * total[corner]
    out = np.zeros(mask.shape, np.int64)
    out[tuple(slice(size // 2, size // 2 + len(s)) for s in starts)] = counts
    return out


def split_separation(
    ranges: Mapping[str, tuple[int, int]], patch_size: int = PATCH_SIZE, label_size: int = LABEL_SIZE
) -> dict[str, int]:
    """Free voxel planes between the splits' regions along the split axis (negative: they overlap).

    Args:
        ranges: lowest and highest centre index of each split along the split axis (``"train"``, ``"val"``,
            ``"test"``, posterior to anterior); actual centres or the ranges they were drawn from.
        patch_size: stored patch side (a patch is everything a rotated crop can read).
        label_size: side of the scored centre crop (the label region).

    Returns:
        ``"train-val labels"``, ``"val-test labels"``, ``"train-test labels"`` (upright label regions),
        ``"train patches-val labels"`` (any rotated training crop vs upright validation) and
        ``"train-test patches"`` (both rotated).
    """

    def span(split: str, size: int) -> tuple[int, int]:
        low, high = ranges[split]
        return int(low) - size // 2, int(high) - size // 2 + size - 1

    def gap(first: tuple[int, int], second: tuple[int, int]) -> int:
        return second[0] - first[1] - 1

    labels = {split: span(split, label_size) for split in SPLITS}
    patches = {split: span(split, patch_size) for split in SPLITS}
    return {
        "train-val labels": gap(labels["train"], labels["val"]),
        "val-test labels": gap(labels["val"], labels["test"]),
        "train-test labels": gap(labels["train"], labels["test"]),
        "train patches-val labels": gap(patches["train"], labels["val"]),
        "train-test patches": gap(patches["train"], patches["test"]),
    }


def _counts_and_ranges(
    counts: Mapping[str, int] | None, ranges: Mapping[str, tuple[int, int]] | None
) -> tuple[dict[str, int], dict[str, tuple[int, ...]]]:
    """The patches per class and the centre ranges of every split, defaults filled in (as the file records them)."""
    ranges = {split: tuple(int(v) for v in value) for split, value in (ranges or SPLIT_RANGES).items()}
    return dict(counts or COUNTS_PER_CLASS), ranges


def sample_segmentation_centres(
    labels: np.ndarray,
    seed: int = 0,
    counts: Mapping[str, int] | None = None,
    ranges: Mapping[str, tuple[int, int]] | None = None,
    axis: int = 1,
    patch_size: int = PATCH_SIZE,
    label_size: int = LABEL_SIZE,
) -> dict[str, np.ndarray]:
    """Patch centres ``(n, 3)`` of every split, drawn deterministically from a label volume.

    Per split (in train, val, test order, one random stream) and per foreground class, ``counts[split]``
    centres are drawn without replacement with probability proportional to the class's voxels in the
    ``label_size``^3 label region, among centres in the split's range along ``axis`` whose ``patch_size``^3
    patch lies inside the volume; then shuffled.

    Raises:
        ValueError: the ranges let splits' regions overlap (see :func:`split_separation`), or a split has too
            few candidate centres for a class.
    """
    counts, ranges = _counts_and_ranges(counts, ranges)
    gaps = split_separation(ranges, patch_size, label_size)
    if min(gaps.values()) < 0 or min(gaps["train-val labels"], gaps["val-test labels"]) < 1:
        raise ValueError(f"split ranges {ranges} let regions overlap or touch (free planes between them: {gaps}).")
    half = patch_size // 2
    inside = np.zeros(labels.shape, bool)
    inside[tuple(slice(half, n - patch_size + half + 1) for n in labels.shape)] = True
    position = np.arange(labels.shape[axis]).reshape([-1 if a == axis else 1 for a in range(3)])
    weights = [_crop_counts(labels == label, label_size) for label in range(1, len(TISSUE_SEGMENTATION_CLASSES))]
    rng = np.random.RandomState(seed)
    out = {}
    for split in SPLITS:
        low, high = ranges[split]
        allowed = inside & (position >= low) & (position <= high)
        chosen: list[np.ndarray] = []
        for label, weight in enumerate(weights, start=1):
            w = np.where(allowed, weight, 0).reshape(-1).astype(np.float64)
            if chosen:
                w[np.concatenate(chosen)] = 0
            if np.count_nonzero(w) < counts[split]:
                raise ValueError(
                    f"split '{split}' has {np.count_nonzero(w)} candidate centres whose label region holds "
                    f"'{TISSUE_SEGMENTATION_CLASSES[label]}', fewer than the {counts[split]} requested; move the "
                    f"ranges {ranges} or ask for fewer."
                )
            chosen.append(rng.choice(w.size, counts[split], replace=False, p=w / w.sum()))
        flat = np.concatenate(chosen)[rng.permutation(len(chosen) * counts[split])]
        out[split] = np.stack(np.unravel_index(flat, labels.shape), axis=1).astype(np.int16)
    return out


def build_tissue_segmentation_dataset(
    t1: np.ndarray,
    gm: np.ndarray,
    wm: np.ndarray,
    affine: np.ndarray,
    seed: int = 0,
    counts: Mapping[str, int] | None = None,
    ranges: Mapping[str, tuple[int, int]] | None = None,
    axis: int = 1,
    patch_size: int = PATCH_SIZE,
    label_size: int = LABEL_SIZE,
) -> dict[str, np.ndarray]:
    """Build the stored segmentation dataset from the 1 mm template (T1, GM, WM as uint8 arrays, RAS).

    Args:
        t1: T1 template (uint8); only its 2 mm volume's SHA-256 is stored (the classification file holds it).
        gm: grey-matter probability map (uint8, 255 = 1).
        wm: white-matter probability map (uint8, 255 = 1).
        affine: the 1 mm voxel-to-world affine.
        seed: sampling seed.
        counts: patches per foreground class and split (default train 12, val 3, test 3).
        ranges: centre index range along ``axis`` (2 mm) per split (default train 14-38, val 60-62, test 80-102).
        axis: the coronal (posterior-anterior) axis of the RAS array.
        patch_size: stored patch side (what a rotated ``label_size`` crop can read).
        label_size: side of the scored centre crop.

    Returns:
        the arrays to store (``labels``, ``affine``, ``{split}_centers``, ``info``).
    """
    volume = t1_volume_2mm(t1)  # as build_tissue_dataset stores it
    labels = tissue_label_volume(downsample2(gm) / 255, downsample2(wm) / 255, 2.0)
    counts, ranges = _counts_and_ranges(counts, ranges)
    centres = sample_segmentation_centres(labels, seed, counts, ranges, axis, patch_size, label_size)
    out: dict[str, np.ndarray] = {"labels": labels, "affine": affine_2mm(affine)}
    for split in SPLITS:
        out[f"{split}_centers"] = centres[split]
    out["info"] = np.array(
        json.dumps(
            {
                "classes": TISSUE_SEGMENTATION_CLASSES,
                "rules": TISSUE_SEGMENTATION_RULES,
                "voxel_mm": 2.0,
                "patch_size": patch_size,
                "label_size": label_size,
                "seed": seed,
                "split_axis": axis,
                "split_ranges": ranges,
                "counts_per_class": counts,
                "image": {"file": TISSUE_ASSET.name, "key": "volume", "sha256": volume_sha256(volume)},
                "copyright": COPYRIGHT,
            }
        )
    )
    return out


def save_npz_reproducibly(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """``numpy.savez_compressed`` without its wall-clock zip timestamps, so equal arrays give equal bytes."""
    with zipfile.ZipFile(path, "w") as archive:
        for key, value in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asanyarray(value), allow_pickle=False)
            member = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o644 << 16
            archive.writestr(member, buffer.getvalue(), compresslevel=9)


def main() -> None:
    description = __doc__.split("\n")[0]
    output, stored = build_from_command_line(build_tissue_segmentation_dataset, description, TISSUE_SEGMENTATION_ASSET)
    save_npz_reproducibly(output, stored)
    labels = stored["labels"]
    print(f"wrote {output} ({output.stat().st_size} bytes), 2 mm label volume {labels.shape}")
    per_class = ", ".join(f"{name} {int((labels == c).sum())}" for c, name in enumerate(TISSUE_SEGMENTATION_CLASSES))
    print(f"voxels per class: {per_class}")
    ranges = {}
    for split in SPLITS:
        y = stored[f"{split}_centers"][:, 1]
        ranges[split] = (int(y.min()), int(y.max()))
        print(f"{split}: {len(y)} patches; coronal centre index {y.min()}..{y.max()}")
    print(f"free voxel planes between regions: {split_separation(ranges)}")


if __name__ == "__main__":
    main()

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""The embedded default dataset: tissue-type patches of the MNI ICBM152 2009 template.

Each sample is a cube of T1 intensities (2 mm voxels) labelled by the tissue at its centre voxel, from the
template's own grey- and white-matter probability maps (rules in :data:`TISSUE_RULES`). A label does not change
when a patch is rotated, so a model trained upright can be tested rotated. It is ONE population-average
template and a demo task, not a clinical benchmark.

What ships (``monai_sre/data/assets/mni152_tissue_2mm.npz``, built by ``scripts/build_embedded_dataset.py``):
the 2 mm T1 volume (uint8), the patch centres and labels of every split, and the build parameters. Patches are
cut on load, in the MedMNIST key layout (``train_images`` ``(N, P, P, P)`` uint8, ``train_labels`` ``(N, 1)``),
so the MedMNIST dataset class serves both. Patches carry a margin (30^3 for 16^3 network inputs): evaluation
rotations then resample real anatomy before the centre crop, instead of padding.

Splits are coronal slabs, posterior to anterior: train, a gap, validation, a small gap, test. No training
input (16^3, even rotated: 13.9 voxels from its centre) shares a voxel with a validation input scored upright
(as during training) or with a test input, upright or rotated; validation and test lie closer together
(neither is trained on). Splitting by hemisphere
would leak: the symmetric template is its own mirror image.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = [
    "TISSUE_ASSET",
    "TISSUE_CLASSES",
    "TISSUE_RULES",
    "build_tissue_dataset",
    "cut_patches",
    "load_tissue_arrays",
    "tissue_candidates",
]

TISSUE_ASSET = Path(__file__).parent / "assets" / "mni152_tissue_2mm.npz"
TISSUE_CLASSES = ("cortical grey matter", "deep grey matter", "white matter", "internal CSF")
TISSUE_RULES = (
    "GM > 0.6 and depth < 12 mm",
    "GM > 0.6 and depth > 25 mm",
    "WM > 0.8",
    "GM < 0.2 and WM < 0.2 and depth > 15 mm",
)
SPLITS = ("train", "val", "test")


def downsample2(volume: np.ndarray) -> np.ndarray:
    """Average 2 x 2 x 2 blocks (1 mm to 2 mm; a trailing odd slice is dropped)."""
    shape = tuple(s // 2 for s in volume.shape)
    trimmed = volume[: 2 * shape[0], : 2 * shape[1], : 2 * shape[2]].astype(np.float64)
    return trimmed.reshape(shape[0], 2, shape[1], 2, shape[2], 2).mean(axis=(1, 3, 5))


def tissue_candidates(gm: np.ndarray, wm: np.ndarray, voxel_mm: float, margin: int) -> list[np.ndarray]:
    """Candidate centre voxels ``(n, 3)`` of every class, at least ``margin`` voxels inside the volume.

    Args:
        gm: grey-matter probability in [0, 1].
        wm: white-matter probability in [0, 1].
        voxel_mm: voxel size; depth (distance to the brain surface) is measured in mm.
        margin: half the stored patch size, so every patch lies inside the volume.
    """
    from scipy import ndimage

    tissue = (gm + wm) > 0.2
    brain = ndimage.binary_fill_holes(ndimage.binary_closing(tissue, ndimage.generate_binary_structure(3, 1), 2))
    depth = ndimage.distance_transform_edt(brain) * voxel_mm
    inside = np.zeros(gm.shape, bool)
    inside[tuple(slice(margin, n - margin + 1) for n in gm.shape)] = True
    masks = (
        (gm > 0.6) & (depth < 12) & brain,
        (gm > 0.6) & (depth > 25),
        wm > 0.8,
        (gm < 0.2) & (wm < 0.2) & (depth > 15) & brain,
    )
    return [np.argwhere(mask & inside) for mask in masks]


def build_tissue_dataset(
    t1: np.ndarray,
    gm: np.ndarray,
    wm: np.ndarray,
    affine: np.ndarray,
    seed: int = 0,
    counts: Mapping[str, int] | None = None,
    boundaries: tuple[int, int, int] = (43, 65, 74),
    axis: int = 1,
    patch_size: int = 30,
) -> dict[str, np.ndarray]:
    """Build the stored dataset from the 1 mm template (T1, GM, WM as uint8 arrays, RAS) deterministically.

    Args:
        t1: T1 template (uint8).
        gm: grey-matter probability map (uint8, 255 = 1).
        wm: white-matter probability map (uint8, 255 = 1).
        affine: the 1 mm voxel-to-world affine.
        seed: sampling seed.
        counts: patches per class and split (default train 300, val 100, test 130).
        boundaries: along ``axis`` at 2 mm: train centres ``<= b0``, validation ``b1..(b2 - 7)``, test ``>= b2``.
        axis: the coronal (posterior-anterior) axis of the RAS array.
        patch_size: stored patch size (the margin centres keep from the border is half of it).

    Returns:
        the arrays to store with ``numpy.savez_compressed``.
    """
    counts = dict(counts or {"train": 300, "val": 100, "test": 130})
    volume = np.clip(np.round(downsample2(t1)), 0, 255).astype(np.uint8)
    candidates = tissue_candidates(downsample2(gm) / 255, downsample2(wm) / 255, 2.0, patch_size // 2)
    b0, b1, b2 = boundaries
    ranges = {"train": (0, b0), "val": (b1, b2 - 7), "test": (b2, volume.shape[axis])}
    rng = np.random.RandomState(seed)
    out: dict[str, np.ndarray] = {"volume": volume, "affine": affine @ np.diag([2.0, 2.0, 2.0, 1.0])}
    for split in SPLITS:
        low, high = ranges[split]
        centres, labels = [], []
        for label, cands in enumerate(candidates):
            pool = cands[(cands[:, axis] >= low) & (cands[:, axis] <= high)]
            if len(pool) < counts[split]:
                raise ValueError(
                    f"split '{split}' has {len(pool)} candidate centres of class '{TISSUE_CLASSES[label]}', "
                    f"fewer than the {counts[split]} requested; move the boundaries {boundaries} or ask for fewer."
                )
            chosen = pool[rng.choice(len(pool), counts[split], replace=False)]
            centres.append(chosen)
            labels.append(np.full(len(chosen), label))
        order = rng.permutation(sum(len(c) for c in centres))
        out[f"{split}_centers"] = np.concatenate(centres)[order].astype(np.int16)
        out[f"{split}_labels"] = np.concatenate(labels)[order].astype(np.uint8)[:, None]
    out["info"] = np.array(
        json.dumps(
            {
                "classes": TISSUE_CLASSES,
                "rules": TISSUE_RULES,
                "voxel_mm": 2.0,
                "patch_size": patch_size,
                "seed": seed,
                "split_axis": axis,
                "split_ranges": ranges,
                "counts_per_class": counts,
            }
        )
    )
    return out


def cut_patches(volume: np.ndarray, centres: np.ndarray, patch_size: int) -> np.ndarray:
    """Cubes of side ``patch_size`` around ``centres`` ``(n, 3)``; even sizes put the centre at ``size // 2``."""
    half = patch_size // 2
    patches = np.empty((len(centres), patch_size, patch_size, patch_size), dtype=volume.dtype)
    for i, (x, y, z) in enumerate(np.asarray(centres, dtype=int)):
        lo = (x - half, y - half, z - half)
        if min(lo) < 0 or any(c - half + patch_size > n for c, n in zip((x, y, z), volume.shape)):
            raise ValueError(f"a {patch_size}^3 patch around centre {(x, y, z)} leaves the volume {volume.shape}.")
        patches[i] = volume[lo[0] : lo[0] + patch_size, lo[1] : lo[1] + patch_size, lo[2] : lo[2] + patch_size]
    return patches


def load_tissue_arrays(patch_size: int = 30, path: str | Path | None = None) -> dict[str, np.ndarray]:
    """The embedded dataset in the MedMNIST key layout (``{split}_images`` uint8, ``{split}_labels`` ``(N, 1)``).

    Args:
        patch_size: side of the cut cubes (at most 30, the margin the centres keep).
        path: another file written by ``scripts/build_embedded_dataset.py``; defaults to the shipped one.

    Raises:
        FileNotFoundError: the file is missing (the message says how to rebuild it).
        ValueError: ``patch_size`` exceeds the stored margin.
    """
    path = Path(path) if path is not None else TISSUE_ASSET
    own_data = "for your own volumes and a datalist, use the sre_classification bundle (--datalist PATH)"
    if not path.is_file():
        raise FileNotFoundError(
            f"embedded dataset not found at '{path}'; rebuild it with `pip install --no-deps nilearn scipy && "
            f"python scripts/build_embedded_dataset.py` ({own_data})."
        )
    try:
        opened = np.load(path, allow_pickle=False)
        if not isinstance(opened, np.lib.npyio.NpzFile) or "volume" not in opened.files:
            raise ValueError("not an npz archive holding 'volume'")
    except (ValueError, OSError, zipfile.BadZipFile) as error:  # numpy reads any other file as a pickle
        raise ValueError(
            f"'{path}' is not the embedded tissue dataset (an .npz archive written by "
            f"scripts/build_embedded_dataset.py); {own_data}."
        ) from error
    with opened as stored:
        info = json.loads(str(stored["info"]))
        if not 1 <= patch_size <= info["patch_size"]:
            raise ValueError(
                f"patch_size must be between 1 and {info['patch_size']} (the stored margin), got {patch_size}."
            )
        arrays = {"info": info, "affine": stored["affine"]}
        for split in SPLITS:
            arrays[f"{split}_images"] = cut_patches(stored["volume"], stored[f"{split}_centers"], patch_size)
            arrays[f"{split}_labels"] = stored[f"{split}_labels"].astype(np.int64)
            arrays[f"{split}_centers"] = stored[f"{split}_centers"].astype(np.int64)
    return arrays

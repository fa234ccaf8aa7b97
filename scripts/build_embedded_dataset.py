# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Rebuild the embedded tissue dataset from the MNI ICBM152 2009 template that the nilearn wheel ships.

Needs nilearn's files only (not its dependencies) and scipy::

    pip install --no-deps nilearn && pip install scipy
    python scripts/build_embedded_dataset.py            # writes monai_sre/data/assets/mni152_tissue_2mm.npz

The result is deterministic for a given seed. The recipe is here (:func:`build_tissue_dataset`; the labelling
rules in :func:`tissue_candidates`, which scripts/build_tissue_segmentation_dataset.py applies per voxel); the
package only serves the file (monai_sre/data/tissue.py, and the data README says what it holds).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from monai_sre.data.tissue import SPLITS, TISSUE_ASSET, TISSUE_CLASSES, TISSUE_RULES

TEMPLATE = "mni_icbm152_{}_tal_nlin_sym_09a_converted.nii.gz"


def downsample2(volume: np.ndarray) -> np.ndarray:
    """Average 2 x 2 x 2 blocks (1 mm to 2 mm; a trailing odd slice is dropped)."""
    shape = tuple(s // 2 for s in volume.shape)
    trimmed = volume[: 2 * shape[0], : 2 * shape[1], : 2 * shape[2]].astype(np.float64)
    return trimmed.reshape(shape[0], 2, shape[1], 2, shape[2], 2).mean(axis=(1, 3, 5))


def t1_volume_2mm(t1: np.ndarray) -> np.ndarray:
    """The stored 2 mm T1 volume: 2 x 2 x 2 block means of the 1 mm template, rounded to uint8."""
    return np.clip(np.round(downsample2(t1)), 0, 255).astype(np.uint8)


def affine_2mm(affine: np.ndarray) -> np.ndarray:
    """The voxel-to-world affine of the 2 mm grid that :func:`downsample2` makes from a 1 mm one."""
    return affine @ np.diag([2.0, 2.0, 2.0, 1.0])


def brain_mask(gm: np.ndarray, wm: np.ndarray) -> np.ndarray:
    """The brain mask of the embedded datasets: GM + WM > 0.2, closed twice (6-connected), holes filled.

    Args:
        gm: grey-matter probability in [0, 1].
        wm: white-matter probability in [0, 1].
    """
    from scipy import ndimage

    tissue = (gm + wm) > 0.2
    return ndimage.binary_fill_holes(ndimage.binary_closing(tissue, ndimage.generate_binary_structure(3, 1), 2))


def tissue_candidates(gm: np.ndarray, wm: np.ndarray, voxel_mm: float, margin: int) -> list[np.ndarray]:
    """Candidate centre voxels ``(n, 3)`` of every class, at least ``margin`` voxels inside the volume.

    Args:
        gm: grey-matter probability in [0, 1].
        wm: white-matter probability in [0, 1].
        voxel_mm: voxel size; depth (distance to the brain surface) is measured in mm.
        margin: half the stored patch size, so every patch lies inside the volume.
    """
    from scipy import ndimage

    brain = brain_mask(gm, wm)
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
    volume = t1_volume_2mm(t1)
    candidates = tissue_candidates(downsample2(gm) / 255, downsample2(wm) / 255, 2.0, patch_size // 2)
    b0, b1, b2 = boundaries
    ranges = {"train": (0, b0), "val": (b1, b2 - 7), "test": (b2, volume.shape[axis])}
    rng = np.random.RandomState(seed)
    out: dict[str, np.ndarray] = {"volume": volume, "affine": affine_2mm(affine)}
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


def nilearn_data_dir() -> Path:
    spec = importlib.util.find_spec("nilearn")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("nilearn is not installed: `pip install --no-deps nilearn` (only its data files are read).")
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"


def load_template() -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The 1 mm MNI ICBM152 2009 T1, GM and WM arrays (RAS) from nilearn's files, and their affine."""
    import nibabel as nib  # only to build: the package reads the shipped npz files

    folder = nilearn_data_dir()
    images = {name: nib.load(folder / TEMPLATE.format(name)) for name in ("t1", "gm", "wm")}
    return {name: np.asarray(image.dataobj) for name, image in images.items()}, images["t1"].affine


def build_from_command_line(
    build: Callable[..., dict[str, np.ndarray]], description: str, output: Path
) -> tuple[Path, dict[str, np.ndarray]]:
    """Read ``--output`` (default ``output``) and ``--seed``, build the arrays from the template with ``build``
    (``build(t1, gm, wm, affine, seed=...)``) and make the output's folder; returns the output file and the arrays."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--output", type=Path, default=output)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    arrays, affine = load_template()
    stored = build(arrays["t1"], arrays["gm"], arrays["wm"], affine, seed=args.seed)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    return args.output, stored


def main() -> None:
    output, stored = build_from_command_line(build_tissue_dataset, __doc__.split("\n")[0], TISSUE_ASSET)
    np.savez_compressed(output, **stored)
    print(f"wrote {output} ({output.stat().st_size / 2**20:.2f} MiB), 2 mm volume {stored['volume'].shape}")
    for split in SPLITS:
        labels = stored[f"{split}_labels"].reshape(-1)
        per_class = ", ".join(f"{TISSUE_CLASSES[c]} {int((labels == c).sum())}" for c in range(len(TISSUE_CLASSES)))
        centres = stored[f"{split}_centers"][:, 1]
        print(f"{split}: {len(labels)} patches ({per_class}); coronal index {centres.min()}..{centres.max()}")


if __name__ == "__main__":
    main()

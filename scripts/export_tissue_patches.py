# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Write patches of the embedded tissue dataset as NIfTI files (inputs for the bundle's inference.json).

Each file holds one 30^3 uint8 patch with its true 2 mm affine (placed where it sits in the MNI template);
``labels.csv`` beside them gives the tissue class of each file.

Usage::

    python scripts/export_tissue_patches.py --split test --count 8 --output bundles/sre_resnet3d_tissue/runs/samples
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import nibabel as nib

from monai_sre.data import TISSUE_CLASSES, load_tissue_arrays


def export_patches(split: str, count: int, output: Path, patch_size: int = 30) -> list[Path]:
    arrays = load_tissue_arrays(patch_size)
    output.mkdir(parents=True, exist_ok=True)
    paths = []
    with (output / "labels.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "label", "class"])
        for index in range(min(count, len(arrays[f"{split}_images"]))):
            corner = arrays[f"{split}_centers"][index] - patch_size // 2
            affine = arrays["affine"].copy()
            affine[:3, 3] = affine[:3, :3] @ corner + affine[:3, 3]
            path = output / f"{split}_{index:04d}.nii.gz"
            nib.save(nib.Nifti1Image(arrays[f"{split}_images"][index], affine), path)
            label = int(arrays[f"{split}_labels"][index, 0])
            writer.writerow([path.name, label, TISSUE_CLASSES[label]])
            paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    paths = export_patches(args.split, args.count, args.output)
    print(f"wrote {len(paths)} patches and labels.csv to {args.output}")


if __name__ == "__main__":
    main()

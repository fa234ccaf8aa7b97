# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Rebuild the embedded tissue segmentation dataset from the MNI ICBM152 2009 template that nilearn ships.

Needs nilearn's files only (not its dependencies) and scipy; writes
monai_sre/data/assets/mni152_tissue_segmentation_2mm.npz::

    pip install --no-deps nilearn && pip install scipy
    python scripts/build_tissue_segmentation_dataset.py

The output is byte-identical on every rerun (fixed zip timestamps, fixed member order, deflate level 9); the
recipe is in monai_sre/data/tissue_segmentation.py. The T1 intensities come from the classification file
(scripts/build_embedded_dataset.py), which must be built from the same template.
"""

from __future__ import annotations

import argparse
import io
import zipfile
from collections.abc import Mapping
from pathlib import Path

import nibabel as nib
import numpy as np
from build_embedded_dataset import TEMPLATE, nilearn_data_dir

from monai_sre.data.tissue_segmentation import (
    TISSUE_SEGMENTATION_ASSET,
    TISSUE_SEGMENTATION_CLASSES,
    build_tissue_segmentation_dataset,
    split_separation,
)


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
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, default=TISSUE_SEGMENTATION_ASSET)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    folder = nilearn_data_dir()
    images = {name: nib.load(folder / TEMPLATE.format(name)) for name in ("t1", "gm", "wm")}
    arrays = {name: np.asarray(image.dataobj) for name, image in images.items()}
    stored = build_tissue_segmentation_dataset(
        arrays["t1"], arrays["gm"], arrays["wm"], images["t1"].affine, seed=args.seed
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    save_npz_reproducibly(args.output, stored)
    labels = stored["labels"]
    print(f"wrote {args.output} ({args.output.stat().st_size} bytes), 2 mm label volume {labels.shape}")
    per_class = ", ".join(f"{name} {int((labels == c).sum())}" for c, name in enumerate(TISSUE_SEGMENTATION_CLASSES))
    print(f"voxels per class: {per_class}")
    ranges = {}
    for split in ("train", "val", "test"):
        y = stored[f"{split}_centers"][:, 1]
        ranges[split] = (int(y.min()), int(y.max()))
        print(f"{split}: {len(y)} patches; coronal centre index {y.min()}..{y.max()}")
    print(f"free voxel planes between regions: {split_separation(ranges)}")


if __name__ == "__main__":
    main()

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Rebuild the embedded tissue dataset from the MNI ICBM152 2009 template that the nilearn wheel ships.

Needs nilearn's files only (not its dependencies) and scipy::

    pip install --no-deps nilearn && pip install scipy
    python scripts/build_embedded_dataset.py            # writes monai_sre/data/assets/mni152_tissue_2mm.npz

The result is deterministic for a given seed; the recipe is in monai_sre/data/tissue.py and the data README.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import nibabel as nib
import numpy as np

from monai_sre.data.tissue import TISSUE_ASSET, TISSUE_CLASSES, build_tissue_dataset

TEMPLATE = "mni_icbm152_{}_tal_nlin_sym_09a_converted.nii.gz"


def nilearn_data_dir() -> Path:
    spec = importlib.util.find_spec("nilearn")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("nilearn is not installed: `pip install --no-deps nilearn` (only its data files are read).")
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, default=TISSUE_ASSET)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    folder = nilearn_data_dir()
    images = {name: nib.load(folder / TEMPLATE.format(name)) for name in ("t1", "gm", "wm")}
    arrays = {name: np.asarray(image.dataobj) for name, image in images.items()}
    stored = build_tissue_dataset(arrays["t1"], arrays["gm"], arrays["wm"], images["t1"].affine, seed=args.seed)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.output, **stored)
    print(f"wrote {args.output} ({args.output.stat().st_size / 2**20:.2f} MiB), 2 mm volume {stored['volume'].shape}")
    for split in ("train", "val", "test"):
        labels = stored[f"{split}_labels"].reshape(-1)
        per_class = ", ".join(f"{TISSUE_CLASSES[c]} {int((labels == c).sum())}" for c in range(len(TISSUE_CLASSES)))
        centres = stored[f"{split}_centers"][:, 1]
        print(f"{split}: {len(labels)} patches ({per_class}); coronal index {centres.min()}..{centres.max()}")


if __name__ == "__main__":
    main()

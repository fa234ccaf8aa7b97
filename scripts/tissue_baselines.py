# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Simple baselines on the embedded tissue dataset (fit on train, scored on validation and test).

All use the 16^3 centre crop a network sees. Nearest-centroid classifiers on standardised features:

- centre voxel: the intensity of the centre voxel;
- patch mean: the mean intensity of the crop;
- radial profile: the mean intensity in each one-voxel shell around the centre (rotation invariant).

Usage::

    python scripts/tissue_baselines.py
"""

from __future__ import annotations

import numpy as np

from monai_sre.data import load_tissue_arrays


def centre_crop(images: np.ndarray, size: int = 16) -> np.ndarray:
    start = (images.shape[1] - size) // 2
    return images[:, start : start + size, start : start + size, start : start + size].astype(np.float64)


def radial_profile(crops: np.ndarray) -> np.ndarray:
    size = crops.shape[1]
    axis = np.arange(size) - (size - 1) / 2
    radius = np.sqrt(sum(g**2 for g in np.meshgrid(axis, axis, axis, indexing="ij")))
    shells = np.floor(radius).astype(int)
    flat = crops.reshape(len(crops), -1)
    return np.stack([flat[:, shells.reshape(-1) == r].mean(1) for r in range(size // 2)], axis=1)


FEATURES = {
    "centre voxel": lambda crops: crops[:, 8, 8, 8][:, None],
    "patch mean": lambda crops: crops.mean(axis=(1, 2, 3))[:, None],
    "radial profile": radial_profile,
}


def nearest_centroid_accuracy(train_x, train_y, test_x, test_y) -> float:
    mean, std = train_x.mean(0), train_x.std(0) + 1e-9
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    centroids = np.stack([train_x[train_y == c].mean(0) for c in np.unique(train_y)])
    predictions = np.argmin(((test_x[:, None, :] - centroids[None]) ** 2).sum(-1), axis=1)
    return float((predictions == test_y).mean())


def main() -> None:
    arrays = load_tissue_arrays()
    crops = {split: centre_crop(arrays[f"{split}_images"]) for split in ("train", "val", "test")}
    labels = {split: arrays[f"{split}_labels"].reshape(-1) for split in ("train", "val", "test")}
    print("| baseline | val accuracy | test accuracy |\n|---|---|---|")
    for name, feature in FEATURES.items():
        train_x = feature(crops["train"])
        val = nearest_centroid_accuracy(train_x, labels["train"], feature(crops["val"]), labels["val"])
        test = nearest_centroid_accuracy(train_x, labels["train"], feature(crops["test"]), labels["test"])
        print(f"| {name} | {val:.3f} | {test:.3f} |")
    print(f"| chance | {1 / 4:.3f} | {1 / 4:.3f} |")


if __name__ == "__main__":
    main()

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Intensity-threshold baselines on the embedded tissue segmentation dataset (fit on train, scored on test).

Every baseline sees only a voxel's T1 value and is scored on the label regions (the upright 16^3 centre crops)
of the chosen split, with Dice per class pooled over all its crops (mean foreground Dice: classes 1-4):

- interval per class (one vs rest): for each class the intensity interval [low, high] with the best train Dice,
  scored on its own (the masks of different classes may overlap, so this is not one label map; it bounds what
  a single pair of thresholds per class achieves);
- intensity lookup, majority: one label map; each grey value gets the class most frequent among train voxels
  of that value (thresholds where the majority changes: the best intensity-only rule for voxel accuracy);
- intensity lookup, class-balanced: as above with every class weighted by one over its train voxel count.

Usage::

    python scripts/tissue_segmentation_baselines.py [--split test|val]
"""

from __future__ import annotations

import argparse

import numpy as np

from monai_sre.data import TISSUE_SEGMENTATION_CLASSES, load_tissue_segmentation_arrays

N_CLASSES = len(TISSUE_SEGMENTATION_CLASSES)


def label_regions(arrays: dict, split: str) -> tuple[np.ndarray, np.ndarray]:
    """T1 values and labels of the split's scored centre crops, flattened."""
    size, patch = arrays["info"]["label_size"], arrays[f"{split}_images"].shape[1]
    crop = (slice(None),) + (slice(patch // 2 - size // 2, patch // 2 - size // 2 + size),) * 3
    return arrays[f"{split}_images"][crop].reshape(-1), arrays[f"{split}_labels"][crop].reshape(-1)


def dice(prediction: np.ndarray, truth: np.ndarray) -> float:
    total = prediction.sum() + truth.sum()
    return float(2 * (prediction & truth).sum() / total) if total else float("nan")


def fit_interval(values: np.ndarray, is_class: np.ndarray) -> tuple[int, int]:
    """The interval [low, high] of grey values whose mask has the best Dice with ``is_class``."""
    in_class = np.concatenate([[0], np.cumsum(np.bincount(values[is_class], minlength=256))])
    everything = np.concatenate([[0], np.cumsum(np.bincount(values, minlength=256))])
    low, high = np.triu_indices(256)
    scores = 2 * (in_class[high + 1] - in_class[low]) / (everything[high + 1] - everything[low] + is_class.sum())
    best = int(np.argmax(scores))
    return int(low[best]), int(high[best])


def fit_lookup(values: np.ndarray, labels: np.ndarray, balanced: bool) -> np.ndarray:
    """A class per grey value (256 entries): the most frequent train class (per class share if ``balanced``)."""
    counts = np.stack([np.bincount(values[labels == c], minlength=256) for c in range(N_CLASSES)]).astype(float)
    if balanced:
        counts /= np.maximum(counts.sum(axis=1, keepdims=True), 1)
    return np.argmax(counts, axis=0)


def baselines(arrays: dict, split: str = "test") -> dict[str, list[float]]:
    """Dice per class (0..4) of every baseline on ``split``, fitted on train."""
    train_x, train_y = label_regions(arrays, "train")
    x, y = label_regions(arrays, split)
    results = {"interval per class (one vs rest)": []}
    for c in range(N_CLASSES):
        low, high = fit_interval(train_x, train_y == c)
        results["interval per class (one vs rest)"].append(dice((x >= low) & (x <= high), y == c))
    for name, balanced in (("intensity lookup, majority", False), ("intensity lookup, class-balanced", True)):
        prediction = fit_lookup(train_x, train_y, balanced)[x]
        results[name] = [dice(prediction == c, y == c) for c in range(N_CLASSES)]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=("test", "val"), default="test")
    args = parser.parse_args()
    arrays = load_tissue_segmentation_arrays()
    names = " | ".join(TISSUE_SEGMENTATION_CLASSES)
    print(f"Dice on the {args.split} split (fit on train; pooled over the 16^3 label regions)\n")
    print(f"| baseline | {names} | mean foreground |\n|---|" + "---|" * (N_CLASSES + 1))
    for name, scores in baselines(arrays, args.split).items():
        cells = " | ".join(f"{s:.3f}" for s in scores)
        print(f"| {name} | {cells} | {np.mean(scores[1:]):.3f} |")


if __name__ == "__main__":
    main()

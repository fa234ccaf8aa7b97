# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""MONAI datasets over arrays in the MedMNIST key layout: MedMNIST 3D files and the embedded tissue dataset."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from monai.data import Dataset
from monai.utils import look_up_option

from monai_sre.arguments import check_positive_int
from monai_sre.data.medmnist import load_medmnist_npz, medmnist3d_info
from monai_sre.data.tissue import TISSUE_ASSET, TISSUE_CLASSES, load_tissue_arrays

__all__ = ["MedMNIST3DDataset", "MedMNISTLayoutDataset", "TissuePatchDataset"]


class MedMNISTLayoutDataset(Dataset):
    """Items ``{"image": float32 (1, D, H, W) in 0..255, "label": int}`` from ``{split}_images``/``{split}_labels``.

    Args:
        arrays: a mapping in the MedMNIST key layout.
        split: ``"train"``, ``"val"`` or ``"test"``.
        transform: MONAI (dictionary) transforms applied to every item.
        class_names: names of the classes, kept as ``self.class_names``.
        num_samples: keep only the first ``num_samples`` items (quick runs and tests); ``None`` keeps all.
    """

    def __init__(
        self,
        arrays: Mapping[str, np.ndarray],
        split: str,
        transform: Callable | None = None,
        class_names: Sequence[str] = (),
        num_samples: int | None = None,
    ) -> None:
        split = look_up_option(split, ("train", "val", "test"))
        images, labels = arrays[f"{split}_images"], np.asarray(arrays[f"{split}_labels"]).reshape(-1)
        if len(images) != len(labels):
            raise ValueError(f"split '{split}' has {len(images)} images but {len(labels)} labels.")
        if check_positive_int("num_samples", num_samples, allow_none=True) is not None:
            images, labels = images[:num_samples], labels[:num_samples]
        items = [{"image": images[i][None].astype(np.float32), "label": int(labels[i])} for i in range(len(images))]
        super().__init__(items, transform)
        self.split = split
        self.class_names = tuple(class_names)
        self.labels = labels.astype(np.int64)


class MedMNIST3DDataset(MedMNISTLayoutDataset):
    """One split of a MedMNIST 3D dataset from a local ``<flag>.npz`` / ``<flag>_64.npz``.

    Args:
        dataset_dir: folder holding the downloaded npz (see :func:`~monai_sre.data.medmnist.load_medmnist_npz`).
        flag: ``"organmnist3d"``, ``"nodulemnist3d"``, ``"adrenalmnist3d"``, ``"fracturemnist3d"``,
            ``"vesselmnist3d"`` or ``"synapsemnist3d"``.
        split: ``"train"``, ``"val"`` or ``"test"``.
        size: 28 or 64.
        transform: MONAI transforms for every item.
        num_samples: keep only the first ``num_samples`` items.
    """

    def __init__(
        self,
        dataset_dir: str | Path,
        flag: str,
        split: str,
        size: int = 28,
        transform: Callable | None = None,
        num_samples: int | None = None,
    ) -> None:
        info = medmnist3d_info(flag)
        arrays = load_medmnist_npz(dataset_dir, flag, size)
        super().__init__(arrays, split, transform, info["labels"], num_samples)
        self.flag = flag
        self.task = info["task"]


class TissuePatchDataset(MedMNISTLayoutDataset):
    """One split of the embedded MNI152 tissue dataset (see :mod:`monai_sre.data.tissue`).

    Args:
        split: ``"train"``, ``"val"`` or ``"test"``.
        patch_size: side of the stored cubes to cut (30 keeps the full rotation margin for 16^3 inputs).
        transform: MONAI transforms for every item.
        path: the dataset file, or a folder holding ``mni152_tissue_2mm.npz``; defaults to the shipped one.
        num_samples: keep only the first ``num_samples`` items.
    """

    def __init__(
        self,
        split: str,
        patch_size: int = 30,
        transform: Callable | None = None,
        path: str | Path | None = None,
        num_samples: int | None = None,
    ) -> None:
        if path is not None and Path(path).is_dir():
            path = Path(path) / TISSUE_ASSET.name
        super().__init__(load_tissue_arrays(patch_size, path), split, transform, TISSUE_CLASSES, num_samples)

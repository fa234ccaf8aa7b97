# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""MedMNIST 3D: facts about the six 3D datasets and validated loading of their npz files.

The arrays cannot be downloaded at run time: the user downloads ``<flag>.npz`` (28^3) or ``<flag>_64.npz``
(64^3) from Zenodo record 10519652 (CC BY 4.0) and points ``dataset_dir`` at the folder. The facts below are
kept here because the ``medmnist`` package imports torchvision, which does not import beside the CPU torch
wheel; when ``medmnist`` does import, its ``INFO`` (label names, task) is preferred.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
from monai.utils import look_up_option

__all__ = ["MEDMNIST3D_INFO", "ZENODO_RECORD", "load_medmnist_npz", "medmnist3d_info", "medmnist_path"]

ZENODO_RECORD = "https://zenodo.org/records/10519652"

MEDMNIST3D_INFO = {
    "organmnist3d": {
        "task": "multi-class",
        "labels": (
            "liver",
            "kidney-right",
            "kidney-left",
            "femur-right",
            "femur-left",
            "bladder",
            "heart",
            "lung-right",
            "lung-left",
            "spleen",
            "pancreas",
        ),
        "n_samples": {"train": 971, "val": 161, "test": 610},
    },
    "nodulemnist3d": {
        "task": "binary-class",
        "labels": ("benign", "malignant"),
        "n_samples": {"train": 1158, "val": 165, "test": 310},
    },
    "adrenalmnist3d": {
        "task": "binary-class",
        "labels": ("normal", "hyperplasia"),
        "n_samples": {"train": 1188, "val": 98, "test": 298},
    },
    "fracturemnist3d": {
        "task": "multi-class",
        "labels": ("buckle rib fracture", "nondisplaced rib fracture", "displaced rib fracture"),
        "n_samples": {"train": 1027, "val": 103, "test": 240},
    },
    "vesselmnist3d": {
        "task": "binary-class",
        "labels": ("vessel", "aneurysm"),
        "n_samples": {"train": 1335, "val": 191, "test": 382},
    },
    "synapsemnist3d": {
        "task": "binary-class",
        "labels": ("inhibitory synapse", "excitatory synapse"),
        "n_samples": {"train": 1230, "val": 177, "test": 352},
    },
}
SPLITS = ("train", "val", "test")


def medmnist3d_info(flag: str) -> dict:
    """Task, label names and split sizes of a MedMNIST 3D flag (from ``medmnist.INFO`` when it imports)."""
    flag = look_up_option(flag, tuple(MEDMNIST3D_INFO))
    info = dict(MEDMNIST3D_INFO[flag])
    # medmnist imports torchvision, which fails beside the CPU torch wheel: then our copy of the facts stands
    with contextlib.suppress(Exception):
        from medmnist import INFO

        theirs = INFO[flag]
        info["labels"] = tuple(theirs["label"][str(i)] for i in range(len(theirs["label"])))
        info["task"] = theirs["task"]
    info["num_classes"] = len(info["labels"])
    return info


def medmnist_path(dataset_dir: str | Path, flag: str, size: int = 28) -> Path:
    """The expected file: ``<dataset_dir>/<flag>.npz`` for 28^3, ``<flag>_64.npz`` for 64^3."""
    look_up_option(flag, tuple(MEDMNIST3D_INFO))
    if size not in (28, 64):
        raise ValueError(f"MedMNIST 3D comes in size 28 or 64, got {size}.")
    return Path(dataset_dir) / (f"{flag}.npz" if size == 28 else f"{flag}_{size}.npz")


def load_medmnist_npz(dataset_dir: str | Path, flag: str, size: int = 28) -> dict[str, np.ndarray]:
    """Load and validate a MedMNIST 3D npz: keys, dtypes, shapes and label range.

    Returns:
        ``{split}_images`` uint8 ``(N, size, size, size)`` and ``{split}_labels`` int64 ``(N, 1)`` for every split.

    Raises:
        FileNotFoundError: the file is missing; the message names the expected path and where to get it.
        ValueError: a key, dtype, shape or label is not what MedMNIST writes; the message names it.
    """
    path = medmnist_path(dataset_dir, flag, size)
    if not path.is_file():
        raise FileNotFoundError(
            f"MedMNIST file not found: '{path}'. Download '{path.name}' from {ZENODO_RECORD} (CC BY 4.0) into "
            f"'{Path(dataset_dir)}'; nothing is downloaded at run time."
        )
    num_classes = medmnist3d_info(flag)["num_classes"]
    try:
        stored = np.load(path, allow_pickle=False)
    except Exception as error:
        raise ValueError(f"'{path}' is not a readable npz file: {error}") from error
    arrays = {}
    with stored:
        for split in SPLITS:
            for kind in ("images", "labels"):
                key = f"{split}_{kind}"
                if key not in stored:
                    raise ValueError(
                        f"'{path}' has no key '{key}' (keys: {sorted(stored.files)}); expected the MedMNIST layout."
                    )
                arrays[key] = stored[key]
            images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
            if images.dtype != np.uint8 or images.shape[1:] != (size, size, size):
                raise ValueError(
                    f"'{path}' key '{split}_images' must be uint8 (N, {size}, {size}, {size}), "
                    f"got {images.dtype} {images.shape}."
                )
            if labels.shape != (len(images), 1) or not np.issubdtype(labels.dtype, np.integer):
                raise ValueError(
                    f"'{path}' key '{split}_labels' must be integer ({len(images)}, 1), "
                    f"got {labels.dtype} {labels.shape}."
                )
            if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
                raise ValueError(
                    f"'{path}' key '{split}_labels' holds labels {labels.min()}..{labels.max()}, "
                    f"outside 0..{num_classes - 1} for '{flag}'."
                )
            arrays[f"{split}_labels"] = labels.astype(np.int64)
    return arrays

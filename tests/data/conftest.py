from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from monai_sre.data import medmnist_path


@pytest.fixture
def truncate():
    """Copy a file to ``target`` keeping only the first ``fraction`` of its bytes (``.gz`` targets: of the
    compressed stream); returns ``target``."""

    def write(source: Path, target: Path, fraction: float = 0.5) -> Path:
        data = Path(source).read_bytes()
        if target.name.endswith(".gz") and not str(source).endswith(".gz"):
            data = gzip.compress(data)
        target.write_bytes(data[: int(len(data) * fraction)])
        return target

    return write


@pytest.fixture
def write_medmnist(tmp_path):
    """Write a small npz in the MedMNIST layout into ``tmp_path``; returns ``(path, arrays)``."""

    def write(flag="nodulemnist3d", size=28, counts=(6, 3, 4), classes=2, **overrides):
        rng = np.random.default_rng(0)
        arrays = {}
        for split, n in zip(("train", "val", "test"), counts):
            arrays[f"{split}_images"] = rng.integers(0, 256, (n, size, size, size), dtype=np.uint8)
            arrays[f"{split}_labels"] = rng.integers(0, classes, (n, 1)).astype(np.int64)
        arrays.update(overrides)
        path = medmnist_path(tmp_path, flag, size)
        np.savez_compressed(path, **arrays)
        return path, arrays

    return write

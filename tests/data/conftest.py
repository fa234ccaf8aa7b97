from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from monai_sre.data import medmnist_path


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    return Path(list(spec.submodule_search_locations)[0]) if spec and spec.submodule_search_locations else None


@pytest.fixture(scope="session")
def anatomical_nii() -> Path:
    """A real 2 mm T1 volume (33 x 41 x 25) that nibabel ships."""
    return _package_dir("nibabel") / "tests" / "data" / "anatomical.nii"


@pytest.fixture(scope="session")
def example4d_nii() -> Path:
    """A real 4D NIfTI (128 x 96 x 24, 2 time points) that nibabel ships."""
    return _package_dir("nibabel") / "tests" / "data" / "example4d.nii.gz"


@pytest.fixture(scope="session")
def dicom_files() -> Path:
    """pydicom's folder of real DICOM test files (``CT_small.dcm``, ``dicomdirtests/...``)."""
    folder = _package_dir("pydicom")
    if folder is None:
        pytest.skip("pydicom is not installed (it ships the DICOM test files)")
    return folder / "data" / "test_files"


@pytest.fixture(scope="session")
def ct_series(dicom_files) -> Path:
    """A real 5-slice CT DICOM series that pydicom ships."""
    return dicom_files / "dicomdirtests" / "98892001" / "CT5N"


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

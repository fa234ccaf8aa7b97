from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    return Path(list(spec.submodule_search_locations)[0]) if spec and spec.submodule_search_locations else None


@pytest.fixture(scope="session")
def anatomical_nii() -> Path:
    """A real 2 mm T1 volume (33 x 41 x 25) that nibabel ships."""
    return _package_dir("nibabel") / "tests" / "data" / "anatomical.nii"


@pytest.fixture(scope="session")
def ct_series() -> Path:
    """A real 5-slice CT DICOM series that pydicom ships."""
    folder = _package_dir("pydicom")
    if folder is None:
        pytest.skip("pydicom is not installed (it ships the DICOM test series)")
    return folder / "data" / "test_files" / "dicomdirtests" / "98892001" / "CT5N"

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

# float32 conv sums accumulate in different orders under permuted inputs; float64 is exact to round-off
TOLERANCES = {torch.float64: dict(rtol=1e-10, atol=1e-10), torch.float32: dict(rtol=1e-5, atol=1e-5)}


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same random state."""
    torch.manual_seed(0)
    yield


# real volumes that packages ship (see ../shared/docs/DATA.md), for every test folder


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


@pytest.fixture(scope="session")
def classification_example(tmp_path_factory) -> Path:
    """The generic bundle's runnable example of real volumes (NIfTI crops of the MNI template with labels), 6/2/2
    per class, by its script: ``datalist.json``, ``classes.json``, CSVs and the volumes."""
    folder = tmp_path_factory.mktemp("example")
    script = Path(__file__).resolve().parents[1] / "scripts" / "build_classification_example.py"
    subprocess.run([sys.executable, str(script), "--output", str(folder), "--per-class", "6", "2", "2"], check=True)
    return folder


@pytest.fixture(scope="session")
def segmentation_example(tmp_path_factory) -> Path:
    """A copy of the segmentation bundle's shipped tissue example of real volumes (coronal slabs of the 2 mm MNI
    template with its tissue labels; its script's output, tests/scripts/test_build_segmentation_example.py), plus
    ``small_datalist.json``: the same training slabs with 40 x 40 voxel (x, z) crops of the validation and test
    slabs, so that tests validate and evaluate whole volumes quickly."""
    import nibabel as nib

    folder = tmp_path_factory.mktemp("segmentation_example") / "tissue_example"
    shipped = Path(__file__).resolve().parents[1] / "bundles" / "sre_segmentation" / "data" / "tissue_example"
    shutil.copytree(shipped, folder)
    datalist = json.loads((folder / "datalist.json").read_text())
    for split in ("validation", "test"):
        for entry in datalist[split]:
            for key in ("image", "label"):
                crop = nib.load(folder / entry[key]).slicer[30:70, :, 27:67]
                entry[key] = entry[key].replace(".nii.gz", "_crop.nii.gz")
                nib.save(crop, folder / entry[key])
    (folder / "small_datalist.json").write_text(json.dumps(datalist, indent=2))
    return folder

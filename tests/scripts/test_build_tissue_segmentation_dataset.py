from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from monai_sre.data import load_tissue_segmentation_arrays
from monai_sre.data.tissue_segmentation import TISSUE_SEGMENTATION_ASSET

SPLITS = ("train", "val", "test")


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("build_tissue_segmentation_dataset")


@pytest.fixture(scope="module")
def stored():
    with np.load(TISSUE_SEGMENTATION_ASSET) as opened:
        return {key: opened[key] for key in opened.files}


def test_the_shipped_splits_are_separated_as_the_builder_requires(script):
    centres = load_tissue_segmentation_arrays(patch_size=1)
    y = {
        split: (int(centres[f"{split}_centers"][:, 1].min()), int(centres[f"{split}_centers"][:, 1].max()))
        for split in SPLITS
    }
    gaps = script.split_separation(y)
    assert gaps["train-val labels"] >= 1 and gaps["val-test labels"] >= 1 and min(gaps.values()) >= 0, gaps
    assert script.split_separation(script.SPLIT_RANGES) == {
        "train-val labels": 6,
        "val-test labels": 2,
        "train-test labels": 26,
        "train patches-val labels": 0,
        "train-test patches": 14,
    }


def test_label_volume_on_a_synthetic_brain(script):
    pytest.importorskip("scipy")
    axis = np.arange(48) - 23.5
    radius = np.sqrt(sum(g**2 for g in np.meshgrid(axis, axis, axis, indexing="ij")))  # 2 mm voxels
    gm = np.where((radius < 3) | ((radius >= 16) & (radius < 20)), 1.0, 0.0)  # deep core, cortex
    wm = np.where((radius >= 6) & (radius < 12), 1.0, 0.0)
    gm[(radius >= 12) & (radius < 16)] = wm[(radius >= 12) & (radius < 16)] = 0.4  # partial volume
    labels = script.tissue_label_volume(gm, wm, 2.0)  # radius 3-6: no tissue, enclosed: internal CSF
    assert labels.dtype == np.uint8
    expected = {0.5: 2, 4.5: 4, 9: 3, 14: 0, 18: 1, 22: 0}  # radius -> label
    for r, label in expected.items():
        near = np.abs(radius - r) < 0.5
        assert (labels[near] == label).all(), (r, np.unique(labels[near]))


def test_centres_are_deterministic(script, stored):
    again = script.sample_segmentation_centres(stored["labels"], seed=0)
    for split in SPLITS:
        np.testing.assert_array_equal(again[split], stored[f"{split}_centers"])
    other = script.sample_segmentation_centres(stored["labels"], seed=1)
    assert not np.array_equal(other["train"], stored["train_centers"])


def test_sampler_refuses_overlapping_ranges_and_too_many_patches(script, stored):
    with pytest.raises(ValueError, match="overlap or touch"):
        script.sample_segmentation_centres(
            stored["labels"], ranges={"train": (14, 50), "val": (60, 62), "test": (80, 102)}
        )
    with pytest.raises(ValueError, match="split 'test' has .* candidate centres whose label region holds"):
        script.sample_segmentation_centres(stored["labels"], counts={"train": 12, "val": 3, "test": 10**6})


@pytest.mark.skipif(
    importlib.util.find_spec("nilearn") is None or importlib.util.find_spec("scipy") is None,
    reason="the segmentation dataset's source, the MNI template files in nilearn (and scipy), is not installed",
)
def test_segmentation_build_script_remakes_the_shipped_file_byte_for_byte(tmp_path, script):
    output = tmp_path / "rebuilt.npz"
    result = subprocess.run(
        [sys.executable, script.__file__, "--output", str(output)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "train: 48 patches" in out and "val: 12 patches" in out and "test: 12 patches" in out
    with zipfile.ZipFile(output) as rebuilt, zipfile.ZipFile(TISSUE_SEGMENTATION_ASSET) as shipped:
        members = [(m.filename, m.CRC, m.file_size) for m in shipped.infolist()]
        assert [(m.filename, m.CRC, m.file_size) for m in rebuilt.infolist()] == members  # the same arrays
    assert output.read_bytes() == TISSUE_SEGMENTATION_ASSET.read_bytes(), (
        "same arrays, different deflate bytes: the zlib build differs from the one that wrote the shipped file"
    )

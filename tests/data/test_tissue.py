from __future__ import annotations

import numpy as np
import pytest

from monai_sre.data import TISSUE_CLASSES, load_tissue_arrays, template_white_matter_peak
from monai_sre.data.tissue import TISSUE_ASSET, cut_patches
from monai_sre.transforms import white_matter_peak


@pytest.fixture(scope="module")
def arrays():
    return load_tissue_arrays()


def test_medmnist_layout_and_balanced_classes(arrays):
    for split, per_class in (("train", 300), ("val", 100), ("test", 130)):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        assert images.dtype == np.uint8 and images.shape == (4 * per_class, 30, 30, 30)
        assert labels.shape == (4 * per_class, 1)
        assert np.bincount(labels.reshape(-1)).tolist() == [per_class] * len(TISSUE_CLASSES)


def test_splits_are_coronal_slabs_whose_inputs_share_no_voxel(arrays):
    y = {split: arrays[f"{split}_centers"][:, 1] for split in ("train", "val", "test")}
    reach_rotated, reach_upright = 8 * np.sqrt(3), 8  # a 16^3 input, rotated or upright
    assert y["val"].min() - y["train"].max() > reach_rotated + reach_upright  # val is evaluated upright
    assert y["test"].min() - y["train"].max() > 2 * reach_rotated  # both may be rotated
    assert y["test"].min() > y["val"].max()


def test_patches_are_cut_around_their_centres(arrays):
    with np.load(TISSUE_ASSET) as stored:
        volume = stored["volume"]
    centre = arrays["test_centers"][7]
    assert arrays["test_images"][7][15, 15, 15] == volume[tuple(centre)]
    small = load_tissue_arrays(patch_size=16)["test_images"][7]
    np.testing.assert_array_equal(small, arrays["test_images"][7][7:23, 7:23, 7:23])
    with pytest.raises(ValueError, match=r"leaves the volume"):
        cut_patches(volume, np.array([[1, 50, 50]]), 30)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="patch_size must be between 1 and 30 .* got 31"):
        load_tissue_arrays(patch_size=31)
    with pytest.raises(FileNotFoundError, match="build_embedded_dataset.py"):
        load_tissue_arrays(path=tmp_path / "missing.npz")


def test_the_template_peak_is_computed_from_the_embedded_volume(tmp_path):
    with np.load(TISSUE_ASSET) as stored:
        volume = stored["volume"]
    assert template_white_matter_peak() == white_matter_peak(volume)
    assert 210 < template_white_matter_peak() < 230  # the template's white matter (labelled centres: median 218-227)
    assert template_white_matter_peak(TISSUE_ASSET.parent) == template_white_matter_peak()  # a folder holding it
    with pytest.raises(FileNotFoundError, match="its volume is the intensity reference"):
        template_white_matter_peak(tmp_path)

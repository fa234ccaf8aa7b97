from __future__ import annotations

import numpy as np
import pytest
from monai.transforms import CenterSpatialCropd

from monai_sre.data import (
    TISSUE_SEGMENTATION_CLASSES,
    TissueSegmentationDataset,
    load_tissue_arrays,
    load_tissue_segmentation_arrays,
)
from monai_sre.data.tissue import TISSUE_ASSET
from monai_sre.data.tissue_segmentation import TISSUE_SEGMENTATION_ASSET

SPLITS = ("train", "val", "test")
COUNTS = {"train": 48, "val": 12, "test": 12}


@pytest.fixture(scope="module")
def arrays():
    return load_tissue_segmentation_arrays()


@pytest.fixture(scope="module")
def stored():
    with np.load(TISSUE_SEGMENTATION_ASSET) as opened:
        return {key: opened[key] for key in opened.files}


def label_regions(arrays, split):
    size, half = arrays["info"]["label_size"], arrays[f"{split}_labels"].shape[1] // 2
    crop = (slice(None),) + (slice(half - size // 2, half - size // 2 + size),) * 3
    return arrays[f"{split}_labels"][crop]


def covered(centres, size, shape):
    """Union of the ``size``^3 cubes around ``centres`` (centred at ``size // 2``, as patches are cut)."""
    mask = np.zeros(shape, bool)
    for centre in centres:
        mask[tuple(slice(c - size // 2, c - size // 2 + size) for c in centre)] = True
    return mask


def test_shapes_dtypes_and_label_values(arrays):
    assert arrays["info"]["patch_size"] == 28 and arrays["info"]["label_size"] == 16
    assert tuple(arrays["info"]["classes"]) == TISSUE_SEGMENTATION_CLASSES
    for split in SPLITS:
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        assert images.shape == labels.shape == (COUNTS[split], 28, 28, 28)
        assert images.dtype == labels.dtype == np.uint8
        assert arrays[f"{split}_centers"].shape == (COUNTS[split], 3)
        assert labels.max() <= 4


def test_every_class_in_every_split_label_region(arrays):
    for split in SPLITS:
        counts = np.bincount(label_regions(arrays, split).reshape(-1), minlength=5)
        assert len(counts) == 5 and (counts >= 100).all(), (split, counts)


def test_splits_are_coronal_slabs_whose_label_regions_share_no_voxel(arrays, stored):
    shape, centres = stored["labels"].shape, {split: arrays[f"{split}_centers"] for split in SPLITS}
    labels = {split: covered(centres[split], 16, shape) for split in SPLITS}
    patches = {split: covered(centres[split], 28, shape) for split in SPLITS}  # all a rotated crop can read
    for first, second in (("train", "val"), ("val", "test"), ("train", "test")):
        assert not (labels[first] & labels[second]).any(), (first, second)
    assert not (patches["train"] & labels["val"]).any() and not (patches["train"] & labels["test"]).any()
    assert not (patches["train"] & patches["test"]).any()
    y = {split: (int(centres[split][:, 1].min()), int(centres[split][:, 1].max())) for split in SPLITS}
    assert y["train"][1] < y["val"][0] <= y["val"][1] < y["test"][0]  # posterior to anterior, as classification


def test_labels_are_the_classification_rules_per_voxel(stored):
    classification = load_tissue_arrays(patch_size=1)
    for split in SPLITS:  # a classification patch's label is its centre voxel's segmentation label minus one
        centres = classification[f"{split}_centers"]
        np.testing.assert_array_equal(stored["labels"][tuple(centres.T)], classification[f"{split}_labels"][:, 0] + 1)


def test_patches_are_cut_around_their_centres(arrays, stored):
    with np.load(TISSUE_ASSET) as classification:
        volume = classification["volume"]
    centre = tuple(arrays["test_centers"][5])
    assert arrays["test_images"][5][14, 14, 14] == volume[centre]
    assert arrays["test_labels"][5][14, 14, 14] == stored["labels"][centre]
    small = load_tissue_segmentation_arrays(patch_size=16)
    for key in ("test_images", "test_labels"):
        np.testing.assert_array_equal(small[key], arrays[key][:, 6:22, 6:22, 6:22])
    with pytest.raises(ValueError, match="patch_size must be between 1 and 28 .* got 29"):
        load_tissue_segmentation_arrays(patch_size=29)


def test_dataset_items_sections_and_transform(arrays):
    dataset = TissueSegmentationDataset("validation")
    assert len(dataset) == 12 and dataset.section == "val" and dataset.label_size == 16
    assert dataset.class_names == TISSUE_SEGMENTATION_CLASSES
    item = dataset[3]
    assert item["image"].shape == item["label"].shape == (1, 28, 28, 28)
    assert item["image"].dtype == np.float32 and item["label"].dtype == np.int64
    np.testing.assert_array_equal(item["image"][0], arrays["val_images"][3])
    np.testing.assert_array_equal(item["label"][0], arrays["val_labels"][3])
    np.testing.assert_array_equal(TissueSegmentationDataset("val")[3]["label"], item["label"])
    crop = CenterSpatialCropd(keys=["image", "label"], roi_size=16)
    cropped = TissueSegmentationDataset("train", transform=crop, path=TISSUE_SEGMENTATION_ASSET.parent, num_samples=4)
    assert len(cropped) == 4 and cropped[2]["label"].shape == (1, 16, 16, 16)
    np.testing.assert_array_equal(np.asarray(cropped[2]["label"])[0], label_regions(arrays, "train")[2])
    assert len(TissueSegmentationDataset("test", patch_size=20)[0]["image"][0]) == 20


def test_bad_section_and_files(tmp_path):
    with pytest.raises(ValueError, match="section must be 'train' .* got 'testing'"):
        TissueSegmentationDataset("testing")
    with pytest.raises(ValueError, match="num_samples"):
        TissueSegmentationDataset("test", num_samples=0)
    with pytest.raises(FileNotFoundError, match="build_tissue_segmentation_dataset.py"):
        TissueSegmentationDataset("test", path=tmp_path)  # a folder without the file
    (tmp_path / "text.npz").write_text("not an archive")
    with pytest.raises(ValueError, match="not the tissue segmentation dataset"):
        load_tissue_segmentation_arrays(path=tmp_path / "text.npz")
    with np.load(TISSUE_ASSET) as classification:
        other = {key: classification[key] for key in classification.files}
    other["volume"] = other["volume"] // 2
    np.savez(tmp_path / "other_t1.npz", **other)
    with pytest.raises(ValueError, match="not the one the labels"):
        load_tissue_segmentation_arrays(image_path=tmp_path / "other_t1.npz")


def test_building_is_the_scripts_job():
    """The package serves the shipped files; the recipes (and their names) are in the build scripts."""
    import monai_sre.data.tissue as tissue
    import monai_sre.data.tissue_segmentation as segmentation

    for module, names, script in (
        (tissue, ("build_tissue_dataset", "downsample2", "tissue_candidates"), "build_embedded_dataset.py"),
        (segmentation, ("build_tissue_segmentation_dataset", "sample_segmentation_centres", "split_separation",
                        "tissue_label_volume"), "build_tissue_segmentation_dataset.py"),
    ):  # fmt: skip
        for name in names:
            with pytest.raises(AttributeError, match=rf"{name} moved to scripts/{script}"):
                getattr(module, name)
    with pytest.raises(AttributeError, match="has no attribute 'missing'"):
        tissue.missing  # noqa: B018

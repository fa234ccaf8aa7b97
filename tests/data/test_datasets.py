from __future__ import annotations

import numpy as np
import pytest
from monai.transforms import Compose, Lambdad

from monai_sre.data import TISSUE_CLASSES, MedMNIST3DDataset, MedMNISTLayoutDataset, TissuePatchDataset
from monai_sre.data.tissue import TISSUE_ASSET


def _arrays(counts=(5, 3, 2), size=4):
    rng = np.random.default_rng(0)
    out = {}
    for split, n in zip(("train", "val", "test"), counts):
        out[f"{split}_images"] = rng.integers(0, 256, (n, size, size, size), dtype=np.uint8)
        out[f"{split}_labels"] = (np.arange(n) % 2)[:, None]
    return out


def test_layout_dataset_items_labels_and_transform():
    arrays = _arrays()
    dataset = MedMNISTLayoutDataset(arrays, "train", class_names=["a", "b"])
    assert len(dataset) == 5 and dataset.split == "train" and dataset.class_names == ("a", "b")
    item = dataset[2]
    assert item["image"].shape == (1, 4, 4, 4) and item["image"].dtype == np.float32 and item["label"] == 0
    np.testing.assert_array_equal(item["image"][0], arrays["train_images"][2])
    assert dataset.labels.dtype == np.int64 and dataset.labels.tolist() == [0, 1, 0, 1, 0]
    halved = MedMNISTLayoutDataset(arrays, "val", Compose([Lambdad("image", lambda x: x / 2)]))
    np.testing.assert_allclose(halved[1]["image"][0], arrays["val_images"][1] / 2)
    assert len(MedMNISTLayoutDataset(arrays, "test", num_samples=1)) == 1
    assert len(MedMNISTLayoutDataset(arrays, "test", num_samples=10)) == 2


@pytest.mark.parametrize(
    "split, kwargs, message",
    [
        ("training", {}, "training"),
        ("train", {"num_samples": 0}, "num_samples must be a positive int or None, got 0"),
        ("train", {"num_samples": 1.5}, "num_samples must be a positive int or None, got 1.5"),
    ],
)
def test_layout_dataset_refuses_bad_arguments(split, kwargs, message):
    with pytest.raises(ValueError, match=message):
        MedMNISTLayoutDataset(_arrays(), split, **kwargs)


def test_layout_dataset_refuses_mismatched_lengths():
    arrays = {**_arrays(), "val_labels": np.zeros((2, 1), np.int64)}
    with pytest.raises(ValueError, match="split 'val' has 3 images but 2 labels"):
        MedMNISTLayoutDataset(arrays, "val")


def test_medmnist_dataset_reads_a_file_in_the_medmnist_layout(tmp_path, write_medmnist):
    _, arrays = write_medmnist()
    dataset = MedMNIST3DDataset(tmp_path, "nodulemnist3d", "val")
    assert len(dataset) == 3 and dataset.task == "binary-class" and dataset.class_names == ("benign", "malignant")
    assert dataset.flag == "nodulemnist3d"
    item = dataset[1]
    assert item["image"].shape == (1, 28, 28, 28) and item["image"].dtype == np.float32
    np.testing.assert_array_equal(item["image"][0], arrays["val_images"][1])
    assert item["label"] == arrays["val_labels"][1, 0]
    assert len(MedMNIST3DDataset(tmp_path, "nodulemnist3d", "train", num_samples=2)) == 2
    with pytest.raises(FileNotFoundError, match="adrenalmnist3d.npz"):
        MedMNIST3DDataset(tmp_path, "adrenalmnist3d", "val")


def test_tissue_dataset_items_patch_size_and_path(tmp_path):
    dataset = TissuePatchDataset("val")
    item = dataset[3]
    assert item["image"].shape == (1, 30, 30, 30) and item["image"].dtype == np.float32
    assert item["label"] == int(dataset.labels[3]) and dataset.class_names == TISSUE_CLASSES
    small = TissuePatchDataset("val", patch_size=16, path=TISSUE_ASSET.parent, num_samples=4)
    assert len(small) == 4 and small[3]["image"].shape == (1, 16, 16, 16)
    np.testing.assert_array_equal(small[3]["image"], item["image"][:, 7:23, 7:23, 7:23])
    with pytest.raises(FileNotFoundError, match="build_embedded_dataset.py"):
        TissuePatchDataset("val", path=tmp_path)  # a folder without the file
    with pytest.raises(ValueError, match="training"):
        TissuePatchDataset("training")

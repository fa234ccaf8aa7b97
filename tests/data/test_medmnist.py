from __future__ import annotations

import numpy as np
import pytest

from monai_sre.data import MedMNIST3DDataset, load_medmnist_npz, medmnist3d_info, medmnist_path


def _write(folder, flag="nodulemnist3d", size=28, counts=(6, 3, 4), classes=2, **overrides):
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in zip(("train", "val", "test"), counts):
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, size, size, size), dtype=np.uint8)
        arrays[f"{split}_labels"] = rng.integers(0, classes, (n, 1)).astype(np.int64)
    arrays.update(overrides)
    path = medmnist_path(folder, flag, size)
    np.savez_compressed(path, **arrays)
    return path, arrays


def test_fixture_with_the_medmnist_layout_loads_into_monai_dicts(tmp_path):
    _, arrays = _write(tmp_path)
    dataset = MedMNIST3DDataset(tmp_path, "nodulemnist3d", "val")
    assert len(dataset) == 3 and dataset.task == "binary-class" and dataset.class_names == ("benign", "malignant")
    item = dataset[1]
    assert item["image"].shape == (1, 28, 28, 28) and item["image"].dtype == np.float32
    np.testing.assert_array_equal(item["image"][0], arrays["val_images"][1])
    assert item["label"] == arrays["val_labels"][1, 0]
    _write(tmp_path, "organmnist3d", size=64, classes=11)
    assert load_medmnist_npz(tmp_path, "organmnist3d", 64)["train_images"].shape == (6, 64, 64, 64)


def test_every_3d_flag_is_described():
    for flag, classes in (
        ("organmnist3d", 11),
        ("nodulemnist3d", 2),
        ("adrenalmnist3d", 2),
        ("fracturemnist3d", 3),
        ("vesselmnist3d", 2),
        ("synapsemnist3d", 2),
    ):
        info = medmnist3d_info(flag)
        assert info["num_classes"] == classes and sum(info["n_samples"].values()) > 1000
    with pytest.raises(ValueError, match="organmnist2d"):
        medmnist3d_info("organmnist2d")


def test_missing_file_names_the_path_and_where_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nodulemnist3d_64.npz.*zenodo.org/records/10519652"):
        load_medmnist_npz(tmp_path, "nodulemnist3d", 64)
    with pytest.raises(ValueError, match="size 28 or 64, got 32"):
        medmnist_path(tmp_path, "nodulemnist3d", 32)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            {"val_images": np.zeros((3, 28, 28, 28), np.float32)},
            r"'val_images' must be uint8 \(N, 28, 28, 28\), got float32",
        ),
        ({"test_labels": np.array([[0], [1], [2], [1]])}, r"'test_labels' holds labels 0..2, outside 0..1"),
        ({"train_labels": np.zeros(6, np.int64)}, r"'train_labels' must be integer \(6, 1\)"),
    ],
)
def test_malformed_files_are_refused_with_the_key_named(tmp_path, overrides, message):
    _write(tmp_path, **overrides)
    with pytest.raises(ValueError, match=message):
        load_medmnist_npz(tmp_path, "nodulemnist3d")


def test_missing_key_and_corrupt_file(tmp_path):
    path = medmnist_path(tmp_path, "vesselmnist3d")
    np.savez(path, train_images=np.zeros((1, 28, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="has no key 'train_labels'"):
        load_medmnist_npz(tmp_path, "vesselmnist3d")
    path.write_bytes(b"not an npz")
    with pytest.raises(ValueError, match="is not a readable npz file"):
        load_medmnist_npz(tmp_path, "vesselmnist3d")

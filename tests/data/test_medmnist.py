from __future__ import annotations

import numpy as np
import pytest

from monai_sre.data import load_medmnist_npz, medmnist3d_info, medmnist_path


def test_fixture_with_the_medmnist_layout_loads_and_validates(tmp_path, write_medmnist):
    _, arrays = write_medmnist()
    loaded = load_medmnist_npz(tmp_path, "nodulemnist3d")
    assert sorted(loaded) == sorted(arrays) and loaded["val_labels"].dtype == np.int64
    np.testing.assert_array_equal(loaded["test_images"], arrays["test_images"])
    write_medmnist("organmnist3d", size=64, classes=11)
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
def test_malformed_files_are_refused_with_the_key_named(tmp_path, write_medmnist, overrides, message):
    write_medmnist(**overrides)
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

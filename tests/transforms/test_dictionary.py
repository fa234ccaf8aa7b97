from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import Compose, ResizeWithPadOrCropd

from monai_sre.transforms import (
    GridSymmetryD,
    GridSymmetryd,
    GridSymmetryDict,
    RandGridSymmetryD,
    RandGridSymmetryd,
    RandGridSymmetryDict,
    RandSO3RotateCropD,
    RandSO3RotateCropd,
    RandSO3RotateCropDict,
    RandSO3RotateD,
    RandSO3Rotated,
    RandSO3RotateDict,
    apply_grid_symmetry,
    grid_symmetries,
)
from tests.transforms.test_array import CROP_AFFINE, _crop_image


def _data(size=6):
    image = MetaTensor(torch.randn(2, size, size, size), affine=torch.diag(torch.tensor([1.0, 2.0, 3.0, 1.0])))
    return {"image": image, "label": MetaTensor(torch.randint(0, 3, (1, size, size, size)).float())}


def test_aliases_follow_monai():
    assert RandSO3RotateD is RandSO3RotateDict is RandSO3Rotated
    assert RandSO3RotateCropD is RandSO3RotateCropDict is RandSO3RotateCropd
    assert RandGridSymmetryD is RandGridSymmetryDict is RandGridSymmetryd
    assert GridSymmetryD is GridSymmetryDict is GridSymmetryd


def test_random_symmetry_shares_one_draw_across_keys_and_inverts():
    data = _data()
    symmetric = RandGridSymmetryd(["image", "label"]).set_random_state(1)
    out = symmetric(data)
    element = grid_symmetries(3)[symmetric.inner.index]
    assert torch.equal(out["label"].as_tensor(), apply_grid_symmetry(data["label"].as_tensor(), element))
    assert torch.equal(out["image"].as_tensor(), apply_grid_symmetry(data["image"].as_tensor(), element))
    back = symmetric.inverse(out)
    assert torch.equal(back["image"].as_tensor(), data["image"].as_tensor())
    assert torch.equal(back["label"].as_tensor(), data["label"].as_tensor())


def test_fixed_symmetry_applies_to_every_key_and_inverts():
    data = _data()
    fixed = GridSymmetryd(["image", "label"], index=7)
    out = fixed(data)
    for key in ("image", "label"):
        assert torch.equal(out[key].as_tensor(), apply_grid_symmetry(data[key].as_tensor(), grid_symmetries(3)[7]))
    assert torch.equal(fixed.inverse(out)["label"].as_tensor(), data["label"].as_tensor())


def test_rotation_per_key_modes_and_inverse():
    data = _data()
    rotate = RandSO3Rotated(["image", "label"], mode=["bilinear", "nearest"]).set_random_state(2)
    out = rotate(data)
    assert set(out["label"].as_tensor().unique().tolist()) <= {0.0, 1.0, 2.0}  # nearest keeps labels
    assert [op["class"] for op in out["image"].applied_operations] == ["RandSO3Rotated"]
    back = rotate.inverse(out)
    assert back["image"].shape == data["image"].shape and not back["image"].applied_operations


def test_prob_zero_and_missing_keys():
    data = _data()
    out = RandSO3Rotated(["image"], prob=0.0)(data)
    assert torch.equal(out["image"].as_tensor(), data["image"].as_tensor())
    assert RandGridSymmetryd(["image", "other"], allow_missing_keys=True)(data)["image"].shape == (2, 6, 6, 6)
    with pytest.raises(KeyError):
        GridSymmetryd(["other"], index=1)(data)


def test_lazy_compose_fuses_rotation_and_symmetry_into_one_resample():
    image = _data()["image"]
    transforms = lambda: [RandSO3Rotated("image"), GridSymmetryd("image", 9), RandGridSymmetryd("image")]  # noqa: E731
    overrides = {"image": {"padding_mode": "zeros"}}  # per key for dictionary data
    lazy = Compose(transforms(), lazy=True, overrides=overrides).set_random_state(1)({"image": image})
    eager = Compose(transforms(), lazy=False).set_random_state(1)({"image": image})
    torch.testing.assert_close(lazy["image"].as_tensor(), eager["image"].as_tensor(), atol=1e-4, rtol=0)
    torch.testing.assert_close(lazy["image"].affine, eager["image"].affine)


def test_a_missing_key_never_hands_its_options_to_the_next():
    """With ``allow_missing_keys``, a label map rotated alone used to get the image's (first key's) mode: a 0/2 map
    came out with hundreds of interpolated values. Options are paired through ``key_iterator(d, *options)``."""
    label = torch.zeros(1, 12, 12, 12)
    label[:, 3:9, 2:10, 4:8] = 2
    rotate = RandSO3Rotated(["image", "label"], mode=["bilinear", "nearest"], allow_missing_keys=True)
    rotate.set_random_state(0)
    assert set(rotate({"label": label})["label"].unique().tolist()) == {0.0, 2.0}
    both = rotate({"image": label.clone(), "label": label})
    assert set(both["label"].unique().tolist()) == {0.0, 2.0} and both["image"].unique().numel() > 2


# RandSO3RotateCropd: one rotation and the same crop for every key ---------------------------------------------


def test_rotate_crop_d_equals_the_old_pipeline_for_every_key_and_inverts():
    image = _crop_image((30, 30, 30), channels=1)
    label = MetaTensor((torch.rand(1, 30, 30, 30) > 0.5).float(), affine=CROP_AFFINE)
    data = {"image": image, "label": label, "other": 3}
    old = Compose([RandSO3Rotated(["image", "label"], mode=["bilinear", "nearest"]),
                   ResizeWithPadOrCropd(["image", "label"], (16, 16, 16))]).set_random_state(7)  # fmt: skip
    fused = Compose([RandSO3RotateCropd(["image", "label"], 16, mode=["bilinear", "nearest"])]).set_random_state(7)
    expected, out = old(data), fused(data)
    torch.testing.assert_close(out["image"].as_tensor(), expected["image"].as_tensor(), atol=1e-4, rtol=0)
    mismatch = (out["label"].as_tensor() != expected["label"].as_tensor()).float().mean()
    assert mismatch < 1e-3  # nearest: only round-off ties may differ
    assert set(out["label"].unique().tolist()) <= {0.0, 1.0}
    for key in ("image", "label"):
        torch.testing.assert_close(out[key].affine, expected[key].affine, atol=1e-10, rtol=0)
        assert out[key].applied_operations[-1]["class"] == "RandSO3RotateCropd"
    assert out["other"] == 3
    restored = fused.inverse(out)
    for key in ("image", "label"):
        assert restored[key].shape == (1, 30, 30, 30) and restored[key].applied_operations == []
        torch.testing.assert_close(restored[key].affine, CROP_AFFINE.double(), atol=1e-5, rtol=0)


def test_rotate_crop_d_draws_as_rand_so3_rotated_and_crops_when_skipped():
    fused = RandSO3RotateCropd("image", 8, prob=0.5).set_random_state(1)
    old = RandSO3Rotated("image", prob=0.5).set_random_state(1)
    image = _crop_image((10, 10, 10), channels=1)
    skipped = 0
    for _ in range(10):
        out, _ = fused({"image": image}), old({"image": image})
        assert fused._do_transform == old._do_transform
        np.testing.assert_array_equal(fused.inner.matrix, old.inner.matrix)
        if not fused._do_transform:
            skipped += 1
            assert torch.equal(out["image"].as_tensor(), image.as_tensor()[:, 1:9, 1:9, 1:9])
        assert out["image"].shape == (1, 8, 8, 8)
    assert 0 < skipped < 10


def test_rotate_crop_d_missing_key_never_hands_its_options_to_the_next():
    """As for RandSO3Rotated: a label map cropped alone keeps its own (nearest) mode under ``allow_missing_keys``."""
    label = torch.zeros(1, 14, 14, 14)
    label[:, 3:11, 2:12, 4:9] = 2
    crop = RandSO3RotateCropd(["image", "label"], roi_size=8, mode=["bilinear", "nearest"], allow_missing_keys=True)
    crop.set_random_state(0)
    assert set(crop({"label": label})["label"].unique().tolist()) == {0.0, 2.0}
    both = crop({"image": label.clone(), "label": label})
    assert set(both["label"].unique().tolist()) == {0.0, 2.0} and both["image"].unique().numel() > 2

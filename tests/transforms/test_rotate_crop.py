from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.data.meta_obj import set_track_meta
from monai.transforms import Compose, ResizeWithPadOrCrop, ResizeWithPadOrCropd

from monai_sre.transforms import (
    RandSO3Rotate,
    RandSO3RotateCrop,
    RandSO3RotateCropd,
    RandSO3Rotated,
    axis_rotation_matrix,
    rotate_by_matrix,
    rotate_crop,
    rotate_crop_index_map,
)
from tests.transforms.test_array import SAMPLES, _haar_pvalues

AFFINE = torch.tensor([[0.0, 1.5, 0.0, 3.0], [2.0, 0.0, 0.0, -1.0], [0.0, 0.0, 3.0, 7.0], [0.0, 0.0, 0.0, 1.0]])


def _image(size, channels=2):
    return MetaTensor(torch.rand(channels, *size), affine=AFFINE)


def _blob(size):
    """A smooth bump about the centre: two resamplings change it little."""
    grid = torch.stack(torch.meshgrid(*[torch.arange(float(n)) - (n - 1) / 2 for n in size], indexing="ij"))
    return MetaTensor(torch.exp(-(grid**2).sum(0) / 18)[None], affine=AFFINE)


# the same output and metadata as RandSO3Rotate + ResizeWithPadOrCrop ------------------------------------------

# (stored size, crop): same parity (30 -> 16, the tissue bundle), odd -> even (the crop centre is half a voxel
# past the volume centre, as ResizeWithPadOrCrop cuts it), even -> odd, no crop, and unequal axes
GEOMETRIES = [((30, 30, 30), 16), ((31, 31, 31), 16), ((30, 30, 30), 15), ((9, 9, 9), None), ((12, 11, 10), (5, 6, 7))]


@pytest.mark.parametrize("size, roi", GEOMETRIES)
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_fused_equals_rotate_then_resize_with_pad_or_crop(size, roi, padding_mode, align_corners):
    image = _image(size)
    old = RandSO3Rotate(padding_mode=padding_mode, align_corners=align_corners).set_random_state(5)
    fused = RandSO3RotateCrop(roi, padding_mode=padding_mode, align_corners=align_corners).set_random_state(5)
    expected = ResizeWithPadOrCrop(roi if roi is not None else size)(old(image))
    out = fused(image)
    np.testing.assert_array_equal(fused.matrix, old.matrix)  # the same draw from the same random state
    assert out.shape == expected.shape and out.dtype == torch.float32
    torch.testing.assert_close(out.as_tensor(), expected.as_tensor(), atol=1e-4, rtol=0)
    torch.testing.assert_close(out.affine, expected.affine, atol=1e-10, rtol=0)
    assert [op["class"] for op in out.applied_operations] == ["RandSO3RotateCrop"]


def test_index_map_is_rotation_about_the_centre_then_the_centre_crop():
    matrix = axis_rotation_matrix("z", 0.7)
    index_map = rotate_crop_index_map(matrix, (31, 30, 30), (16, 16, 16))
    start = np.array([7, 7, 7])  # n // 2 - s // 2, as CenterSpatialCrop
    centre = np.array([15.0, 14.5, 14.5])
    for j in (np.zeros(3), np.array([3.0, 9.0, 15.0])):
        np.testing.assert_allclose(index_map[:3, :3] @ j + index_map[:3, 3], matrix @ (j + start - centre) + centre)
    batch = rotate_crop_index_map(np.stack([matrix, matrix.T]), (31, 30, 30), (16, 16, 16))
    np.testing.assert_allclose(batch[0], index_map)


@pytest.mark.parametrize("size", [(9, 9, 9), (10, 10, 10)])
def test_quarter_turns_with_nearest_are_exact_rot90_then_crop(size):
    image = torch.randn(2, *size)
    expected_planes = {"x": (3, 2), "y": (1, 3), "z": (2, 1)}
    crop = ResizeWithPadOrCrop((5, 5, 5))
    for axis, dims in expected_planes.items():
        out = rotate_crop(image, axis_rotation_matrix(axis, np.pi / 2), 5, mode="nearest")
        assert torch.equal(torch.as_tensor(out), torch.as_tensor(crop(torch.rot90(image, 1, dims)))), axis


def test_two_spatial_dims():
    image = _image((21, 20))
    old = RandSO3Rotate().set_random_state(2)
    expected = ResizeWithPadOrCrop((11, 12))(old(image))
    out = RandSO3RotateCrop((11, 12)).set_random_state(2)(image)
    torch.testing.assert_close(out.as_tensor(), expected.as_tensor(), atol=1e-4, rtol=0)
    torch.testing.assert_close(out.affine, expected.affine, atol=1e-10, rtol=0)


def test_draws_are_uniform_over_rotations():
    transform = RandSO3RotateCrop(8).set_random_state(0)
    matrices = []
    for _ in range(SAMPLES):
        transform.randomize(3)
        matrices.append(transform.matrix.copy())
    pvalues = _haar_pvalues(matrices)
    assert min(pvalues.values()) > 0.01 / len(pvalues), pvalues  # Bonferroni over the four tests


# metadata, inversion, lazy execution --------------------------------------------------------------------------


def test_inverse_restores_the_size_the_affine_and_the_values_inside_the_crop():
    image = _blob((21, 21, 21))
    transform = RandSO3RotateCrop(13, mode="bilinear").set_random_state(3)
    out = transform(image)
    assert out.shape == (1, 13, 13, 13) and not torch.allclose(out.affine, image.affine)
    restored = transform.inverse(out)
    assert restored.shape == image.shape and restored.applied_operations == []
    torch.testing.assert_close(restored.affine, image.affine, atol=1e-5, rtol=0)
    grid = torch.stack(torch.meshgrid(*[torch.arange(21.0) - 10] * 3, indexing="ij"))
    inside = (grid**2).sum(0).sqrt() < 5.5  # the ball the rotated 13^3 crop covers, whatever the rotation
    difference = (restored.as_tensor()[0][inside] - image.as_tensor()[0][inside]).abs()
    assert difference.mean() < 0.02 and difference.max() < 0.06  # trilinear blur of a peak of height 1
    outside = (grid**2).sum(0).sqrt() > 6.5 * 3**0.5 + 1  # beyond the crop's corners: zero fill
    assert restored.as_tensor()[0][outside].abs().max() == 0


def test_skipped_rotation_is_an_exact_crop_and_inverts_exactly():
    image = _image((12, 11, 10))
    transform = RandSO3RotateCrop((6, 6, 6), prob=0.0)
    out = transform(image)
    expected = ResizeWithPadOrCrop((6, 6, 6))(image)
    assert torch.equal(out.as_tensor(), expected.as_tensor()) and out.dtype == torch.float32
    torch.testing.assert_close(out.affine, expected.affine, atol=1e-12, rtol=0)
    restored = transform.inverse(out)
    region = (slice(None), slice(3, 9), slice(2, 8), slice(2, 8))  # start n // 2 - s // 2 per axis
    assert torch.equal(restored.as_tensor()[region], image.as_tensor()[region])
    restored.as_tensor()[region] = 0
    assert not restored.as_tensor().any()  # zeros elsewhere
    torch.testing.assert_close(restored.affine, image.affine, atol=1e-12, rtol=0)


@pytest.mark.parametrize("roi, padding_mode", [(None, "zeros"), (12, "zeros"), (17, "reflection"), (17, "border")])
def test_lazy_execution_equals_eager(roi, padding_mode):
    image = _image((20, 20, 20), channels=1)
    eager = Compose([RandSO3RotateCrop(roi, padding_mode=padding_mode)]).set_random_state(3)
    lazy = Compose([RandSO3RotateCrop(roi, padding_mode=padding_mode)], lazy=True).set_random_state(3)
    expected, out = eager(image), lazy(image)
    assert out.shape == expected.shape and not out.pending_operations
    torch.testing.assert_close(out.as_tensor(), expected.as_tensor(), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.affine, expected.affine, atol=1e-10, rtol=0)
    with pytest.warns(UserWarning, match="lazy execution is not supported when inverting"):
        restored = lazy.inverse(out)
    assert restored.shape == image.shape


def test_plain_tensors_and_untracked_metadata():
    image = torch.rand(1, 12, 12, 12)
    out = RandSO3RotateCrop(6).set_random_state(0)(image)  # a MetaTensor while MONAI tracks metadata, as MONAI's
    expected = ResizeWithPadOrCrop(6)(RandSO3Rotate().set_random_state(0)(image))
    torch.testing.assert_close(torch.as_tensor(out), torch.as_tensor(expected), atol=1e-4, rtol=0)
    set_track_meta(False)
    try:
        out = RandSO3RotateCrop(6).set_random_state(0)(_image((12, 12, 12)))
    finally:
        set_track_meta(True)
    assert not isinstance(out, MetaTensor)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match=r"roi_size \(16, 16, 16\) does not fit the spatial size \(12, 12, 12\)"):
        RandSO3RotateCrop(16)(torch.rand(1, 12, 12, 12))
    with pytest.raises(ValueError, match=r"roi_size \(4, 4\) has 2 axes, the image has 3"):
        RandSO3RotateCrop((4, 4))(torch.rand(1, 12, 12, 12))
    with pytest.raises(ValueError, match=r"RandSO3RotateCrop needs 2 or 3 spatial dims .* got shape \(1, 8\)"):
        RandSO3RotateCrop(4)(torch.rand(1, 8))
    with pytest.raises(ValueError, match=r"rotate_crop needs 2 or 3 spatial dims .* got shape \(1, 8\)"):
        rotate_crop(torch.rand(1, 8), None, 4)
    with pytest.raises(ValueError, match=r"matrix must be 3x3 for this image, got shape \(2, 2\)"):
        rotate_crop(torch.rand(1, 8, 8, 8), np.eye(2), 4)
    with pytest.raises(ValueError, match="max_angle must be in"):
        RandSO3RotateCrop(4, max_angle=4.0)
    with pytest.raises(ValueError, match="'trilinear' is not a valid value"):
        RandSO3RotateCrop(4, mode="trilinear")


# dictionary version -----------------------------------------------------------------------------------------


def test_dictionary_version_equals_the_old_pipeline_for_every_key_and_inverts():
    image = _image((30, 30, 30), channels=1)
    label = MetaTensor((torch.rand(1, 30, 30, 30) > 0.5).float(), affine=AFFINE)
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
        torch.testing.assert_close(restored[key].affine, AFFINE.double(), atol=1e-5, rtol=0)


def test_dictionary_version_draws_as_rand_so3_rotated_and_crops_when_skipped():
    fused = RandSO3RotateCropd("image", 8, prob=0.5).set_random_state(1)
    old = RandSO3Rotated("image", prob=0.5).set_random_state(1)
    image = _image((10, 10, 10), channels=1)
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


def test_rotate_crop_with_a_given_matrix_equals_rotate_by_matrix_then_crop():
    image = _image((30, 30, 30), channels=1)
    matrix = axis_rotation_matrix("x", 0.4) @ axis_rotation_matrix("y", -1.1) @ axis_rotation_matrix("z", 2.3)
    expected = ResizeWithPadOrCrop((16, 16, 16))(rotate_by_matrix(image, matrix))
    out = rotate_crop(image, matrix, 16)
    torch.testing.assert_close(out.as_tensor(), expected.as_tensor(), atol=1e-4, rtol=0)
    torch.testing.assert_close(out.affine, expected.affine, atol=1e-10, rtol=0)


def test_a_missing_key_never_hands_its_options_to_the_next():
    """As for RandSO3Rotated: a label map cropped alone keeps its own (nearest) mode under ``allow_missing_keys``."""
    label = torch.zeros(1, 14, 14, 14)
    label[:, 3:11, 2:12, 4:9] = 2
    crop = RandSO3RotateCropd(["image", "label"], roi_size=8, mode=["bilinear", "nearest"], allow_missing_keys=True)
    crop.set_random_state(0)
    assert set(crop({"label": label})["label"].unique().tolist()) == {0.0, 2.0}
    both = crop({"image": label.clone(), "label": label})
    assert set(both["label"].unique().tolist()) == {0.0, 2.0} and both["image"].unique().numel() > 2

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.data.meta_obj import set_track_meta
from monai.transforms import Compose, RandRotate, ResizeWithPadOrCrop
from monai.transforms.utils import create_rotate
from scipy import stats

from monai_sre.transforms import (
    GridSymmetry,
    RandGridSymmetry,
    RandSO3Rotate,
    RandSO3RotateCrop,
    apply_grid_symmetry,
    axis_rotation_matrix,
    grid_symmetries,
    rotate_by_matrix,
    rotation_angle,
)

SAMPLES = 3000


def _image(size=(5, 5, 5)):
    return MetaTensor(torch.randn(2, *size), affine=torch.diag(torch.tensor([1.0, 2.0, 3.0, 1.0])))


# RandSO3Rotate and rotate_by_matrix ---------------------------------------------------------------------------


def _haar_angle_cdf(t):
    return (t - np.sin(t)) / np.pi


def _axis(matrix: np.ndarray) -> np.ndarray:
    w = np.array([matrix[2, 1] - matrix[1, 2], matrix[0, 2] - matrix[2, 0], matrix[1, 0] - matrix[0, 1]])
    return w / np.linalg.norm(w)


def _rand_so3_matrices(count: int, **kwargs) -> list[np.ndarray]:
    transform = RandSO3Rotate(**kwargs).set_random_state(0)
    out = []
    for _ in range(count):
        transform.randomize(3)
        out.append(transform.matrix.copy())
    return out


def _monai_euler_matrices(count: int) -> list[np.ndarray]:
    transform = RandRotate(range_x=np.pi, range_y=np.pi, range_z=np.pi, prob=1.0).set_random_state(0)
    out = []
    for _ in range(count):
        transform.randomize()
        out.append(np.asarray(create_rotate(3, (transform.x, transform.y, transform.z)))[:3, :3])
    return out


def _haar_pvalues(matrices: list[np.ndarray]) -> dict[str, float]:
    """Kolmogorov-Smirnov p-values against the Haar measure: the angle has density (1 - cos t) / pi; the axis
    and every matrix row are uniform on the sphere, so each of their coordinates is uniform on [-1, 1]."""
    uniform = stats.uniform(-1, 2).cdf
    return {
        "angle": stats.kstest([rotation_angle(m) for m in matrices], _haar_angle_cdf).pvalue,
        "axis z": stats.kstest([_axis(m)[2] for m in matrices], uniform).pvalue,
        "R[0, 0]": stats.kstest([m[0, 0] for m in matrices], uniform).pvalue,
        "R[0, 2]": stats.kstest([m[0, 2] for m in matrices], uniform).pvalue,
    }


def test_rand_so3_rotate_is_uniform_over_rotations():
    pvalues = _haar_pvalues(_rand_so3_matrices(SAMPLES))
    assert min(pvalues.values()) > 0.01 / len(pvalues), pvalues  # Bonferroni over the four tests


def test_monai_uniform_euler_angles_fail_the_same_test():
    pvalues = _haar_pvalues(_monai_euler_matrices(SAMPLES))
    assert pvalues["angle"] < 0.01 and min(pvalues.values()) < 1e-6, pvalues


def test_max_angle_restricts_the_haar_measure():
    limit = np.pi / 4
    angles = [rotation_angle(m) for m in _rand_so3_matrices(SAMPLES, max_angle=limit)]
    assert max(angles) <= limit + 1e-9
    cdf = lambda t: (t - np.sin(t)) / (limit - np.sin(limit))  # noqa: E731
    assert stats.kstest(angles, cdf).pvalue > 0.01
    with pytest.raises(ValueError, match=r"max_angle must be in \(0, pi\] radians or None, got 4"):
        RandSO3Rotate(max_angle=4)


@pytest.mark.parametrize("size", [5, 6])
def test_quarter_turns_with_nearest_equal_rot90_exactly(size):
    x = torch.randn(2, size, size, size)
    expected_planes = {"x": (3, 2), "y": (1, 3), "z": (2, 1)}  # (C, D, H, W) dims turned by +90 degrees
    for axis, dims in expected_planes.items():
        for turns in (1, 2, 3):
            rotated = rotate_by_matrix(x, axis_rotation_matrix(axis, turns * np.pi / 2), mode="nearest")
            assert torch.equal(torch.as_tensor(rotated), torch.rot90(x, turns, dims)), (axis, turns)


def test_rotate_by_matrix_refuses_other_shapes():
    with pytest.raises(ValueError, match=r"2x2 or 3x3 rotation, got shape \(4, 4\)"):
        rotate_by_matrix(torch.zeros(1, 4, 4, 4), np.eye(4))


def test_rand_so3_rotate_applies_its_drawn_matrix_and_inverts():
    grid = torch.stack(torch.meshgrid(*[torch.arange(9.0) - 4] * 3, indexing="ij"))
    blob = torch.exp(-(grid**2).sum(0) / 8)[None]  # smooth, so two resamplings change it little
    image = MetaTensor(blob, affine=torch.diag(torch.tensor([1.5, 1.5, 2.0, 1.0])))
    transform = RandSO3Rotate(mode="bilinear").set_random_state(3)
    rotated = transform(image)
    expected = rotate_by_matrix(image, transform.matrix, mode="bilinear")
    torch.testing.assert_close(rotated.as_tensor(), torch.as_tensor(expected))
    assert not torch.allclose(rotated.affine, image.affine)
    restored = transform.inverse(rotated)
    torch.testing.assert_close(restored.affine, image.affine, atol=1e-5, rtol=0)
    centre = (slice(None), slice(2, 7), slice(2, 7), slice(2, 7))
    difference = (restored.as_tensor()[centre] - image.as_tensor()[centre]).abs()
    assert difference.mean() < 0.05 and difference.max() < 0.15  # trilinear blur of a peak of height 1


def test_prob_zero_and_2d_and_bad_input():
    image = torch.rand(1, 8, 8)
    assert torch.equal(torch.as_tensor(RandSO3Rotate(prob=0.0)(image)), image)
    out = RandSO3Rotate(mode="nearest").set_random_state(0)(image)
    assert out.shape == (1, 8, 8)
    grown = RandSO3Rotate(keep_size=False).set_random_state(0)(torch.rand(1, 8, 8, 8))
    assert all(s >= 8 for s in grown.shape[1:])
    with pytest.raises(ValueError, match=r"needs 2 or 3 spatial dims .* got shape \(1, 8\)"):
        RandSO3Rotate()(torch.rand(1, 8))


# GridSymmetry and RandGridSymmetry ----------------------------------------------------------------------------


@pytest.mark.parametrize("index", range(48))
def test_every_element_is_exact_records_its_affine_inverts_and_runs_lazily(index):
    image = _image()
    element = grid_symmetries(3)[index]
    symmetry = GridSymmetry(index)
    assert symmetry.element(3) == element
    out = symmetry(image)
    assert torch.equal(out.as_tensor(), apply_grid_symmetry(image.as_tensor(), element))
    # the affine follows the voxels: voxel v of the output sits where its source voxel sat
    src = torch.tensor([1.0, 3.0, 4.0, 1.0], dtype=torch.float64)
    dst = [0, 0, 0]
    for out_axis, (in_axis, flip) in enumerate(zip(element.permutation, element.flips)):
        dst[out_axis] = 4 - src[in_axis] if flip else src[in_axis]
    assert out.as_tensor()[(0, *[int(d) for d in dst])] == image.as_tensor()[(0, 1, 3, 4)]
    torch.testing.assert_close(out.affine @ torch.tensor([*dst, 1.0], dtype=torch.float64), image.affine.double() @ src)
    restored = symmetry.inverse(out)  # MONAI checks that the instance that applied a transform inverts it
    assert torch.equal(restored.as_tensor(), image.as_tensor())
    torch.testing.assert_close(restored.affine, image.affine)
    assert not restored.applied_operations
    lazy = Compose([GridSymmetry(index)], lazy=True)(image)
    assert torch.equal(lazy.as_tensor(), out.as_tensor())


def test_plain_tensors_pass_through_without_metadata():
    x = torch.randn(1, 4, 4)
    out = GridSymmetry(5)(x)
    assert torch.equal(torch.as_tensor(out), apply_grid_symmetry(x, grid_symmetries(2)[5]))


def test_random_symmetry_draws_every_element_and_inverts():
    transform = RandGridSymmetry().set_random_state(0)
    image = _image((4, 4, 4))
    seen = set()
    for _ in range(400):
        out = transform(image)
        seen.add(transform.index)
        assert torch.equal(transform.inverse(out).as_tensor(), image.as_tensor())
    assert seen == set(range(48))
    assert RandGridSymmetry(prob=0.0)(image).as_tensor().equal(image.as_tensor())
    planar = RandGridSymmetry().set_random_state(0)
    assert {(planar(torch.randn(1, 3, 3)), planar.index)[1] for _ in range(100)} == set(range(8))


def test_non_cubic_shapes_and_bad_index_are_refused():
    with pytest.raises(ValueError, match=r"different sizes.*\[4, 5, 5\]"):
        GridSymmetry(2 * 8)(torch.randn(1, 4, 5, 5))  # permutation (0, 2, 1) is fine, (1, 0, 2) is not
    with pytest.raises(ValueError, match="index must be below 8 for 2 spatial dims, got 9"):
        GridSymmetry(9)(torch.randn(1, 4, 4))
    with pytest.raises(ValueError, match="index must be a non-negative int, got -1"):
        GridSymmetry(-1)


# RandSO3RotateCrop: the same output and metadata as RandSO3Rotate + ResizeWithPadOrCrop ---------------------

CROP_AFFINE = torch.tensor([[0.0, 1.5, 0.0, 3.0], [2.0, 0.0, 0.0, -1.0], [0.0, 0.0, 3.0, 7.0], [0.0, 0.0, 0.0, 1.0]])


def _crop_image(size, channels=2):
    return MetaTensor(torch.rand(channels, *size), affine=CROP_AFFINE)


def _blob(size):
    """A smooth bump about the centre: two resamplings change it little."""
    grid = torch.stack(torch.meshgrid(*[torch.arange(float(n)) - (n - 1) / 2 for n in size], indexing="ij"))
    return MetaTensor(torch.exp(-(grid**2).sum(0) / 18)[None], affine=CROP_AFFINE)


# (stored size, crop): same parity (30 -> 16, the tissue bundle), odd -> even (the crop centre is half a voxel
# past the volume centre, as ResizeWithPadOrCrop cuts it), even -> odd, no crop, and unequal axes
CROP_GEOMETRIES = [((30, 30, 30), 16), ((31, 31, 31), 16), ((30, 30, 30), 15), ((9, 9, 9), None), ((12, 11, 10), (5, 6, 7))]  # fmt: skip


@pytest.mark.parametrize("size, roi", CROP_GEOMETRIES)
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_rotate_crop_fused_equals_rotate_then_resize_with_pad_or_crop(size, roi, padding_mode, align_corners):
    image = _crop_image(size)
    old = RandSO3Rotate(padding_mode=padding_mode, align_corners=align_corners).set_random_state(5)
    fused = RandSO3RotateCrop(roi, padding_mode=padding_mode, align_corners=align_corners).set_random_state(5)
    expected = ResizeWithPadOrCrop(roi if roi is not None else size)(old(image))
    out = fused(image)
    np.testing.assert_array_equal(fused.matrix, old.matrix)  # the same draw from the same random state
    assert out.shape == expected.shape and out.dtype == torch.float32
    torch.testing.assert_close(out.as_tensor(), expected.as_tensor(), atol=1e-4, rtol=0)
    torch.testing.assert_close(out.affine, expected.affine, atol=1e-10, rtol=0)
    assert [op["class"] for op in out.applied_operations] == ["RandSO3RotateCrop"]


def test_rotate_crop_two_spatial_dims():
    image = _crop_image((21, 20))
    old = RandSO3Rotate().set_random_state(2)
    expected = ResizeWithPadOrCrop((11, 12))(old(image))
    out = RandSO3RotateCrop((11, 12)).set_random_state(2)(image)
    torch.testing.assert_close(out.as_tensor(), expected.as_tensor(), atol=1e-4, rtol=0)
    torch.testing.assert_close(out.affine, expected.affine, atol=1e-10, rtol=0)


def test_rotate_crop_draws_are_uniform_over_rotations():
    transform = RandSO3RotateCrop(8).set_random_state(0)
    matrices = []
    for _ in range(SAMPLES):
        transform.randomize(3)
        matrices.append(transform.matrix.copy())
    pvalues = _haar_pvalues(matrices)
    assert min(pvalues.values()) > 0.01 / len(pvalues), pvalues  # Bonferroni over the four tests


def test_rotate_crop_inverse_restores_the_size_the_affine_and_the_values_inside_the_crop():
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


def test_rotate_crop_skipped_rotation_is_an_exact_crop_and_inverts_exactly():
    image = _crop_image((12, 11, 10))
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
def test_rotate_crop_lazy_execution_equals_eager(roi, padding_mode):
    image = _crop_image((20, 20, 20), channels=1)
    eager = Compose([RandSO3RotateCrop(roi, padding_mode=padding_mode)]).set_random_state(3)
    lazy = Compose([RandSO3RotateCrop(roi, padding_mode=padding_mode)], lazy=True).set_random_state(3)
    expected, out = eager(image), lazy(image)
    assert out.shape == expected.shape and not out.pending_operations
    torch.testing.assert_close(out.as_tensor(), expected.as_tensor(), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.affine, expected.affine, atol=1e-10, rtol=0)
    with pytest.warns(UserWarning, match="lazy execution is not supported when inverting"):
        restored = lazy.inverse(out)
    assert restored.shape == image.shape


def test_rotate_crop_plain_tensors_and_untracked_metadata():
    image = torch.rand(1, 12, 12, 12)
    out = RandSO3RotateCrop(6).set_random_state(0)(image)  # a MetaTensor while MONAI tracks metadata, as MONAI's
    expected = ResizeWithPadOrCrop(6)(RandSO3Rotate().set_random_state(0)(image))
    torch.testing.assert_close(torch.as_tensor(out), torch.as_tensor(expected), atol=1e-4, rtol=0)
    set_track_meta(False)
    try:
        out = RandSO3RotateCrop(6).set_random_state(0)(_crop_image((12, 12, 12)))
    finally:
        set_track_meta(True)
    assert not isinstance(out, MetaTensor)


def test_rotate_crop_refuses_bad_input():
    with pytest.raises(ValueError, match=r"roi_size \(16, 16, 16\) does not fit the spatial size \(12, 12, 12\)"):
        RandSO3RotateCrop(16)(torch.rand(1, 12, 12, 12))
    with pytest.raises(ValueError, match=r"roi_size \(4, 4\) has 2 axes, the image has 3"):
        RandSO3RotateCrop((4, 4))(torch.rand(1, 12, 12, 12))
    with pytest.raises(ValueError, match=r"RandSO3RotateCrop needs 2 or 3 spatial dims .* got shape \(1, 8\)"):
        RandSO3RotateCrop(4)(torch.rand(1, 8))
    with pytest.raises(ValueError, match="max_angle must be in"):
        RandSO3RotateCrop(4, max_angle=4.0)
    with pytest.raises(ValueError, match="'trilinear' is not a valid value"):
        RandSO3RotateCrop(4, mode="trilinear")

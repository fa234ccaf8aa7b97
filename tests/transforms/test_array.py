from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import Compose, RandRotate
from monai.transforms.utils import create_rotate
from scipy import stats

from monai_sre.transforms import (
    GridSymmetry,
    RandGridSymmetry,
    RandSO3Rotate,
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

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import CenterSpatialCrop, ResizeWithPadOrCrop
from monai.transforms.utils import create_rotate
from scipy import stats

from monai_sre.transforms import (
    GridSymmetry,
    apply_grid_symmetry,
    axis_rotation_matrix,
    centre_crop,
    euler_xyz_from_matrix,
    grid_symmetries,
    planar_rotation_matrix,
    random_rotation_matrix,
    rotate_by_matrix,
    rotate_crop,
    rotation_angle,
)
from monai_sre.transforms.functional import (
    grid_symmetry,
    grid_symmetry_element,
    grid_symmetry_from_info,
    grid_symmetry_index_map,
    spatial_size,
)
from tests.transforms.test_array import _crop_image

SAMPLES = 3000


# grid symmetries on tensors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("spatial_dims, count", [(1, 2), (2, 8), (3, 48)])
def test_grid_symmetries_are_distinct_and_closed_under_composition(spatial_dims, count):
    elements = grid_symmetries(spatial_dims)
    assert len(elements) == count and elements[0].is_identity
    x = torch.arange(4**spatial_dims, dtype=torch.float32).reshape((4,) * spatial_dims)
    images = {tuple(apply_grid_symmetry(x, e).reshape(-1).tolist()) for e in elements}
    assert len(images) == count
    for a in elements[:: max(1, count // 8)]:
        for b in elements:
            assert tuple(apply_grid_symmetry(apply_grid_symmetry(x, a), b).reshape(-1).tolist()) in images
    assert sum(e.is_rotation for e in elements) == count // 2


def test_rotations_in_3d_are_the_24_rot90_compositions():
    x = torch.randn(2, 3, 4, 4, 4)
    rotations = {tuple(apply_grid_symmetry(x, e).reshape(-1).tolist()) for e in grid_symmetries(3) if e.is_rotation}
    assert tuple(torch.rot90(x, 1, (2, 3)).reshape(-1).tolist()) in rotations
    assert tuple(torch.rot90(torch.rot90(x, 1, (3, 4)), 3, (2, 4)).reshape(-1).tolist()) in rotations
    assert tuple(x.flip(2).reshape(-1).tolist()) not in rotations


def test_non_cubic_shapes_are_refused():
    element = next(e for e in grid_symmetries(3) if e.permutation == (1, 0, 2))
    with pytest.raises(ValueError, match=r"different sizes.*\(4, 5, 5\)"):
        apply_grid_symmetry(torch.zeros(1, 4, 5, 5), element)


# grid symmetries of images with metadata -----------------------------------------------------------------------


@pytest.mark.parametrize("index", [0, 5, 17, 47])
def test_functional_grid_symmetry_records_the_index_map_and_inverts(index):
    element = grid_symmetry_element(3, index)
    affine = torch.diag(torch.tensor([1.0, 2.0, 3.0, 1.0], dtype=torch.float64))
    affine[:3, 3] = torch.tensor([10.0, -4.0, 2.5], dtype=torch.float64)
    image = MetaTensor(torch.randn(2, 5, 5, 5), affine=affine)
    info = GridSymmetry(index).get_transform_info()  # what a transform passes: its class, id and tracing flag
    out = grid_symmetry(image, element, lazy=False, transform_info=info)
    assert torch.equal(out.as_tensor(), apply_grid_symmetry(image.as_tensor(), element))
    torch.testing.assert_close(out.affine, affine @ grid_symmetry_index_map(element, [5, 5, 5]))
    assert [op["class"] for op in out.applied_operations] == ["GridSymmetry"]
    assert grid_symmetry_from_info(out.applied_operations[-1]["extra_info"]) == element
    assert not image.applied_operations  # the input keeps its own metadata
    back = grid_symmetry(out, element.inverse(), lazy=False, transform_info=info)
    assert torch.equal(back.as_tensor(), image.as_tensor())
    torch.testing.assert_close(back.affine, affine)


def test_functional_grid_symmetry_lazy_defers_the_data():
    element = grid_symmetry_element(3, 8 + 3)  # permutation (0, 2, 1), two flips
    image = MetaTensor(torch.randn(1, 4, 5, 5))
    pending = grid_symmetry(image, element, lazy=True, transform_info=GridSymmetry(11).get_transform_info())
    assert torch.equal(pending.as_tensor(), image.as_tensor()) and len(pending.pending_operations) == 1
    assert spatial_size(pending) == [4, 5, 5] and spatial_size(torch.zeros(1, 4, 5, 6)) == [4, 5, 6]
    with pytest.raises(ValueError, match=r"different sizes onto each other: \[4, 5, 6\]"):
        grid_symmetry(torch.zeros(1, 4, 5, 6), element, lazy=True, transform_info={})


def test_index_map_sends_output_voxels_to_their_sources():
    element = grid_symmetries(2)[3]  # permutation (0, 1), both axes flipped
    index_map = grid_symmetry_index_map(element, [4, 4])
    x = torch.arange(16.0).reshape(1, 4, 4)
    out = apply_grid_symmetry(x, element)
    for i, j in [(0, 0), (1, 2), (3, 1)]:
        source = (index_map @ torch.tensor([i, j, 1.0], dtype=torch.float64))[:2].long()
        assert out[0, i, j] == x[0, source[0], source[1]]
    with pytest.raises(ValueError, match="index must be below 8 for 2 spatial dims, got 8"):
        grid_symmetry_element(2, 8)


# rotation matrices ------------------------------------------------------------------------------------------


def test_planar_rotation_matches_monai_and_turns_counterclockwise():
    for angle in (0.0, 0.3, np.pi / 2, -2.0):
        np.testing.assert_allclose(planar_rotation_matrix(angle), np.asarray(create_rotate(2, angle))[:2, :2])
    np.testing.assert_allclose(planar_rotation_matrix(np.pi / 2) @ [1.0, 0.0], [0.0, 1.0], atol=1e-15)
    assert rotation_angle(planar_rotation_matrix(-0.4)) == pytest.approx(0.4)


def test_two_dimensional_draws_are_uniform_planar_angles():
    rng = np.random.RandomState(0)
    angles = [np.arctan2(m[1, 0], m[0, 0]) for m in (random_rotation_matrix(rng, 2) for _ in range(SAMPLES))]
    assert stats.kstest(angles, stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue > 0.01
    limited = [rotation_angle(random_rotation_matrix(rng, 2, max_angle=0.5)) for _ in range(200)]
    assert max(limited) <= 0.5
    with pytest.raises(ValueError, match="spatial_dims must be 2 or 3, got 4"):
        random_rotation_matrix(rng, 4)


def test_euler_decomposition_matches_monai_create_rotate():
    rng = np.random.RandomState(1)
    for matrix in [random_rotation_matrix(rng) for _ in range(50)] + [axis_rotation_matrix("y", np.pi / 2)]:
        angles = euler_xyz_from_matrix(matrix)
        np.testing.assert_allclose(np.asarray(create_rotate(3, angles))[:3, :3], matrix, atol=1e-12)
    for axis in range(3):
        angles = [0.0, 0.0, 0.0]
        angles[axis] = 0.7
        np.testing.assert_allclose(
            np.asarray(create_rotate(3, angles))[:3, :3], axis_rotation_matrix(axis, 0.7), atol=1e-12
        )
    with pytest.raises(ValueError, match="axis must be one of 'x', 'y', 'z' or 0, 1, 2, got 3"):
        axis_rotation_matrix(3, 0.1)


# centre crop -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spatial, size", [((30, 30, 30), 16), ((12, 13, 12), (7, 8, 7)), ((9, 10), (9, 3))])
def test_centre_crop_cuts_what_monai_center_spatial_crop_cuts(spatial, size):
    images = torch.randn(3, 2, *spatial)
    out = centre_crop(images, size)
    expected = torch.stack([torch.as_tensor(CenterSpatialCrop(size)(image)) for image in images])
    assert torch.equal(out, expected)


def test_centre_crop_refuses_what_does_not_fit():
    with pytest.raises(
        ValueError, match=r"crop_size \(20, 20, 20\) does not fit images of spatial shape \(16, 16, 16\)"
    ):
        centre_crop(torch.zeros(1, 1, 16, 16, 16), 20)
    with pytest.raises(ValueError, match=r"crop_size \(8, 8\) does not fit images of spatial shape \(16, 16, 16\)"):
        centre_crop(torch.zeros(1, 1, 16, 16, 16), (8, 8))


# rotate_crop: a rotation fused with the centre crop that follows it ------------------------------------------


@pytest.mark.parametrize("size", [(9, 9, 9), (10, 10, 10)])
def test_rotate_crop_quarter_turns_with_nearest_are_exact_rot90_then_crop(size):
    image = torch.randn(2, *size)
    expected_planes = {"x": (3, 2), "y": (1, 3), "z": (2, 1)}
    crop = ResizeWithPadOrCrop((5, 5, 5))
    for axis, dims in expected_planes.items():
        out = rotate_crop(image, axis_rotation_matrix(axis, np.pi / 2), 5, mode="nearest")
        assert torch.equal(torch.as_tensor(out), torch.as_tensor(crop(torch.rot90(image, 1, dims)))), axis


def test_rotate_crop_with_a_given_matrix_equals_rotate_by_matrix_then_crop():
    image = _crop_image((30, 30, 30), channels=1)
    matrix = axis_rotation_matrix("x", 0.4) @ axis_rotation_matrix("y", -1.1) @ axis_rotation_matrix("z", 2.3)
    expected = ResizeWithPadOrCrop((16, 16, 16))(rotate_by_matrix(image, matrix))
    out = rotate_crop(image, matrix, 16)
    torch.testing.assert_close(out.as_tensor(), expected.as_tensor(), atol=1e-4, rtol=0)
    torch.testing.assert_close(out.affine, expected.affine, atol=1e-10, rtol=0)


def test_rotate_crop_refuses_bad_input():
    with pytest.raises(ValueError, match=r"rotate_crop needs 2 or 3 spatial dims .* got shape \(1, 8\)"):
        rotate_crop(torch.rand(1, 8), None, 4)
    with pytest.raises(ValueError, match=r"matrix must be 3x3 for this image, got shape \(2, 2\)"):
        rotate_crop(torch.rand(1, 8, 8, 8), np.eye(2), 4)
    with pytest.raises(ValueError, match=r"roi_size \(16, 16, 16\) does not fit the spatial size \(12, 12, 12\)"):
        rotate_crop(torch.rand(1, 12, 12, 12), None, 16)

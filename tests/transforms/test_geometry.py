from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.transforms import CenterSpatialCrop

from monai_sre.transforms import axis_rotation_matrix
from monai_sre.transforms.geometry import (
    centre_crop_slices,
    centre_crop_start,
    grid_theta,
    resample,
    resolve_roi_size,
    rotate_crop_index_map,
)


@pytest.mark.parametrize("size, roi", [((30, 30, 30), (16, 16, 16)), ((31, 30, 29), (16, 15, 14)), ((9, 8), (9, 3))])
def test_centre_crop_is_monai_center_spatial_crop(size, roi):
    assert centre_crop_slices(size, roi) == CenterSpatialCrop(roi).compute_slices(size)
    assert centre_crop_start(size, roi) == tuple(n // 2 - s // 2 for n, s in zip(size, roi))
    assert all(s.stop - s.start == r for s, r in zip(centre_crop_slices(size, roi), roi))


def test_roi_size_falls_back_to_the_image_and_must_fit():
    assert resolve_roi_size((12, 11, 10), None) == (12, 11, 10)
    assert resolve_roi_size((12, 11, 10), 5) == (5, 5, 5)
    assert resolve_roi_size((12, 11, 10), (4, -1, 0)) == (4, 11, 10)  # non-positive: keep the axis, as MONAI
    with pytest.raises(ValueError, match=r"roi_size \(16, 16, 16\) does not fit the spatial size \(12, 12, 12\)"):
        resolve_roi_size((12, 12, 12), 16)
    with pytest.raises(ValueError, match=r"roi_size \(4, 4\) has 2 axes, the image has 3"):
        resolve_roi_size((12, 12, 12), (4, 4))


def test_index_map_is_rotation_about_the_centre_then_the_centre_crop():
    matrix = axis_rotation_matrix("z", 0.7)
    index_map = rotate_crop_index_map(matrix, (31, 30, 30), (16, 16, 16))
    start = np.array([7, 7, 7])  # n // 2 - s // 2, as CenterSpatialCrop
    centre = np.array([15.0, 14.5, 14.5])
    for j in (np.zeros(3), np.array([3.0, 9.0, 15.0])):
        np.testing.assert_allclose(index_map[:3, :3] @ j + index_map[:3, 3], matrix @ (j + start - centre) + centre)
    batch = rotate_crop_index_map(np.stack([matrix, matrix.T]), (31, 30, 30), (16, 16, 16))
    np.testing.assert_allclose(batch[0], index_map)


@pytest.mark.parametrize("align_corners", [False, True])
def test_the_crop_alone_resamples_to_the_exact_crop(align_corners):
    images = torch.rand(2, 3, 11, 10, 9)
    size, roi = (11, 10, 9), (5, 6, 7)
    theta = grid_theta(rotate_crop_index_map(np.stack([np.eye(3)] * 2), size, roi), size, roi, align_corners)
    assert theta.shape == (2, 3, 4)
    out = resample(images, theta, roi, mode="nearest", align_corners=align_corners)
    torch.testing.assert_close(out, images[(slice(None), slice(None), *centre_crop_slices(size, roi))])

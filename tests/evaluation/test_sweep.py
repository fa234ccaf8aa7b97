from __future__ import annotations

import numpy as np
import pytest
import torch

from monai_sre.evaluation import RotationSweep
from monai_sre.transforms import apply_grid_symmetry, grid_symmetries, planar_rotation_matrix


def test_paper_protocol_layout():
    sweep = RotationSweep("paper")
    assert len(sweep) == 39 and {c.mode for c in sweep} == {"nearest"}
    assert [c.name for c in sweep][:3] == ["x+000", "x+030", "x+060"] and sweep.cases[-1].name == "z+360"
    assert [c.group for c in sweep].count("y") == 13
    assert sweep.cases[0].is_identity and sweep.cases[12].is_identity  # 0 and 360 degrees
    planar = RotationSweep("paper", spatial_dims=2)
    assert len(planar) == 37 and planar.cases[1].angle == 10.0
    np.testing.assert_allclose(planar.cases[1].matrix, planar_rotation_matrix(np.deg2rad(10.0)))
    quarter = next(c for c in planar if c.name == "xy+090")
    image = torch.randn(2, 1, 6, 6)
    assert torch.equal(quarter.apply(image), torch.rot90(image, 1, (3, 2)))  # as z+090 in the (x, y) plane
    assert {c.mode for c in RotationSweep("paper-trilinear")} == {"bilinear"}


def test_haar_protocol_is_seeded():
    a, b, c = RotationSweep("haar-5", seed=1), RotationSweep("haar-5", seed=1), RotationSweep("haar-5", seed=2)
    assert len(a) == 5 and a.cases[0].name == "haar-0"
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.matrix, y.matrix)
    assert not np.allclose(a.cases[0].matrix, c.cases[0].matrix)
    assert RotationSweep("haar-64").cases[10].name == "haar-10"


def test_grid_and_flip_protocols_are_exact():
    x = torch.randn(2, 3, 5, 5, 5)
    sweep = RotationSweep("grid48")
    assert len(sweep) == 48
    for case, element in zip(sweep, grid_symmetries(3)):
        assert torch.equal(case.apply(x), apply_grid_symmetry(x, element))
    rotations = RotationSweep("grid24")
    assert len(rotations) == 24 and len(RotationSweep("grid24", spatial_dims=2)) == 4
    assert all(round(float(np.linalg.det(case.element.matrix))) == 1 for case in rotations)  # proper rotations only
    assert {c.name for c in rotations} < {c.name for c in sweep}
    flips = RotationSweep("flips")
    assert [c.name for c in flips] == ["flip-x", "flip-y", "flip-z"]
    assert torch.equal(flips.cases[1].apply(x), x.flip(3))


def test_quarter_turn_cases_equal_rot90_and_keep_batches_apart():
    x = torch.randn(3, 2, 6, 6, 6)
    case = next(c for c in RotationSweep("paper") if c.name == "z+090")
    assert torch.equal(case.apply(x), torch.rot90(x, 1, (3, 2)))
    assert torch.equal(RotationSweep("paper").cases[0].apply(x), x)
    rotated = next(c for c in RotationSweep("paper") if c.name == "x+060").apply(x)
    assert rotated.shape == x.shape and rotated.dtype == x.dtype
    assert rotated[:, :, :, 0, 0].abs().sum() == 0  # the corners rotated in from outside are zero-filled
    smooth = next(c for c in RotationSweep("paper-trilinear") if c.name == "x+030").apply(x)
    assert not torch.equal(smooth, rotated) and torch.isfinite(smooth).all()


def test_unknown_protocol_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown rotation protocol 'paper3'; expected one of paper, paper-trilinear"):
        RotationSweep("paper3")
    with pytest.raises(ValueError, match="haar-N needs N >= 1"):
        RotationSweep("haar-0")
    with pytest.raises(ValueError, match="spatial_dims must be 2 or 3, got 1"):
        RotationSweep("paper", spatial_dims=1)
    assert repr(RotationSweep("flips", 2)) == "RotationSweep('flips', spatial_dims=2, seed=0, cases=2)"


def test_label_maps_move_with_nearest_neighbour_and_never_mix():
    labels = torch.tensor([0, 3, 7])[torch.randint(0, 3, (2, 1, 7, 7, 7))]
    for case in RotationSweep("haar-6", seed=3):
        assert case.mode == "bilinear"
        moved = case.apply_labels(labels)
        assert moved.dtype == labels.dtype and moved.shape == labels.shape
        assert set(moved.unique().tolist()) <= {0, 3, 7}
        assert set(case.apply_labels(labels.float()).unique().tolist()) <= {0.0, 3.0, 7.0}
    assert not set(case.apply(labels.float()).unique().tolist()) <= {0.0, 3.0, 7.0}  # the image method mixes them
    mask = case.apply_labels(labels > 0)
    assert mask.dtype == torch.bool and mask.shape == labels.shape


def test_field_of_view_and_inverse_cases():
    case = next(c for c in RotationSweep("paper-trilinear") if c.name == "z+030")
    view = case.field_of_view((9, 9, 9))
    assert view.shape == (1, 1, 9, 9, 9) and view.dtype == torch.bool
    assert view[0, 0, 4, 0].all() and not view[0, 0, 0, 0].any()  # edge middles kept, corners (about z) cut
    assert RotationSweep("grid48").cases[7].field_of_view((3, 3, 3)).all()
    inverse = case.inverse()
    assert inverse.name == "z+030-inverse" and inverse.mode == case.mode
    np.testing.assert_allclose(inverse.matrix @ case.matrix, np.eye(3), atol=1e-12)
    x = torch.randn(2, 2, 5, 5, 5)
    for case in RotationSweep("grid48"):
        assert torch.equal(case.inverse().apply(case.apply(x)), x), case.name
    quarter = next(c for c in RotationSweep("paper") if c.name == "x+090")  # nearest: exact at quarter turns
    assert torch.equal(quarter.inverse().apply_labels(quarter.apply_labels(x)), x)

from __future__ import annotations

import inspect

import pytest
import torch

from monai_sre import deprecation
from monai_sre.groups import apply_grid_symmetry, apply_group_element, grid_group
from monai_sre.networks.layers.group_pool import GroupPool


@pytest.mark.parametrize("mode", ["mean", "max"])
def test_pooled_features_are_invariant_in_orientation_and_equivariant_in_space(mode):
    group = grid_group("Oh")
    pool = GroupPool(48, mode)
    x = torch.randn(2, 3 * 48, 4, 4, 4, dtype=torch.float64)
    y = pool(x)
    assert y.shape == (2, 3, 4, 4, 4)
    for g in range(len(group)):
        moved = pool(apply_group_element(x, group, "regular", g))
        torch.testing.assert_close(moved, apply_grid_symmetry(y, group.elements[g]), rtol=0, atol=1e-12)


def test_mean_and_max_values():
    x = torch.arange(6.0).reshape(1, 6, 1)  # 2 channels x 3 points
    assert GroupPool(3, "mean")(x).flatten().tolist() == [1.0, 4.0]
    assert GroupPool(3, "max")(x).flatten().tolist() == [2.0, 5.0]


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="median"):
        GroupPool(3, "median")
    with pytest.raises(ValueError, match=r"GroupPool expected \(batch, channels x 3 orientations, \*spatial\)"):
        GroupPool(3)(torch.randn(1, 4, 2, 2))
    with pytest.raises(ValueError, match="num_orientations must be a positive int, got 0"):
        GroupPool(0)


def test_empty_batch():
    """Used to fail: ``cannot reshape tensor of 0 elements into shape [0, -1, 24, ...]``."""
    assert GroupPool(24, "max")(torch.randn(0, 48, 3, 3, 3)).shape == (0, 2, 3, 3, 3)
    assert GroupPool(24)(torch.randn(0, 48)).shape == (0, 2)


def test_num_orientations_replaces_points(monkeypatch):
    monkeypatch.setattr(deprecation, "_warned", set())
    with pytest.warns(FutureWarning, match=r"argument points= of .*GroupPool.__init__ is deprecated"):
        pool = GroupPool(points=24, mode="max")
    assert pool.num_orientations == 24 and repr(pool) == "GroupPool(num_orientations=24, mode='max')"
    with pytest.warns(FutureWarning, match=r"GroupPool\.points is deprecated"):
        assert pool.points == 24
    assert list(inspect.signature(GroupPool).parameters) == ["num_orientations", "mode"]


def test_scripted_pool_computes_the_same():
    pool = GroupPool(4, "max")
    x = torch.randn(2, 8, 3, 3)
    torch.testing.assert_close(torch.jit.script(pool)(x), pool(x))

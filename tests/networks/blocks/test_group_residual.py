from __future__ import annotations

import pytest
import torch

from monai_sre.groups import apply_group_element, grid_group
from monai_sre.networks.blocks.group_residual import GroupBasicBlock


@pytest.mark.parametrize("space", ["regular", "axes", "diagonals"])
@pytest.mark.parametrize("downsample, size", [(False, 5), (True, 6), (True, 7)])
def test_block_is_exactly_equivariant_in_eval_mode(space, downsample, size):
    group = grid_group("O")
    block = GroupBasicBlock(3, 2, 3, "O", space, downsample=downsample).double()
    orientations = block.conv1.out_orientations
    block.train()(torch.randn(4, 2 * orientations, size, size, size, dtype=torch.float64))  # move running stats
    block.eval()
    x = torch.randn(2, 2 * orientations, size, size, size, dtype=torch.float64)
    y = block(x)
    assert y.shape == (2, 3 * orientations, *([(size + 1) // 2] * 3 if downsample else [size] * 3))
    for g in range(len(group)):
        moved = block(apply_group_element(x, group, space, g))
        torch.testing.assert_close(moved, apply_group_element(y, group, space, g), rtol=0, atol=1e-10)


def test_identity_shortcut_when_width_is_kept():
    block = GroupBasicBlock(2, 4, 4, "D4", "axes")
    assert isinstance(block.shortcut, torch.nn.Identity)
    assert not isinstance(GroupBasicBlock(2, 2, 4, "D4", "axes").shortcut, torch.nn.Identity)


@pytest.mark.parametrize("norm", ["instance", ("group", {"num_groups": 3})])
def test_norm_shared_over_orientations_keeps_equivariance(norm):
    group, space = grid_group("D4"), "regular"
    block = GroupBasicBlock(2, 2, 3, "D4", space, norm=norm).double().eval()
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in block.modules())
    x = torch.randn(2, 2 * 8, 6, 6, dtype=torch.float64)
    y = block(x)
    for g in range(len(group)):
        moved = block(apply_group_element(x, group, space, g))
        torch.testing.assert_close(moved, apply_group_element(y, group, space, g), rtol=0, atol=1e-10)


def test_in_and_out_types_describe_the_features_and_chain():
    from monai_sre.networks.layers import GroupFeatureType, check_compatible

    first, second = GroupBasicBlock(3, 2, 3, "O", "axes"), GroupBasicBlock(3, 3, 4, "O", "axes", downsample=True)
    assert first.in_type == GroupFeatureType("O", "axes", 2) and first.out_type == GroupFeatureType("O", "axes", 3)
    assert check_compatible(first, second) == GroupFeatureType("O", "axes", 3)
    with pytest.raises(ValueError, match="differ in space 'axes' vs 'diagonals'"):
        check_compatible(first, GroupBasicBlock(3, 3, 3, "O", "diagonals"))

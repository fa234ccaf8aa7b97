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
    points = block.conv1.out_points
    block.train()(torch.randn(4, 2 * points, size, size, size, dtype=torch.float64))  # move running stats
    block.eval()
    x = torch.randn(2, 2 * points, size, size, size, dtype=torch.float64)
    y = block(x)
    assert y.shape == (2, 3 * points, *([(size + 1) // 2] * 3 if downsample else [size] * 3))
    for g in range(len(group)):
        moved = block(apply_group_element(x, group, space, g))
        torch.testing.assert_close(moved, apply_group_element(y, group, space, g), rtol=0, atol=1e-10)


def test_identity_shortcut_when_width_is_kept():
    block = GroupBasicBlock(2, 4, 4, "D4", "axes")
    assert isinstance(block.shortcut, torch.nn.Identity)
    assert not isinstance(GroupBasicBlock(2, 2, 4, "D4", "axes").shortcut, torch.nn.Identity)

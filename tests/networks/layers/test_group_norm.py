from __future__ import annotations

import pytest
import torch

from monai_sre.groups import apply_group_element, grid_group
from monai_sre.networks.layers.group_norm import GroupBatchNorm


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_commutes_with_every_element(training):
    group = grid_group("O")
    norm = GroupBatchNorm(3, 24).double()
    x = torch.randn(4, 3 * 24, 3, 3, 3, dtype=torch.float64) * 3 + 1
    norm.train()
    norm(x)  # running statistics away from their initial values
    norm.train(training)
    y = norm(x)
    for g in range(len(group)):
        moved = norm(apply_group_element(x, group, "regular", g))
        torch.testing.assert_close(moved, apply_group_element(y, group, "regular", g), rtol=0, atol=1e-10)


def test_statistics_are_shared_over_orientations():
    norm = GroupBatchNorm(2, 3)
    y = norm.train()(torch.randn(8, 6, 4, 4) * 5 + 2).reshape(8, 2, -1)
    torch.testing.assert_close(y.mean((0, 2)), torch.zeros(2), atol=1e-5, rtol=0)
    assert norm.weight.shape == (2,) and norm.running_mean.shape == (2,)
    torch.nn.BatchNorm1d(2).load_state_dict(norm.state_dict())  # plain batch-norm state


def test_wrong_width_raises():
    with pytest.raises(ValueError, match="2 x 3"):
        GroupBatchNorm(2, 3)(torch.randn(1, 4, 2, 2))

from __future__ import annotations

import pytest
import torch
from torch import nn

from monai_sre.networks.layers import SymmetricPool
from monai_sre.transforms import apply_grid_symmetry, grid_symmetries


@pytest.mark.parametrize("rounding", ["ceil", "floor"])
@pytest.mark.parametrize("mode", ["avg", "max"])
def test_output_sizes(mode, rounding):
    pool = SymmetricPool(1, mode, rounding)
    for n in range(2, 14):
        expected = -(-n // 2) if rounding == "ceil" else n // 2
        assert pool(torch.randn(1, 1, n)).shape[-1] == expected
    assert SymmetricPool(3)(torch.randn(1, 2, 28, 27, 1)).shape == (1, 2, 14, 14, 1)


@pytest.mark.parametrize("rounding", ["ceil", "floor"])
@pytest.mark.parametrize("mode", ["avg", "max"])
@pytest.mark.parametrize("size", [6, 7, 9, 10])
def test_exactly_equivariant_under_every_grid_symmetry(mode, rounding, size):
    pool = SymmetricPool(3, mode, rounding)
    x = torch.randn(2, 3, size, size, size, dtype=torch.float64)
    y = pool(x)
    for element in grid_symmetries(3):
        torch.testing.assert_close(pool(apply_grid_symmetry(x, element)), apply_grid_symmetry(y, element))


def test_plain_pooling_is_not_symmetric_on_odd_sizes():
    """What SymmetricPool fixes: pooling by 2 drops the last voxel of an odd axis."""
    pool = nn.AvgPool1d(2)
    x = torch.randn(1, 1, 7)
    assert not torch.allclose(pool(x.flip(-1)), pool(x).flip(-1))


def test_torchscript_and_bad_input():
    pool = SymmetricPool(2, "max")
    x = torch.randn(1, 1, 7, 8)
    torch.testing.assert_close(torch.jit.script(pool)(x), pool(x))
    with pytest.raises(
        ValueError,
        match=r"SymmetricPool expected \(batch, channels x orientations, H, W\), got shape \[1, 7, 8\]: 1 spatial dims",
    ):
        pool(torch.randn(1, 7, 8))
    with pytest.raises(ValueError, match="spatial_dims must be 1, 2 or 3, got 4"):
        SymmetricPool(4)


def test_symmetric_pool_is_a_layer():
    import monai_sre
    from monai_sre.networks import blocks, layers

    assert monai_sre.SymmetricPool is layers.SymmetricPool is SymmetricPool
    assert SymmetricPool.__module__ == "monai_sre.networks.layers.symmetric_pool"
    assert not hasattr(blocks, "SymmetricPool") and "SymmetricPool" not in blocks.__all__
    assert not list(SymmetricPool(3).parameters())  # no weights: a layer, not a block

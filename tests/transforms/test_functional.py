from __future__ import annotations

import pytest
import torch

from monai_sre.transforms import apply_grid_symmetry, grid_symmetries


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

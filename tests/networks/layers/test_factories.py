from __future__ import annotations

import pytest
import torch
from monai.networks.layers import Conv

import monai_sre
from monai_sre.networks.layers import (
    GroupConv,
    SREConv3d,
    SREConvTranspose,
    SREConvTranspose2d,
    register_layer_factories,
)


def test_conv_factory_resolves_sre_layers_for_every_dimension():
    for dim in (1, 2, 3):
        assert Conv["sre", dim].__name__ == f"SREConv{dim}d"
        assert Conv["sretrans", dim].__name__ == f"SREConvTranspose{dim}d"
    assert Conv["sre", 3] is SREConv3d
    assert Conv["SRETRANS", 2] is SREConvTranspose2d


def test_factory_classes_take_monai_convolution_keywords():
    # the keywords monai.networks.blocks.Convolution passes to Conv[...]
    conv = Conv["sre", 3](2, 4, kernel_size=3, stride=1, padding=1, dilation=1, groups=1, bias=True)
    assert conv(torch.randn(1, 2, 5, 5, 5)).shape == (1, 4, 5, 5, 5)
    up = Conv["sretrans", 3](
        4, 2, kernel_size=3, stride=2, padding=1, output_padding=1, groups=1, bias=False, dilation=1
    )
    assert isinstance(up, SREConvTranspose)
    assert up(torch.randn(1, 4, 4, 4, 4)).shape == (1, 2, 8, 8, 8)


def test_registration_is_idempotent():
    before = dict(Conv.components)
    register_layer_factories()
    register_layer_factories()
    assert dict(Conv.components) == before
    assert "SRE" in Conv.components and "SRETRANS" in Conv.components
    assert monai_sre.SREConv is monai_sre.networks.layers.SREConv


def test_group_convolutions_are_in_monais_conv_factory_over_the_grid_rotations():
    lift = Conv["group", 3](1, 2, 3, in_space="trivial")
    assert isinstance(lift, GroupConv) and lift.group.name == "O"
    assert lift(torch.randn(1, 1, 5, 5, 5)).shape == (1, 2 * 24, 5, 5, 5)
    assert Conv["group", 2](2, 3).group.name == "C4"
    with pytest.raises(ValueError, match="2 or 3 spatial dims, got 1"):
        Conv["group", 1]


@pytest.mark.parametrize("dim", [0, 4])
def test_sre_factories_refuse_other_dimensions(dim):
    """``Conv["sre", 0]`` used to give SREConv3d (index -1)."""
    with pytest.raises(ValueError, match=f"SREConv layers act on 1 to 3 spatial dims, got {dim}"):
        Conv["sre", dim]
    with pytest.raises(ValueError, match=f"SREConvTranspose layers act on 1 to 3 spatial dims, got {dim}"):
        Conv["sretrans", dim]

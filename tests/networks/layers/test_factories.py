from __future__ import annotations

import torch
from monai.networks.layers import Conv

import monai_sre
from monai_sre.networks.layers import SREConv3d, SREConvTranspose, SREConvTranspose2d, register_layer_factories


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

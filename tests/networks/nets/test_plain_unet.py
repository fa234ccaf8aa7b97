from __future__ import annotations

import torch
from monai.networks.nets import BasicUNet

from monai_sre.groups import apply_grid_symmetry, grid_group
from monai_sre.networks.layers import SREConv
from monai_sre.networks.nets import create_model, plain_unet_light, sre_unet_light


def _widths(modules) -> list[int]:
    return [m.out_channels for m in modules]


def test_plain_unet_light_is_basic_unet_at_the_sre_light_widths():
    plain = create_model("plain_unet_light", in_channels=1, out_channels=4)
    assert isinstance(plain, BasicUNet) and plain.symmetry_group is None
    sre = sre_unet_light(in_channels=1, out_channels=4)
    plain_convs = [m for m in plain.modules() if isinstance(m, torch.nn.Conv3d) and m.kernel_size == (3, 3, 3)]
    sre_convs = [m for m in sre.modules() if isinstance(m, SREConv)]
    # encoder then decoder, level by level, in the same order in both networks
    assert (
        _widths(plain_convs)
        == _widths(sre_convs)
        == [8, 8, 16, 16, 32, 32, 64, 64, 128, 128] + [64] * 2 + [32] * 2 + [16] * 2 + [8] * 2
    )
    assert plain.eval()(torch.randn(1, 1, 16, 16, 16)).shape == (1, 4, 16, 16, 16)


def test_kwargs_override_and_the_baseline_is_not_equivariant():
    plain = plain_unet_light(in_channels=1, out_channels=2, features=(2, 2, 2, 2, 2, 2)).eval()
    x = torch.randn(1, 1, 16, 16, 16)
    element = grid_group("Oh").elements[7]
    with torch.no_grad():
        moved, expected = plain(apply_grid_symmetry(x, element)), apply_grid_symmetry(plain(x), element)
    assert (moved - expected).abs().max() > 1e-3 * expected.abs().max()

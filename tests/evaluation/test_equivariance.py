from __future__ import annotations

import pytest
import torch
from torch import nn

from monai_sre import create_model
from monai_sre.evaluation import equivariance_error, invariance_error
from monai_sre.networks.layers import SREConv
from monai_sre.transforms import RotationSweep


def test_sre_layer_is_equivariant_and_a_dense_conv_is_not():
    x = torch.randn(2, 2, 7, 7, 7, dtype=torch.float64)
    assert equivariance_error(SREConv(3, 2, 3, 3).double(), x) < 1e-12
    assert equivariance_error(nn.Conv3d(2, 3, 3, padding=1).double(), x) > 0.1
    per_case = equivariance_error(SREConv(3, 2, 3, 3).double(), x, reduction="none")
    assert len(per_case) == 48 and max(per_case.values()) < 1e-12


def test_interpolated_rotations_and_the_central_ball():
    torch.manual_seed(0)
    grid = torch.stack(torch.meshgrid(*[torch.arange(15.0) - 7] * 3, indexing="ij"))
    x = torch.exp(-(grid**2).sum(0) / 10)[None, None].double()  # smooth and centred: interpolation is mild
    layer = SREConv(3, 1, 2, 3).double()
    cases = RotationSweep("paper-trilinear").cases[1:4]
    whole = equivariance_error(layer, x, cases)
    inside = equivariance_error(layer, x, cases, mask_radius=0.6)
    assert inside < whole < 0.2
    with pytest.raises(ValueError, match="median"):
        equivariance_error(layer, x, cases, reduction="median")


def test_invariance_of_an_sre_network_against_a_plain_cnn():
    model = create_model("sre_resnet_light", num_classes=3).eval()
    plain = nn.Sequential(nn.Conv3d(1, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(4, 3)).eval()
    x = torch.randn(2, 1, 13, 13, 13)
    assert invariance_error(model, x) < 1e-5
    assert invariance_error(plain, x) > 1e-3
    assert invariance_error(model, x, "flips", reduction="mean") < 1e-5

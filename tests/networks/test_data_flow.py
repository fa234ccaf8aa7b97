# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
from __future__ import annotations

import pytest
import torch
from monai.networks.nets import UNet
from torch import nn

from monai_sre.networks.data_flow import INPUT, trace_data_flow

CONVS = (nn.Conv3d, nn.ConvTranspose3d)


def test_residual_unet_sources():
    """MONAI's residual UNet: both convolutions of the first unit read the input, a batch norm reads its
    convolution, the skip concatenation reads two producers, and two convolutions write the output."""
    model = UNet(3, 1, 5, channels=(8, 16, 32), strides=(2, 2), num_res_units=1, norm="batch")
    flow = trace_data_flow(model, (1, 16, 16, 16), CONVS, CONVS + (nn.BatchNorm3d,))
    assert flow.reads["model.0.conv.unit0.conv"] == flow.reads["model.0.residual"] == {INPUT}
    assert flow.reads["model.0.conv.unit0.adn.N"] == {"model.0.conv.unit0.conv"}
    assert flow.reads["model.2.0.conv"] == {  # the top skip: the first unit's sum, and the upsampled features
        "model.0.conv.unit0.conv", "model.0.residual", "model.1.submodule.2.0.conv",
        "model.1.submodule.2.1.conv.unit0.conv",
    }  # fmt: skip
    assert flow.output == {"model.2.0.conv", "model.2.1.conv.unit0.conv"}
    assert flow.input_shape == (1, 1, 16, 16, 16)
    assert model.training  # the probe ran on a copy


def test_in_place_operations_and_tuple_outputs():
    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem, self.a, self.b = nn.Conv3d(1, 2, 1), nn.Conv3d(2, 2, 1), nn.Linear(2, 3)

        def forward(self, x):
            x.mul_(2.0)  # in place on the input
            h = torch.relu_(self.stem(x))  # in place after a producer: the walk still finds it
            return self.a(h), self.b(h.mean((2, 3, 4)))

    flow = trace_data_flow(TwoHeads(), (1, 4, 4, 4), (nn.Conv3d, nn.Linear), (nn.Conv3d, nn.Linear))
    assert flow.reads == {"stem": {INPUT}, "a": {"stem"}, "b": {"stem"}}
    assert flow.output == {"a", "b"}


def test_a_probe_the_network_cannot_take_is_named():
    with pytest.raises(ValueError, match=r"Conv3d does not run on a probe input of shape \[1, 2, 4, 4, 4\]"):
        trace_data_flow(nn.Conv3d(1, 2, 3), (2, 4, 4, 4), CONVS, CONVS)

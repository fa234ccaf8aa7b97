from __future__ import annotations

import pytest
import torch
from monai.networks.nets import DenseNet121, ResNet, SegResNet, UNet

from monai_sre.evaluation import assert_equivariant
from monai_sre.groups import apply_grid_symmetry, apply_group_element, grid_group
from monai_sre.networks.convert_group import convert_to_group
from monai_sre.networks.layers.group_conv import GroupConv
from monai_sre.networks.layers.group_norm import OrientationGroupNorm
from monai_sre.networks.layers.group_pool import GroupPool


def _plain_light(widths=(6, 12, 24, 48)) -> torch.nn.Module:
    return ResNet("basic", [1, 1, 1, 1], list(widths), n_input_channels=1, num_classes=3)


@pytest.mark.parametrize("size", [16, 17])
def test_converted_monai_resnet_is_exactly_invariant(size):
    net, report = convert_to_group(_plain_light())
    assert isinstance(net.conv1, GroupConv) and net.conv1.in_space == "trivial"
    assert isinstance(net.fc[0], GroupPool)
    assert report.params_after < report.params_before
    net.train()(torch.randn(4, 1, size, size, size))
    net.eval()
    x = torch.randn(2, 1, size, size, size)
    with torch.no_grad():
        y = net(x)
        error = max((net(apply_grid_symmetry(x, e)) - y).abs().max().item() for e in grid_group("Oh").elements)
    assert error <= 1e-4 * max(1.0, y.abs().max().item())


def test_unconverted_network_is_not_invariant_so_the_check_can_fail():
    net = _plain_light().eval()
    x = torch.randn(2, 1, 16, 16, 16)
    mirror = grid_group("Oh").elements[1]
    with torch.no_grad():
        assert (net(apply_grid_symmetry(x, mirror)) - net(x)).abs().max() > 1e-4


def test_densenet_with_regular_o_features():
    model = DenseNet121(3, 1, 2, init_features=24, growth_rate=24, block_config=(1, 1))
    net, _ = convert_to_group(model, group="O", space="regular")
    net.eval()
    x = torch.randn(1, 1, 12, 12, 12, dtype=torch.float32)
    with torch.no_grad():
        y = net(x)
        for element in grid_group("O").elements[::4]:
            torch.testing.assert_close(net(apply_grid_symmetry(x, element)), y, rtol=1e-4, atol=1e-4)


def test_widths_that_do_not_split_over_orientations_are_refused_naming_the_layer():
    with pytest.raises(ValueError, match="conv1.*not a multiple of the 3 'axes'"):
        convert_to_group(_plain_light((8, 16, 32, 64)))
    net, _ = convert_to_group(_plain_light((8, 16, 32, 64)), widths="per_orientation")  # any width
    assert net.conv1.out_channels == 8 and net.conv1.out_orientations == 3
    with pytest.raises(ValueError, match="Oq"):
        convert_to_group(_plain_light(), group="Oq")
    with pytest.raises(ValueError, match="no convolution"):
        convert_to_group(torch.nn.Linear(3, 3))


def test_padding_and_padding_mode_are_kept():
    """``Conv3d(padding=0)`` used to become a "same" group conv (7^3 -> 7^3 instead of 5^3) and circular padding
    became zeros, with nothing in the report."""
    model = torch.nn.Sequential(
        torch.nn.Conv3d(1, 6, 3, padding=0),
        torch.nn.ReLU(),
        torch.nn.Conv3d(6, 6, 3, padding=1, padding_mode="circular"),
    )
    converted, report = convert_to_group(model, group="Oh", space="axes")
    valid, circular = converted[0], converted[2]
    assert valid.padding == (0, 0, 0) and circular.padding_mode == "circular"
    x = torch.randn(2, 1, 7, 7, 7)
    assert converted(x).shape == model(x).shape == (2, 6, 5, 5, 5)
    replaced = {name: new for name, _, new in report.replaced}
    assert "padding=0" in replaced["0"] and "padding_mode='circular'" in replaced["2"]
    assert valid.out_space == "axes" and circular.out_space == "trivial"  # the output convolution: plain again
    # equivariant: circular padding pads every side alike, as zeros do
    group = grid_group("Oh")
    with torch.no_grad():
        out, features = converted(x), valid(x)
        for g in (5, 17, 40):
            torch.testing.assert_close(
                converted(apply_grid_symmetry(x, group.elements[g])),
                apply_grid_symmetry(out, group.elements[g]),
                rtol=1e-5,
                atol=1e-5,
            )
            torch.testing.assert_close(  # the hidden features carry orientations, which the symmetry permutes
                valid(apply_grid_symmetry(x, group.elements[g])),
                apply_group_element(features, group, "axes", g),
                rtol=1e-5,
                atol=1e-5,
            )


def test_anisotropic_padding_is_refused_naming_the_layer():
    model = torch.nn.Sequential(torch.nn.Conv3d(1, 6, 3, padding=(1, 0, 1)))
    with pytest.raises(ValueError, match=r"'0' has padding \(1, 0, 1\)"):
        convert_to_group(model)


def test_device_and_dtype_of_the_model_are_kept():
    """A float64 model used to get float32 GroupBatchNorm and Linear layers, and failed with mixed dtypes."""
    model = _plain_light().double()
    converted, _ = convert_to_group(model, group="Oh", space="axes")
    assert {p.dtype for p in converted.parameters()} == {torch.float64}
    assert {b.dtype for b in converted.buffers() if b.is_floating_point()} == {torch.float64}
    assert converted.eval()(torch.randn(1, 1, 9, 9, 9, dtype=torch.float64)).dtype == torch.float64


def test_monai_residual_unet_lifts_every_image_reader_and_maps_the_output_back():
    """The residual convolution of MONAI's first ResidualUnit reads the image beside the unit's convolution (module
    order lifted only the first, and the residual one then failed on the plain image); the last transposed
    convolution and the residual unit after it both write the output, which must stay 5 class channels."""
    model = UNet(3, 1, 5, channels=(12, 24, 48), strides=(2, 2), num_res_units=1, norm="batch")
    net, _ = convert_to_group(model, group="Oh", space="axes")
    lifting = [n for n, m in net.named_modules() if isinstance(m, GroupConv) and m.in_space == "trivial"]
    heads = [n for n, m in net.named_modules() if isinstance(m, GroupConv) and m.out_space == "trivial"]
    # the image readers, each after its SymmetricPool, and the last unit's convolution, which reads the plain
    # output of the transposed convolution before it
    assert lifting == ["model.0.conv.unit0.conv.1", "model.0.residual.1", "model.2.1.conv.unit0.conv"]
    assert heads == ["model.2.0.conv.1", "model.2.1.conv.unit0.conv"]
    assert net.model[2][1].conv.unit0.conv.out_channels == 5
    x = torch.randn(1, 1, 16, 16, 16)
    with torch.no_grad():
        assert net.eval()(x).shape == (1, 5, 16, 16, 16)
        assert_equivariant(net, x, "grid48")  # the label map follows its input


def test_a_layer_reading_the_image_and_orientation_features_is_refused():
    class ImagePlusFeatures(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv3d(1, 6, 3, padding=1)
            self.mix = torch.nn.Conv3d(6, 6, 1)

        def forward(self, x):
            return self.mix(self.conv(x) + x)

    with pytest.raises(ValueError, match=r"'mix' reads plain features \(\['input'\]\) together with .*\['conv'\]"):
        convert_to_group(ImagePlusFeatures())


def test_a_network_the_probe_cannot_run_names_the_shape_and_lifting_skips_the_probe():
    model = torch.nn.Sequential(torch.nn.Conv3d(2, 6, 3), torch.nn.Flatten(), torch.nn.Linear(6 * 5**3, 3))
    with pytest.raises(ValueError, match=r"probe input of shape \[1, 2, 32, 32, 32\].*input_shape"):
        convert_to_group(model)
    net, _ = convert_to_group(model, input_shape=(2, 7, 7, 7))
    assert net[0].in_space == "trivial" and net[0].out_space == "axes"
    net, _ = convert_to_group(model, lifting="0")  # no probe: the named convolution lifts
    assert net[0].in_space == "trivial"


@pytest.mark.parametrize("space, widths", [("diagonals", "keep"), ("axes", "per_orientation")])
def test_monai_segresnet_group_and_instance_norms_become_orientation_group_norms(space, widths):
    """SegResNet normalises with nn.GroupNorm(8, C): per flat channel its groups split orientation sets and its
    scale differs between the orientations of one channel, so kept as it was the converted network was off by
    0.2 % of its output under the grid symmetries (the model zoo's BraTS bundle). Converted, it is exact."""
    model = SegResNet(3, init_filters=8, in_channels=2, out_channels=3, blocks_down=(1, 1), blocks_up=(1,))
    model.down_layers[0][1].norm1 = torch.nn.InstanceNorm3d(8, affine=True)  # and an instance norm with a scale
    net, _ = convert_to_group(model, group="Oh", space=space, widths=widths)
    norms = [m for m in net.modules() if isinstance(m, OrientationGroupNorm)]
    assert len(norms) == sum(isinstance(m, (torch.nn.GroupNorm, torch.nn.InstanceNorm3d)) for m in model.modules())
    assert not any(isinstance(m, (torch.nn.GroupNorm, torch.nn.InstanceNorm3d)) for m in net.modules())
    x = torch.randn(1, 2, 8, 8, 8)
    with torch.no_grad():
        assert net.eval()(x).shape == (1, 3, 8, 8, 8)
        assert_equivariant(net, x, "grid48")

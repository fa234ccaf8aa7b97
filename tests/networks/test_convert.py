from __future__ import annotations

import pytest
import torch
from monai.networks import nets
from torch import nn

from monai_sre.networks import convert_to_sre
from monai_sre.networks.layers import SREConv, SREConvTranspose, SymmetricPool
from monai_sre.transforms import apply_grid_symmetry, grid_symmetries

# small 3D versions of the MONAI networks the converter supports: (builder, input size, output is a volume)
MONAI_NETS = {
    "ResNet": (
        lambda: nets.ResNet("basic", [1, 1, 1, 1], [4, 8, 16, 32], n_input_channels=1, num_classes=3),
        17,
        False,
    ),
    "DenseNet121": (
        lambda: nets.DenseNet121(
            spatial_dims=3, in_channels=1, out_channels=3, init_features=8, growth_rate=4, block_config=(2, 2, 2)
        ),
        17,
        False,
    ),
    "SEResNet50": (
        lambda: nets.SEResNet50(spatial_dims=3, in_channels=1, num_classes=3, layers=(1, 1, 1, 1)),
        17,
        False,
    ),
    "SegResNet": (
        lambda: nets.SegResNet(
            spatial_dims=3, in_channels=1, out_channels=2, init_filters=8, blocks_down=(1, 1, 1), blocks_up=(1, 1)
        ),
        16,
        True,
    ),
    "BasicUNet": (
        lambda: nets.BasicUNet(spatial_dims=3, in_channels=1, out_channels=2, features=(4, 4, 8, 8, 16, 4)),
        32,
        True,
    ),
    "UNet": (
        lambda: nets.UNet(
            spatial_dims=3, in_channels=1, out_channels=2, channels=(4, 8, 16), strides=(2, 2), num_res_units=1
        ),
        16,
        True,
    ),
}


def _relative_symmetry_error(model: nn.Module, x: torch.Tensor, volume_output: bool, elements) -> float:
    with torch.no_grad():
        batch = torch.cat([apply_grid_symmetry(x, e) for e in elements])
        out = model(batch)
        reference = model(x)
        expected = torch.cat([apply_grid_symmetry(reference, e) if volume_output else reference for e in elements])
    return float((out - expected).abs().max() / expected.abs().max())


@pytest.mark.parametrize("name", list(MONAI_NETS))
def test_monai_networks_convert_keep_shapes_train_and_become_exactly_symmetric(name):
    torch.manual_seed(0)
    build, size, volume_output = MONAI_NETS[name]
    original = build()
    converted, report = convert_to_sre(original)
    assert converted is not original and report.replaced and report.params_after < report.params_before
    assert any(isinstance(m, (SREConv, SREConvTranspose)) for m in converted.modules())
    assert not any(type(m) in (nn.Conv3d, nn.ConvTranspose3d) and max(m.kernel_size) > 1 for m in converted.modules())
    x = torch.randn(2, 1, size, size, size)
    assert converted.eval()(x).shape == original.eval()(x).shape

    converted.train().zero_grad()
    out = converted(x)
    (out[0] if isinstance(out, (list, tuple)) else out).square().mean().backward()
    missing = [n for n, p in converted.named_parameters() if p.grad is None]
    assert not missing, missing

    converted.eval()
    elements = grid_symmetries(3)
    assert _relative_symmetry_error(converted, x[:1], volume_output, elements) < 1e-4
    assert _relative_symmetry_error(original.eval(), x[:1], volume_output, elements) > 1e-2  # the test can fail


def test_plain_2d_torch_model_and_report():
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(3, 2, 1),
        nn.Conv2d(4, 8, 5, stride=2, padding=2, bias=False),
        nn.Conv2d(8, 8, 1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 2),
    )
    converted, report = convert_to_sre(model)
    assert isinstance(converted[0], SREConv) and isinstance(converted[2], SymmetricPool)
    assert isinstance(converted[3], nn.Sequential) and isinstance(converted[3][1], SREConv)
    assert converted[3][1].stride == (1, 1) and converted[4] is not model[4]
    assert [name for name, _, _ in report.replaced] == ["0", "2", "3"]
    assert report.skipped == [("4", "1x1 kernel is already symmetric")]
    assert report.params_before == sum(p.numel() for p in model.parameters())
    text = str(report)
    assert "replaced 3 modules" in text and "kept 1 1x1 convolutions: 1x1 kernel is already symmetric" in text
    assert report.to_dict()["params_after"] == sum(p.numel() for p in converted.parameters())
    for size in (15, 16):
        x = torch.randn(1, 1, size, size)
        assert converted(x).shape == model(x).shape
        torch.testing.assert_close(converted(x.flip(-1).transpose(-1, -2)), converted(x), rtol=1e-5, atol=1e-6)


def test_projected_weights_give_the_symmetric_part_of_the_kernel():
    conv = nn.Conv3d(2, 3, 3, padding=1).double()
    with torch.no_grad():  # make the dense kernel symmetric: the conversion must then be lossless
        conv.weight.copy_(SREConv.from_conv(conv).double().dense_weight())
    converted, _ = convert_to_sre(nn.Sequential(conv))
    x = torch.randn(1, 2, 6, 6, 6, dtype=torch.float64)
    torch.testing.assert_close(converted(x), conv(x))
    fresh, _ = convert_to_sre(nn.Sequential(conv), project_weights=False)
    assert not torch.allclose(fresh(x), conv(x))


def test_kernel_size_override_keeps_shapes_and_num_bands_passes_through():
    model = nn.Sequential(nn.Conv3d(1, 2, 3, padding=1), nn.Conv3d(2, 2, 5, padding=0))
    converted, _ = convert_to_sre(model, kernel_size=5, num_bands=2)
    assert converted[0].kernel_size == (5, 5, 5) and converted[0].padding == (2, 2, 2)
    assert converted[1].num_bands == 2
    x = torch.randn(1, 1, 9, 9, 9)
    assert converted(x).shape == model(x).shape


def test_stride_policy_keep_skip_patterns_inplace_and_even_kernels():
    model = nn.Sequential(nn.Conv3d(1, 2, 3, stride=2, padding=1), nn.Conv3d(2, 2, 2), nn.Conv3d(2, 2, 3, padding=1))
    kept, report = convert_to_sre(model, stride_policy="keep", skip=["2"])
    assert isinstance(kept[0], SREConv) and kept[0].stride == (2, 2, 2)
    assert type(kept[1]) is nn.Conv3d and type(kept[2]) is nn.Conv3d
    reasons = dict(report.skipped)
    assert "even kernel" in reasons["1"] and reasons["2"] == "matches skip"
    same, _ = convert_to_sre(model, inplace=True)
    assert same is model and isinstance(model[0], nn.Sequential)


def test_strided_conv_without_same_padding_is_kept_with_a_reason():
    model = nn.Sequential(nn.Conv3d(1, 2, 3, stride=2, padding=0))
    converted, report = convert_to_sre(model)
    assert type(converted[0]) is nn.Conv3d
    assert "symmetric pooling cannot give its output shape" in report.skipped[0][1]


def test_a_single_conv_converts_and_bad_arguments_raise():
    converted, report = convert_to_sre(nn.Conv2d(1, 1, 3, padding=1))
    assert isinstance(converted, SREConv) and report.replaced[0][0] == "(model)"
    with pytest.raises(ValueError, match="model must be a torch.nn.Module, got int"):
        convert_to_sre(3)
    with pytest.raises(
        ValueError, match=r"kernel_size must be an odd positive int \(a kernel with a centre tap\), got 4"
    ):
        convert_to_sre(nn.Conv2d(1, 1, 3), kernel_size=4)
    with pytest.raises(ValueError, match=r"every entry of kernel_size \(3, 4\) must be an odd positive int"):
        convert_to_sre(nn.Conv2d(1, 1, 3), kernel_size=(3, 4))
    with pytest.raises(ValueError, match="stride_policy|drop"):
        convert_to_sre(nn.Conv2d(1, 1, 3), stride_policy="drop")


def test_growing_the_kernel_keeps_a_symmetric_kernel_s_function():
    """A symmetric 3^3 kernel zero-padded to 5^3 falls into the k=5 bands exactly (the outer band averages to 0)."""
    conv = nn.Conv3d(2, 3, 3, padding=1).double()
    with torch.no_grad():
        conv.weight.copy_(SREConv.from_conv(conv).double().dense_weight())
    converted, _ = convert_to_sre(nn.Sequential(conv), kernel_size=5)
    assert converted[0].kernel_size == (5, 5, 5)
    x = torch.randn(1, 2, 7, 7, 7, dtype=torch.float64)
    torch.testing.assert_close(converted(x), conv(x))


def test_subclasses_of_torch_pools_convert():
    """The pool's dimension came from its class name: `MyPool` failed with "invalid literal for int(): 'o'"."""

    class MyPool(nn.MaxPool3d):
        pass

    class Downsample(nn.AvgPool2d):
        pass

    converted, report = convert_to_sre(nn.Sequential(MyPool(2), Downsample(3, 2, 1)))
    assert isinstance(converted[0], SymmetricPool) and converted[0].spatial_dims == 3
    assert (converted[0].mode, converted[0].ceil) == ("max", False)
    assert isinstance(converted[1], SymmetricPool) and converted[1].spatial_dims == 2
    assert (converted[1].mode, converted[1].ceil) == ("avg", True)
    assert [name for name, _, _ in report.replaced] == ["0", "1"]
    x = torch.randn(1, 1, 9, 9, 9)
    assert converted[0](x).shape == MyPool(2)(x).shape


def test_same_padding_and_even_kernels_keep_their_behaviour():
    model = nn.Sequential(
        nn.Conv3d(1, 2, 3, padding="same", dilation=2),
        nn.Conv3d(2, 2, 4, padding="same"),  # even kernel: kept, with its reason
        nn.Conv1d(2, 2, (2,), padding="same", dilation=3),
    )
    converted, report = convert_to_sre(model)
    assert isinstance(converted[0], SREConv) and converted[0].padding == (2, 2, 2)
    assert type(converted[1]) is nn.Conv3d and type(converted[2]) is nn.Conv1d
    assert "even kernel (4, 4, 4) has no centre tap" in dict(report.skipped)["1"]


def test_kernel_size_of_the_wrong_length_names_the_layer_and_the_value():
    with pytest.raises(ValueError, match=r"kernel_size must be an odd int or 2 odd ints for '0', got \(3, 5, 7\)"):
        convert_to_sre(nn.Sequential(nn.Conv2d(1, 1, 3, padding=1)), kernel_size=(3, 5, 7))

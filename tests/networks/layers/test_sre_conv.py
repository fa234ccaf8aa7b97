from __future__ import annotations

import inspect
import io
import math

import numpy as np
import pytest
import torch
from monai.networks.layers import Conv
from torch import nn

from monai_sre.networks.layers import (
    SREConv,
    SREConv1d,
    SREConv2d,
    SREConv3d,
    SREConvTranspose,
    SREConvTranspose1d,
    SREConvTranspose2d,
    SREConvTranspose3d,
)
from monai_sre.transforms import apply_grid_symmetry, grid_symmetries
from tests.conftest import TOLERANCES

SIZES = {1: (11,), 2: (9, 9), 3: (7, 7, 7)}


def _layer(transposed: bool, spatial_dims: int, *args, **kwargs):
    return (SREConvTranspose if transposed else SREConv)(spatial_dims, *args, **kwargs)


# to_dense parity: (transposed, spatial_dims, in, out, kwargs)
DENSE_CASES = [
    (False, 1, 3, 4, dict(kernel_size=5)),
    (False, 2, 4, 6, dict(kernel_size=3, stride=2, padding=0, bias=False)),
    (False, 2, 4, 6, dict(kernel_size=5, dilation=2, groups=2)),
    (False, 3, 2, 3, dict(kernel_size=3)),
    (False, 3, 4, 4, dict(kernel_size=5, stride=(1, 2, 1), padding=1, groups=4)),
    (False, 3, 2, 2, dict(kernel_size=(3, 5, 3), dilation=(1, 2, 1), padding_mode="reflect")),
    (False, 3, 2, 2, dict(kernel_size=3, padding_mode="circular", band_layout="shell")),
    (False, 3, 2, 3, dict(kernel_size=7, padding="valid", padding_mode="replicate", num_bands=2)),
    (True, 1, 3, 2, dict(kernel_size=3, stride=2, output_padding=1)),
    (True, 2, 4, 2, dict(kernel_size=5, groups=2, bias=False)),
    (True, 3, 2, 4, dict(kernel_size=3, stride=2, output_padding=1)),
    (True, 3, 4, 2, dict(kernel_size=5, dilation=2, padding=0, spacing=(1, 1, 2))),
]


@pytest.mark.parametrize("transposed, spatial_dims, cin, cout, kwargs", DENSE_CASES)
@pytest.mark.parametrize("train", [True, False])
def test_to_dense_computes_the_same_function(transposed, spatial_dims, cin, cout, kwargs, train):
    layer = _layer(transposed, spatial_dims, cin, cout, **kwargs).train(train)
    dense = layer.to_dense().train(train)
    expected_type = (
        (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
        if transposed
        else (nn.Conv1d, nn.Conv2d, nn.Conv3d)
    )
    assert type(dense) is expected_type[spatial_dims - 1]
    x = torch.randn(2, cin, *SIZES[spatial_dims])
    torch.testing.assert_close(layer(x), dense(x), **TOLERANCES[torch.float32])


def test_dense_weight_ties_taps_of_one_band_and_zeroes_the_corners():
    layer = SREConv(3, 2, 3, kernel_size=5)
    dense = layer.dense_weight().detach().reshape(3, 2, -1)
    for band in range(layer.num_bands):
        taps = dense[..., layer.bands.band_index == band]
        torch.testing.assert_close(taps, layer.weight[..., band : band + 1].detach().expand_as(taps))
    assert (dense[..., layer.bands.band_index == -1] == 0).all()


EQUIVARIANCE_CASES = [
    (False, 1, dict(kernel_size=5)),
    (False, 2, dict(kernel_size=5, groups=2)),
    (False, 2, dict(kernel_size=3, padding_mode="reflect", band_layout="shell")),
    (False, 3, dict(kernel_size=3)),
    (False, 3, dict(kernel_size=5, dilation=2, padding_mode="circular")),
    (False, 3, dict(kernel_size=7, padding="valid", band_layout="integer")),
    (True, 2, dict(kernel_size=5)),
    (True, 3, dict(kernel_size=3)),
    (True, 3, dict(kernel_size=5, padding=0, groups=2)),
]


@pytest.mark.parametrize("transposed, spatial_dims, kwargs", EQUIVARIANCE_CASES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_exact_equivariance_under_every_grid_symmetry(transposed, spatial_dims, kwargs, dtype):
    layer = _layer(transposed, spatial_dims, 2, 4, dtype=dtype, **kwargs).eval()
    x = torch.randn(2, 2, *SIZES[spatial_dims], dtype=dtype)
    elements = grid_symmetries(spatial_dims)
    assert len(elements) == {1: 2, 2: 8, 3: 48}[spatial_dims]
    with torch.no_grad():
        y = layer(x)
        for element in elements:
            torch.testing.assert_close(
                layer(apply_grid_symmetry(x, element)), apply_grid_symmetry(y, element), **TOLERANCES[dtype]
            )


def test_a_dense_conv_is_not_equivariant():
    """The equivariance test can fail: a random dense kernel breaks it."""
    dense = nn.Conv3d(2, 4, 3, padding=1).double()
    x = torch.randn(1, 2, 7, 7, 7, dtype=torch.float64)
    element = grid_symmetries(3)[9]
    with torch.no_grad():
        assert not torch.allclose(dense(apply_grid_symmetry(x, element)), apply_grid_symmetry(dense(x), element))


def test_anisotropic_spacing_keeps_the_symmetries_of_the_voxel():
    layer = SREConv(3, 1, 2, kernel_size=(5, 5, 3), spacing=(1.0, 1.0, 2.0), band_layout="shell").double()
    x = torch.randn(1, 1, 7, 7, 5, dtype=torch.float64)
    in_plane = [e for e in grid_symmetries(3) if e.permutation[2] == 2]
    assert len(in_plane) == 16  # 2 in-plane permutations x 8 flip patterns
    with torch.no_grad():
        y = layer(x)
        for element in in_plane:
            torch.testing.assert_close(
                layer(apply_grid_symmetry(x, element)), apply_grid_symmetry(y, element), **TOLERANCES[torch.float64]
            )


@pytest.mark.parametrize("transposed", [False, True])
def test_state_dict_holds_only_learnable_tensors_and_round_trips(transposed):
    source = _layer(transposed, 3, 2, 4, kernel_size=5)
    state = source.state_dict()
    assert sorted(state) == ["bias", "weight"]  # the band basis is derived, not saved
    for train in (True, False):
        target = _layer(transposed, 3, 2, 4, kernel_size=5).train(train)
        target.load_state_dict(state)
        x = torch.randn(1, 2, 6, 6, 6)
        torch.testing.assert_close(target(x), source(x))


def test_outputs_follow_the_weights_in_eval_mode():
    """No stale cache: load_state_dict, an optimizer step and in-place edits all show in eval-mode outputs."""
    layer = SREConv(3, 2, 2, kernel_size=3).eval()
    x = torch.randn(1, 2, 5, 5, 5)
    before = layer(x).detach()
    other = SREConv(3, 2, 2, kernel_size=3)
    layer.load_state_dict(other.state_dict())
    torch.testing.assert_close(layer(x), other(x))
    assert not torch.allclose(layer(x), before)

    optimizer = torch.optim.SGD(layer.parameters(), lr=0.5)
    layer.train()
    layer(x).square().sum().backward()
    optimizer.step()
    layer.eval()
    torch.testing.assert_close(layer(x), layer.to_dense()(x))
    assert not torch.allclose(layer(x), other(x))


def test_to_changes_dtype_of_weights_and_band_basis():
    layer = SREConv(2, 1, 2, kernel_size=3).to(torch.float64)
    assert layer.weight.dtype == layer.band_basis.dtype == torch.float64
    assert layer(torch.randn(1, 1, 6, 6, dtype=torch.float64)).dtype == torch.float64


@pytest.mark.parametrize("transposed", [False, True])
def test_every_parameter_receives_a_gradient(transposed):
    layer = _layer(transposed, 3, 2, 3, kernel_size=5)
    layer(torch.randn(2, 2, 6, 6, 6)).square().mean().backward()
    for name, parameter in layer.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_initialisation_uses_the_dense_fan_in():
    layer = SREConv(3, 8, 64, kernel_size=5, groups=2)
    bound = 1 / math.sqrt(4 * 125)
    assert layer.weight.abs().max() <= bound and layer.weight.abs().max() > 0.9 * bound
    assert layer.bias.abs().max() <= bound
    transposed = SREConvTranspose(3, 64, 8, kernel_size=3)
    assert transposed.weight.abs().max() <= 1 / math.sqrt(8 * 27)


@pytest.mark.parametrize("transposed", [False, True])
def test_torchscript_round_trip(transposed):
    layer = _layer(transposed, 3, 2, 3, kernel_size=3, stride=2, **({"output_padding": 1} if transposed else {}))
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(layer), buffer)
    buffer.seek(0)
    loaded = torch.jit.load(buffer)
    x = torch.randn(1, 2, 6, 6, 6)
    torch.testing.assert_close(loaded(x), layer(x))


def test_torchscript_with_padding_mode():
    layer = SREConv(2, 2, 3, kernel_size=5, padding_mode="reflect")
    x = torch.randn(1, 2, 8, 8)
    torch.testing.assert_close(torch.jit.script(layer)(x), layer(x))


@pytest.mark.parametrize("transposed", [False, True])
def test_torch_export_round_trip(transposed, tmp_path):
    layer = _layer(transposed, 3, 2, 3, kernel_size=5).eval()
    x = torch.randn(2, 2, 6, 6, 6)
    program = torch.export.export(layer, (x,))
    torch.export.save(program, tmp_path / "layer.pt2")
    loaded = torch.export.load(tmp_path / "layer.pt2").module()
    torch.testing.assert_close(loaded(x), layer(x))


@pytest.mark.parametrize("transposed", [False, True])
def test_from_conv_of_a_symmetric_kernel_is_lossless(transposed):
    layer = _layer(transposed, 3, 2, 4, kernel_size=5)
    rebuilt = type(layer).from_conv(layer.to_dense())
    torch.testing.assert_close(rebuilt.weight, layer.weight)
    torch.testing.assert_close(rebuilt.bias, layer.bias)
    x = torch.randn(1, 2, 6, 6, 6)
    torch.testing.assert_close(rebuilt(x), layer(x))


def test_from_conv_projects_a_random_kernel_onto_the_least_squares_optimum():
    conv = nn.Conv2d(3, 2, 5, padding="same", padding_mode="replicate", dilation=2).double()
    layer = SREConv.from_conv(conv)
    assert (layer.padding, layer.dilation, layer.padding_mode) == ((4, 4), (2, 2), "replicate")
    basis = layer.bands.basis()  # (bands, taps)
    dense = conv.weight.detach().numpy().reshape(-1, basis.shape[1])
    optimum = np.linalg.lstsq(basis.T, dense.T, rcond=None)[0].T
    np.testing.assert_allclose(layer.weight.detach().numpy().reshape(-1, layer.num_bands), optimum, atol=1e-12)
    torch.testing.assert_close(layer.bias, conv.bias)


def test_from_conv_without_projection_keeps_geometry_only():
    conv = nn.Conv3d(2, 4, 3, stride=2, bias=False)
    layer = SREConv.from_conv(conv, project=False, num_bands=1)
    assert (layer.stride, layer.padding, layer.num_bands, layer.bias) == ((2, 2, 2), (0, 0, 0), 1, None)


def test_from_conv_rejects_the_wrong_kind_of_conv():
    with pytest.raises(ValueError, match="expects one of ConvTranspose1d.*got Conv3d"):
        SREConvTranspose.from_conv(nn.Conv3d(1, 1, 3))
    with pytest.raises(ValueError, match="expects one of Conv1d.*got Linear"):
        SREConv.from_conv(nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"kernel_size must be odd .* got \(2, 2\)"):
        SREConv.from_conv(nn.Conv2d(1, 1, 2))


def test_fixed_dimension_aliases_are_called_like_torch_convs():
    assert SREConv3d(2, 4, 3).spatial_dims == 3
    assert SREConv2d(2, 4, kernel_size=3, stride=2).stride == (2, 2)
    assert SREConv1d(2, 4, 3)(torch.randn(1, 2, 9)).shape == (1, 4, 9)
    up = SREConvTranspose3d(4, 2, 3, stride=2, padding=1, output_padding=1)
    assert up(torch.randn(1, 4, 4, 4, 4)).shape == (1, 2, 8, 8, 8)
    assert isinstance(SREConvTranspose2d(2, 2, 3), SREConvTranspose)


def test_same_padding_keeps_the_size():
    for k, dilation in ((3, 1), (5, 1), (5, 3), (9, 2)):
        assert SREConv(3, 1, 1, k, dilation=dilation)(torch.randn(1, 1, 8, 9, 10)).shape == (1, 1, 8, 9, 10)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(spatial_dims=3, in_channels=2, out_channels=2, kernel_size=4),
            r"kernel_size must be odd .* got \(4, 4, 4\)",
        ),
        (dict(spatial_dims=0, in_channels=2, out_channels=2, kernel_size=3), "spatial_dims must be 1, 2 or 3, got 0"),
        (
            dict(spatial_dims=3, in_channels=3, out_channels=2, kernel_size=3, groups=2),
            r"groups must .* dividing in_channels \(3\) .* got 2",
        ),
        (
            dict(spatial_dims=3, in_channels=0, out_channels=2, kernel_size=3),
            "in_channels must be a positive int, got 0",
        ),
        (
            dict(spatial_dims=3, in_channels=2, out_channels=2, kernel_size=3, num_bands=0),
            "num_bands must be between 1 and 3 .* got 0",
        ),
        (
            dict(spatial_dims=3, in_channels=2, out_channels=2, kernel_size=3, num_bands=9),
            "num_bands must be between 1 and 3 .* got 9",
        ),
        (
            dict(spatial_dims=3, in_channels=2, out_channels=2, kernel_size=3, spacing=(1, 2)),
            r"spacing must .* got \(1, 2\)",
        ),
        (dict(spatial_dims=3, in_channels=2, out_channels=2, kernel_size=3, padding_mode="mirror"), "mirror"),
        (dict(spatial_dims=3, in_channels=2, out_channels=2, kernel_size=3, band_layout="radial"), "radial"),
        (
            dict(spatial_dims=3, in_channels=2, out_channels=2, kernel_size=3, padding="full"),
            "padding must be None, 'same', 'valid'.*got 'full'",
        ),
        (
            dict(spatial_dims=3, in_channels=2, out_channels=2, kernel_size=3, stride=0),
            "stride must be an int >= 1 .* got 0",
        ),
        (
            dict(spatial_dims=2, in_channels=2, out_channels=2, kernel_size=3, dilation=(1, 1, 1)),
            r"dilation must be .* got \(1, 1, 1\)",
        ),
    ],
)
def test_bad_arguments_raise_value_errors_naming_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SREConv(**kwargs)


def test_transposed_bad_arguments():
    with pytest.raises(ValueError, match="supports only padding_mode 'zeros', got 'reflect'"):
        SREConvTranspose(3, 2, 2, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="output_padding must be smaller than stride or dilation"):
        SREConvTranspose(3, 2, 2, 3, stride=2, output_padding=2)


def test_bad_input_shape_names_the_shape():
    with pytest.raises(ValueError, match=r"SREConv expected \(batch, 2 channels, D, H, W\), got shape \[2, 5, 5, 5\]"):
        SREConv(3, 2, 2, 3)(torch.randn(2, 5, 5, 5))
    with pytest.raises(ValueError, match=r"got shape \[1, 3, 5, 5, 5\]: 3 channels\."):
        SREConv(3, 2, 2, 3)(torch.randn(1, 3, 5, 5, 5))


def test_repr_names_the_band_layout():
    text = repr(SREConv(3, 2, 4, 5, band_layout="integer", spacing=(1, 1, 2), stride=2, bias=False))
    for part in (
        "spatial_dims=3",
        "kernel_size=(5, 5, 5)",
        "num_bands=3",
        "band_layout='integer'",
        "spacing=(1.0, 1.0, 2.0)",
        "stride=(2, 2, 2)",
        "bias=False",
    ):
        assert part in text


def test_from_conv_overrides_geometry_and_refuses_to_project_a_different_kernel_size():
    conv = nn.Conv3d(2, 4, 3, padding=1, stride=2)
    layer = SREConv.from_conv(conv, project=False, stride=1, kernel_size=5, padding=2, band_layout="shell")
    assert (layer.stride, layer.kernel_size, layer.padding, layer.bands.band_layout) == (
        (1, 1, 1),
        (5, 5, 5),
        (2, 2, 2),
        "shell",
    )
    with pytest.raises(
        ValueError, match=r"project=True needs the dense kernel size \(3, 3, 3\), got kernel_size \(5, 5, 5\)"
    ):
        SREConv.from_conv(conv, kernel_size=5)


BAND_PATH_CASES = [
    (1, dict(kernel_size=7)),
    (2, dict(kernel_size=5, groups=2)),
    (2, dict(kernel_size=(3, 5), dilation=2, band_layout="shell")),
    (3, dict(kernel_size=3)),
    (3, dict(kernel_size=5, groups=2, bias=False)),
    (3, dict(kernel_size=7, dilation=(1, 2, 1), spacing=(1, 1, 2))),
]


@pytest.mark.parametrize("spatial_dims, kwargs", BAND_PATH_CASES)
def test_band_path_equals_the_dense_path_forward_and_backward(spatial_dims, kwargs):
    bands = SREConv(spatial_dims, 4, 6, path="bands", dtype=torch.float64, **kwargs)
    dense = SREConv(spatial_dims, 4, 6, path="dense", dtype=torch.float64, **kwargs)
    dense.load_state_dict(bands.state_dict())
    x = torch.randn(2, 4, *SIZES[spatial_dims], dtype=torch.float64, requires_grad=True)
    assert bands.uses_band_path(x) and not dense.uses_band_path(x)
    y_bands, y_dense = bands(x), dense(x)
    torch.testing.assert_close(y_bands, y_dense, **TOLERANCES[torch.float64])
    grads_bands = torch.autograd.grad(y_bands.square().sum(), [x, *bands.parameters()])
    grads_dense = torch.autograd.grad(y_dense.square().sum(), [x, *dense.parameters()])
    for a, b in zip(grads_bands, grads_dense):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-9)


def test_band_path_is_selected_automatically_where_it_wins():
    x = torch.randn(1, 2, 7, 7, 7)
    assert SREConv(3, 2, 2, 5).uses_band_path(x) and SREConv(3, 2, 2, 7).uses_band_path(x)
    assert not SREConv(3, 2, 2, 3).uses_band_path(x)  # k=3: the dense convolution is as fast
    assert not SREConv(3, 2, 2, 5, stride=2).uses_band_path(x)  # strided, padded otherwise: dense only
    assert not SREConv(3, 2, 2, 5, padding_mode="reflect").uses_band_path(x)
    assert "path='dense'" in repr(SREConv(3, 2, 2, 5, path="dense"))
    layer = SREConv(3, 2, 3, 5)
    torch.testing.assert_close(torch.jit.script(layer)(x), layer(x))  # TorchScript runs the dense path


def test_band_path_refuses_layers_it_cannot_serve():
    with pytest.raises(ValueError, match=r"path='bands' needs .* got SREConv stride=\(2, 2, 2\)"):
        SREConv(3, 2, 2, 5, stride=2, path="bands")
    with pytest.raises(ValueError, match="padding_mode='circular'"):
        SREConv(3, 2, 2, 5, padding_mode="circular", path="bands")
    with pytest.raises(ValueError, match="sparse"):
        SREConv(3, 2, 2, 5, path="sparse")


# from_conv on every class: (SRE class, dense convolution it takes)
FROM_CONV_CASES = [
    (SREConv, nn.Conv1d(2, 4, 5, padding=2)),
    (SREConv, nn.Conv2d(2, 4, 3, padding="same", dilation=2)),
    (SREConv, nn.Conv3d(2, 4, 3)),
    (SREConvTranspose, nn.ConvTranspose3d(2, 4, 3, stride=2, output_padding=1)),
    (SREConv1d, nn.Conv1d(2, 4, 3, stride=2)),
    (SREConv2d, nn.Conv2d(2, 4, 5, padding=2, groups=2, bias=False)),
    (SREConv3d, nn.Conv3d(2, 4, 3)),  # raised "got multiple values for argument 'kernel_size'"
    (SREConvTranspose1d, nn.ConvTranspose1d(2, 4, 3)),
    (SREConvTranspose2d, nn.ConvTranspose2d(2, 4, 3, stride=2, padding=1, output_padding=1)),
    (SREConvTranspose3d, nn.ConvTranspose3d(2, 4, 5, padding=2)),
]


@pytest.mark.parametrize(
    "cls, conv", FROM_CONV_CASES, ids=lambda v: type(v).__name__ if isinstance(v, nn.Module) else v.__name__
)
def test_from_conv_builds_every_class_with_the_dense_geometry(cls, conv):
    layer = cls.from_conv(conv)
    spatial_dims = len(conv.kernel_size)
    assert type(layer) is cls and layer.spatial_dims == spatial_dims
    assert (layer.kernel_size, layer.stride, layer.dilation, layer.groups) == (
        conv.kernel_size,
        conv.stride,
        conv.dilation,
        conv.groups,
    )
    torch.testing.assert_close(layer.weight, layer.project_dense_weight(conv.weight))
    # lossless round trip through the dense layer, on the same class
    rebuilt = cls.from_conv(layer.to_dense())
    assert type(rebuilt) is cls
    x = torch.randn(1, 2, *SIZES[spatial_dims])
    torch.testing.assert_close(rebuilt(x), layer(x))
    torch.testing.assert_close(layer(x), layer.to_dense()(x), **TOLERANCES[torch.float32])


@pytest.mark.parametrize(
    "cls, conv, message",
    [
        (SREConv3d, nn.Conv2d(2, 4, 3), "SREConv3d.from_conv expects Conv3d, got Conv2d"),
        (SREConv1d, nn.Conv3d(2, 4, 3), "SREConv1d.from_conv expects Conv1d, got Conv3d"),
        (SREConvTranspose2d, nn.ConvTranspose3d(2, 4, 3), "expects ConvTranspose2d, got ConvTranspose3d"),
        (SREConvTranspose3d, nn.Conv3d(2, 4, 3), "expects ConvTranspose3d, got Conv3d"),
        (SREConv, nn.ConvTranspose2d(2, 4, 3), "expects one of Conv1d, Conv2d, Conv3d, got ConvTranspose2d"),
    ],
)
def test_from_conv_rejects_a_dense_conv_of_the_wrong_dimension_or_kind(cls, conv, message):
    with pytest.raises(ValueError, match=message):
        cls.from_conv(conv)


def test_from_conv_takes_spatial_dims_from_the_dense_layer():
    with pytest.raises(ValueError, match=r"spatial_dims from the dense layer \(3\), got the override spatial_dims=2"):
        SREConv.from_conv(nn.Conv3d(2, 4, 3), spatial_dims=2)
    with pytest.raises(ValueError, match="spatial_dims=3"):
        SREConv3d.from_conv(nn.Conv3d(2, 4, 3), spatial_dims=3)


def test_from_conv_of_a_subclass_of_a_torch_conv():
    class MyConv(nn.Conv3d):
        pass

    assert type(SREConv3d.from_conv(MyConv(2, 4, 3))) is SREConv3d
    assert SREConv.from_conv(MyConv(2, 4, 3)).spatial_dims == 3


CONV_PARAMETERS = ["in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias"]


@pytest.mark.parametrize(
    "cls", [SREConv1d, SREConv2d, SREConv3d, SREConvTranspose1d, SREConvTranspose2d, SREConvTranspose3d]
)
def test_fixed_dimension_classes_have_real_signatures(cls):
    parameters = inspect.signature(cls).parameters
    assert all(p.kind is not inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    assert "spatial_dims" not in parameters
    expected = list(CONV_PARAMETERS)
    if issubclass(cls, SREConvTranspose):
        expected.insert(5, "output_padding")  # where nn.ConvTranspose3d has it
    assert [name for name in parameters if name in expected] == expected
    assert list(parameters)[:3] == ["in_channels", "out_channels", "kernel_size"]
    dims = int(cls.__name__[-2])
    assert Conv["sretrans" if issubclass(cls, SREConvTranspose) else "sre", dims] is cls
    assert cls.__doc__ and f"spatial_dims={dims}" in cls.__doc__
    layer = cls(2, 4, 3, stride=1, padding=1)
    assert layer.spatial_dims == dims and isinstance(
        layer, SREConvTranspose if "Transpose" in cls.__name__ else SREConv
    )
    x = torch.randn(1, 2, *SIZES[dims])
    torch.testing.assert_close(torch.jit.script(layer)(x), layer(x))


def test_generic_classes_take_spatial_dims_first():
    for cls in (SREConv, SREConvTranspose):
        assert list(inspect.signature(cls).parameters)[:4] == [
            "spatial_dims",
            "in_channels",
            "out_channels",
            "kernel_size",
        ]


@pytest.mark.parametrize("spatial_dims, kwargs", BAND_PATH_CASES)
def test_second_derivatives_of_the_band_path_equal_the_dense_path(spatial_dims, kwargs):
    """A gradient penalty (double backward) through the band path; band pooling was once_differentiable."""
    bands = SREConv(spatial_dims, 2, 4, path="bands", dtype=torch.float64, **kwargs)
    dense = SREConv(spatial_dims, 2, 4, path="dense", dtype=torch.float64, **kwargs)
    dense.load_state_dict(bands.state_dict())
    x = torch.randn(1, 2, *SIZES[spatial_dims], dtype=torch.float64, requires_grad=True)
    results = []
    for layer in (bands, dense):
        (grad_x,) = torch.autograd.grad(layer(x).square().sum(), x, create_graph=True)
        penalty = grad_x.square().sum()
        results.append((penalty, *torch.autograd.grad(penalty, [x, *layer.parameters()])))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-9)


def test_path_can_be_switched_after_construction():
    x = torch.randn(1, 2, 7, 7, 7, dtype=torch.float64)
    layer = SREConv(3, 2, 3, 3, path="dense", dtype=torch.float64)
    expected = layer(x)
    layer.path = "bands"  # was silently ignored: the band offsets were only computed at construction
    assert layer.path == "bands" and layer.uses_band_path(x)
    assert "path='bands'" in repr(layer)
    torch.testing.assert_close(layer(x), expected, **TOLERANCES[torch.float64])
    layer.path = "dense"
    assert not layer.uses_band_path(x)
    auto = SREConv(3, 2, 3, 5)
    assert auto.uses_band_path(x)
    auto.path = "dense"
    assert not auto.uses_band_path(x)
    auto.path = "auto"
    assert auto.uses_band_path(x)


def test_path_assignment_is_validated_like_the_constructor_argument():
    layer = SREConv(3, 2, 2, 5)
    with pytest.raises(ValueError, match="sparse"):
        layer.path = "sparse"
    strided = SREConv(3, 2, 2, 5, stride=2, path="dense")
    with pytest.raises(ValueError, match=r"path='bands' needs .* got SREConv stride=\(2, 2, 2\)"):
        strided.path = "bands"
    assert strided.path == "dense"
    transposed = SREConvTranspose3d(2, 2, 3)
    with pytest.raises(ValueError, match="path='bands' needs a non-transposed conv"):
        transposed.path = "bands"
    transposed.path = "auto"
    assert not transposed.uses_band_path(torch.randn(1, 2, 5, 5, 5))


@pytest.mark.parametrize("path", ["auto", "bands"])
def test_traced_band_path_layer_saves_and_loads(path):
    """``jit.trace`` of a k >= 5 layer on the CPU used to record the band path as a Python call
    (``BandConvolution``), and ``jit.save`` failed: "Could not export Python function call". Tracing records the
    dense kernel instead."""
    layer = SREConv(3, 2, 4, kernel_size=5, path=path).eval()
    x = torch.randn(2, 2, 7, 7, 7)
    assert layer.uses_band_path(x)
    traced = torch.jit.trace(layer, x)
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer)
    buffer.seek(0)
    with torch.no_grad():
        torch.testing.assert_close(torch.jit.load(buffer)(x), layer(x), **TOLERANCES[torch.float32])


@pytest.mark.parametrize("path", ["dense", "bands"])
def test_empty_batch(path):
    """The band path used to fail on an empty batch (``range() arg 3 must not be zero``)."""
    layer = SREConv(3, 2, 4, kernel_size=5, path=path)
    x = torch.randn(0, 2, 6, 6, 6, requires_grad=True)
    out = layer(x)
    assert out.shape == (0, 4, 6, 6, 6)
    out.sum().backward()
    assert x.grad.shape == x.shape


def test_fixed_dimension_constructors_bind_like_written_ones():
    """The fixed-dimension constructors are built from SREConv's: same parameters, bound as Python binds them."""
    with pytest.raises(TypeError, match=r"SREConv3d\(\): missing a required argument: 'kernel_size'"):
        SREConv3d(2, 4)
    with pytest.raises(TypeError, match=r"SREConv3d\(\): got an unexpected keyword argument 'spatial_dims'"):
        SREConv3d(2, 4, 3, spatial_dims=3)
    with pytest.raises(TypeError, match=r"SREConv\(\): got an unexpected keyword argument 'output_padding'"):
        SREConv(3, 2, 4, 3, output_padding=1)
    with pytest.raises(TypeError, match=r"SREConvTranspose2d\(\): got an unexpected keyword argument 'path'"):
        SREConvTranspose2d(2, 4, 3, path="bands")
    with pytest.raises(TypeError, match="too many positional arguments"):
        SREConv1d(*range(1, 17))
    positional = SREConv3d(2, 4, 5, 1, None, 1, 1, False, "reflect", 2, "integer", None, None, torch.float64, "dense")
    assert positional.bias is None and positional.padding_mode == "reflect" and positional.num_bands == 2
    assert positional.path == "dense"
    assert positional.bands.band_layout == "integer" and positional.weight.dtype == torch.float64
    assert SREConvTranspose3d(2, 4, 3).path == "dense" and SREConv3d(2, 4, 3).path == "auto"
    assert inspect.signature(SREConv3d.__init__).parameters["path"].default == "auto"


def test_user_subclasses_keep_their_own_constructors():
    class Wide(SREConv3d):
        def __init__(self, channels: int) -> None:
            super().__init__(channels, 2 * channels, kernel_size=3)

    layer = Wide(2)
    assert (layer.spatial_dims, layer.in_channels, layer.out_channels) == (3, 2, 4)
    assert list(inspect.signature(Wide).parameters) == ["channels"]

from __future__ import annotations

import pytest
import torch
from torch import nn

from monai_sre import create_model
from monai_sre.evaluation import (
    RotationSweep,
    assert_equivariant,
    equivariance_error,
    equivariance_tolerance,
    invariance_error,
    label_agreement,
)
from monai_sre.groups import grid_group
from monai_sre.networks.layers import SREConv
from monai_sre.transforms import apply_grid_symmetry, grid_symmetries


def invariant(y: torch.Tensor, case) -> torch.Tensor:
    """The output action of an invariant function: none."""
    return y


def _perturbed(eps: float, shape) -> nn.Module:
    """Identity plus ``eps`` times a fixed non-symmetric pattern: equivariance error about ``eps``."""
    pattern = torch.randn(shape, generator=torch.Generator().manual_seed(1))

    class Perturbed(nn.Module):
        def forward(self, x):
            return x + eps * pattern.to(x.dtype)

    return Perturbed()


# the measured errors --------------------------------------------------------------------------------------------


def test_sre_layer_is_equivariant_and_a_dense_conv_is_not():
    x = torch.randn(2, 2, 7, 7, 7, dtype=torch.float64)
    assert equivariance_error(SREConv(3, 2, 3, 3).double(), x) < 1e-12
    assert equivariance_error(nn.Conv3d(2, 3, 3, padding=1).double(), x) > 0.1
    per_case = equivariance_error(SREConv(3, 2, 3, 3).double(), x, reduction="none")
    assert len(per_case) == 48 and max(per_case.values()) < 1e-12


def test_interpolated_rotations_and_the_central_ball():
    grid = torch.stack(torch.meshgrid(*[torch.arange(15.0) - 7] * 3, indexing="ij"))
    x = torch.exp(-(grid**2).sum(0) / 10)[None, None].double()  # smooth and centred: interpolation is mild
    layer = SREConv(3, 1, 2, 3).double()
    cases = RotationSweep("paper-trilinear").cases[1:4]
    whole = equivariance_error(layer, x, cases)
    inside = equivariance_error(layer, x, cases, mask_radius=0.6)
    assert inside < whole < 0.2
    assert_equivariant(layer, x, cases, rtol=0.2, mask_radius=0.6)
    with pytest.raises(AssertionError, match="not equivariant under 'x\\+0(30|60|90)'"):
        assert_equivariant(layer, x, cases, mask_radius=0.6)
    with pytest.raises(ValueError, match="median"):
        equivariance_error(layer, x, cases, reduction="median")


def test_invariance_of_an_sre_network_against_a_plain_cnn():
    model = create_model("sre_resnet_light", num_classes=3).eval()
    plain = nn.Sequential(nn.Conv3d(1, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(4, 3)).eval()
    x = torch.randn(2, 1, 13, 13, 13)
    errors = assert_equivariant(model, x, output_transform=invariant)  # all 48 within the float32 tolerance
    assert invariance_error(model, x, reduction="none") == pytest.approx(errors, abs=1e-12)
    assert invariance_error(plain, x) > 1e-3
    with pytest.raises(AssertionError, match="not equivariant under 'flip-"):
        assert_equivariant(plain, x, "flips", output_transform=invariant)
    assert invariance_error(model, x, "flips", reduction="mean") < 1e-5


# assert_equivariant ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_passes_for_equivariant_functions_over_groups_elements_and_protocols(dtype):
    x = torch.randn(2, 2, 7, 7, 7, dtype=dtype)
    layer = SREConv(3, 2, 3, 3).to(dtype)
    errors = assert_equivariant(layer, x)
    assert len(errors) == 48 and max(errors.values()) < equivariance_tolerance(dtype)[0]
    assert len(assert_equivariant(layer, x, "O")) == 24
    assert len(assert_equivariant(layer, x, grid_group("Oh"))) == 48
    elements = grid_symmetries(3)[5:7]
    assert list(assert_equivariant(layer, x, elements)) == [f"grid{e}" for e in elements]
    assert list(assert_equivariant(torch.tanh, x, "flips")) == ["flip-x", "flip-y", "flip-z"]
    planar = torch.randn(1, 1, 6, 6, dtype=dtype)
    assert len(assert_equivariant(SREConv(2, 1, 2, 3).to(dtype), planar, "D4")) == 8


def test_fails_for_a_non_equivariant_function_naming_the_worst_case():
    x = torch.randn(2, 2, 7, 7, 7, dtype=torch.float64)
    conv = nn.Conv3d(2, 3, 3, padding=1).double()
    errors = equivariance_error(conv, x, reduction="none")
    worst = max((e, name) for name, e in errors.items() if name != "grid+x+y+z")
    with pytest.raises(AssertionError) as failure:
        assert_equivariant(conv, x)
    message = str(failure.value)
    assert f"not equivariant under '{worst[1]}': relative error {worst[0]:.3g}" in message
    assert "47 of 48 cases fail" in message and "dtype float64" in message


def test_custom_actions_on_inputs_and_outputs():
    x = torch.randn(1, 1, 6, 6, 6)

    def channel_sum(y):  # (N, C, *spatial) -> (N, *spatial): the output has no channel axis
        return y.sum(1)

    assert_equivariant(channel_sum, x)  # the grid symmetries act on the trailing axes, whatever leads them
    doubled = lambda t, case: 2 * case.apply(t)  # noqa: E731
    assert_equivariant(channel_sum, x, input_transform=doubled, output_transform=doubled)
    with pytest.raises(AssertionError):
        assert_equivariant(channel_sum, x, input_transform=doubled)


@pytest.mark.parametrize(
    "dtype, passing_eps, failing_eps",
    [
        (torch.float64, 1e-12, 1e-7),
        (torch.float32, 1e-6, 1e-2),
        (torch.float16, 1e-3, 0.2),
        (torch.bfloat16, 1e-2, 0.5),
    ],
)
def test_tolerance_follows_the_dtype(dtype, passing_eps, failing_eps):
    x = torch.randn(2, 1, 6, 6, 6).to(dtype)
    assert_equivariant(_perturbed(passing_eps, x.shape), x)
    with pytest.raises(AssertionError, match=f"dtype {str(dtype).replace('torch.', '')}"):
        assert_equivariant(_perturbed(failing_eps, x.shape), x)
    assert_equivariant(_perturbed(failing_eps, x.shape), x, rtol=10 * failing_eps)  # an explicit tolerance wins


def test_default_tolerances_and_the_absolute_floor():
    order = [torch.float64, torch.float32, torch.float16, torch.bfloat16]
    rtols = [equivariance_tolerance(dtype)[0] for dtype in order]
    assert rtols == sorted(rtols) and rtols[0] <= 1e-10 and rtols[1] == pytest.approx(1e-4)
    assert equivariance_tolerance(torch.int64) == (0.0, 0.0)
    x = torch.randn(1, 1, 4, 4, 4, dtype=torch.float64)
    tiny = _perturbed(1e-13, x.shape)
    assert_equivariant(lambda t: 0 * t + tiny(torch.zeros_like(t)), x)  # output ~1e-13: under the float64 atol
    with pytest.raises(AssertionError):
        assert_equivariant(lambda t: 0 * t + tiny(torch.zeros_like(t)), x, atol=0.0)
    exact = lambda t: apply_grid_symmetry(t, grid_symmetries(3)[0])  # noqa: E731
    assert max(assert_equivariant(exact, x.to(torch.int64)).values()) == 0.0  # integers: exact


# segmentation maps ----------------------------------------------------------------------------------------------


class _PerVoxel(nn.Module):
    """3-class logits of each voxel's own intensity: commutes with every grid symmetry and nearest resampling."""

    def forward(self, x):
        return torch.cat([-x, torch.zeros_like(x), x], 1)


class _Masked(_PerVoxel):
    def forward(self, x):
        logits = super().forward(x)
        logits[:, 0, :2] = 1e3  # class 0 in a fixed slab
        return logits


def test_equivariance_error_measures_segmentation_logits():
    x = torch.randn(2, 1, 5, 5, 5, dtype=torch.float64)
    assert equivariance_error(_PerVoxel(), x) == 0.0
    assert equivariance_error(_Masked(), x) > 0.1


def test_label_agreement_of_segmentation_maps():
    x = torch.randn(2, 1, 6, 6, 6)
    assert label_agreement(_PerVoxel(), x) == 1.0
    assert label_agreement(_PerVoxel(), x, "paper", reduction="mean") == 1.0  # nearest, corners left out
    per_case = label_agreement(_Masked(), x, reduction="none")
    assert len(per_case) == 48 and per_case["grid+x+y+z"] == 1.0 and min(per_case.values()) < 0.9
    assert label_agreement(_Masked(), x, reduction="min") == min(per_case.values())
    smooth = label_agreement(_PerVoxel(), x, "haar-3", reduction="none")
    assert all(0.3 < v < 1.0 for v in smooth.values())  # trilinear inputs, nearest labels: close, not exact
    assert label_agreement(lambda v: v - 0.2, torch.randn(1, 1, 4, 4), "D4") == 1.0  # 2D, one binary channel
    with pytest.raises(ValueError, match="max"):
        label_agreement(_PerVoxel(), x, reduction="max")

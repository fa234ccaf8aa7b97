from __future__ import annotations

import pytest
import torch

from monai_sre import deprecation
from monai_sre.groups import apply_group_element, grid_group, kernel_orbits
from monai_sre.networks.layers import GroupFeatureType
from monai_sre.networks.layers.group_conv import GroupConv

SPACES = ["trivial", "regular", "axes", "diagonals", "rotations"]
CASES = [
    (group, a, b)
    for group in ("C4", "D4", "O", "Oh")
    for a in SPACES
    for b in SPACES
    if not (group == "D4" and "rotations" in (a, b))  # D4 has no such action (tests/test_groups.py)
]


def _max_equivariance_error(layer: torch.nn.Module, x: torch.Tensor, group, in_space, out_space) -> float:
    y = layer(x)
    error = 0.0
    for g in range(len(group)):
        moved = layer(apply_group_element(x, group, in_space, g))
        error = max(error, (moved - apply_group_element(y, group, out_space, g)).abs().max().item())
    return error


@pytest.mark.parametrize("group_name, in_space, out_space", CASES)
def test_exactly_equivariant_to_every_element_float64(group_name, in_space, out_space):
    group = grid_group(group_name)
    kernel = 3 if group.spatial_dims == 3 else 5
    layer = GroupConv(group.spatial_dims, 2, 3, kernel, group_name, in_space, out_space).double()
    x = torch.randn(2, 2 * layer.in_orientations, *(7,) * group.spatial_dims, dtype=torch.float64)
    assert _max_equivariance_error(layer, x, group, in_space, out_space) < 1e-10


def test_a_plain_conv_is_not_equivariant_so_the_check_can_fail():
    group = grid_group("O")
    plain = torch.nn.Conv3d(1, 24, 3, padding=1).double()
    x = torch.randn(1, 1, 7, 7, 7, dtype=torch.float64)
    assert _max_equivariance_error(plain, x, group, "trivial", "regular") > 1e-3


@pytest.mark.parametrize(
    "group_name, in_space, out_space, kernel, orbits",
    [
        ("O", "trivial", "regular", 3, 27),  # lifting: one free kernel, rotated
        ("O", "regular", "regular", 3, 24 * 27),  # regular group conv: K[c, c', h](u)
        ("Oh", "regular", "regular", 3, 48 * 27),
        ("Oh", "trivial", "trivial", 3, 4),  # centre, faces, edges, corners
        ("Oh", "trivial", "trivial", 5, 10),
        ("D4", "trivial", "regular", 3, 9),
    ],
)
def test_parameter_count_is_the_number_of_orbits(group_name, in_space, out_space, kernel, orbits):
    group = grid_group(group_name)
    layer = GroupConv(group.spatial_dims, 2, 5, kernel, group_name, in_space, out_space)
    assert layer.num_orbits == orbits == kernel_orbits(group, out_space, in_space, kernel).max() + 1
    assert layer.weight.shape == (5, 2, orbits)


def test_lifting_applies_the_rotated_kernel_for_every_element():
    group = grid_group("O")
    layer = GroupConv(3, 1, 1, 3, "O", "trivial", "regular", bias=False).double()
    dense = layer.dense_weight()  # (24, 1, 3, 3, 3)
    from monai_sre.groups import apply_grid_symmetry

    for g, element in enumerate(group.elements):
        assert torch.equal(dense[g, 0], apply_grid_symmetry(dense[0, 0], element))


@pytest.mark.parametrize("in_space, out_space", [("trivial", "regular"), ("axes", "axes"), ("regular", "trivial")])
def test_to_dense_and_export_parity(in_space, out_space, tmp_path):
    layer = GroupConv(3, 2, 3, 3, "O", in_space, out_space, dilation=2).eval()
    x = torch.randn(2, 2 * layer.in_orientations, 9, 9, 9)
    dense = layer.to_dense()
    assert isinstance(dense, torch.nn.Conv3d)
    torch.testing.assert_close(dense(x), layer(x), rtol=1e-5, atol=1e-6)
    exported = torch.export.export(layer, (x,))
    torch.testing.assert_close(exported.module()(x), layer(x), rtol=1e-5, atol=1e-6)
    scripted = torch.jit.script(dense)
    torch.testing.assert_close(scripted(x), layer(x), rtol=1e-5, atol=1e-6)


def test_state_dict_holds_only_weight_and_bias_and_round_trips():
    layer = GroupConv(3, 2, 3, 3, "Oh", "regular", "axes")
    assert set(layer.state_dict()) == {"weight", "bias"}
    other = GroupConv(3, 2, 3, 3, "Oh", "regular", "axes")
    other.load_state_dict(layer.state_dict())
    x = torch.randn(1, 2 * 48, 5, 5, 5)
    assert torch.equal(other(x), layer(x))
    with torch.no_grad():
        layer.weight.add_(1.0)  # no cached kernel: the output follows the weight at once
    assert not torch.equal(other(x), layer(x))


def test_gradients_reach_every_orbit_and_second_order_works():
    layer = GroupConv(2, 1, 2, 3, "D4", "trivial", "regular").double()
    x = torch.randn(1, 1, 6, 6, dtype=torch.float64, requires_grad=True)
    torch.autograd.gradcheck(layer, (x,))
    torch.autograd.gradgradcheck(layer, (x,))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(group="Oq"), "Oq"),
        (dict(group="C4"), "spatial_dims=3"),
        (dict(in_space="spheres"), "spheres"),
        (dict(kernel_size=4), "4"),
        (dict(in_channels=0), "in_channels"),
    ],
)
def test_bad_arguments_raise_naming_the_value(kwargs, match):
    args = dict(spatial_dims=3, in_channels=2, out_channels=2, kernel_size=3) | kwargs
    with pytest.raises(ValueError, match=match):
        GroupConv(**args)


def test_wrong_input_channels_raise_with_the_expected_layout():
    layer = GroupConv(3, 2, 2, 3, "O", "axes", "axes")
    with pytest.raises(
        ValueError, match=r"GroupConv expected \(batch, 2 channels x 3 'axes' orientations of O = 6, D, H, W\)"
    ):
        layer(torch.randn(1, 4, 5, 5, 5))
    with pytest.raises(ValueError, match=r"got shape \[1, 6, 5, 5\]: 2 spatial dims"):
        layer(torch.randn(1, 6, 5, 5))
    with pytest.raises(torch.jit.Error, match="ValueError: GroupConv expected"):  # scripted too
        torch.jit.script(layer)(torch.randn(1, 4, 5, 5, 5))


def test_orientation_counts_and_feature_types():
    layer = GroupConv(3, 2, 5, 3, "Oh", "axes", "regular")
    assert (layer.in_orientations, layer.out_orientations) == (3, 48)
    assert layer.in_type == GroupFeatureType("Oh", "axes", 2) and layer.out_type == GroupFeatureType("Oh", "regular", 5)
    assert layer.out_type.size == 240 and layer(torch.randn(0, 6, 4, 4, 4)).shape == (0, 240, 4, 4, 4)
    assert "axes(3) -> regular(48)" in repr(layer)


def test_old_attribute_names_warn_and_read_the_new_ones(monkeypatch):
    monkeypatch.setattr(deprecation, "_warned", set())
    layer = GroupConv(3, 2, 5, 3, "O", "diagonals", "axes")
    with pytest.warns(FutureWarning, match=r"GroupConv\.in_points is deprecated .* GroupConv\.in_orientations"):
        assert layer.in_points == 4
    with pytest.warns(FutureWarning, match=r"GroupConv\.out_points is deprecated .* GroupConv\.out_orientations"):
        assert layer.out_points == 3


def test_kernel_maths_moved_beside_the_groups_and_the_old_names_warn(monkeypatch):
    from monai_sre.groups import tap_action
    from monai_sre.networks.layers import group_conv

    monkeypatch.setattr(deprecation, "_warned", set())
    for name, new in (("kernel_orbits", kernel_orbits), ("tap_action", tap_action)):
        with pytest.warns(
            FutureWarning, match=rf"group_conv\.{name} is deprecated .* monai_sre\.groups\.kernels\.{name}"
        ):
            assert getattr(group_conv, name) is new
    assert group_conv.__all__ == ["GroupConv"]


@pytest.mark.parametrize("padding, padding_mode", [(0, "zeros"), (2, "zeros"), (1, "reflect"), (1, "circular")])
def test_padding_options_keep_exact_equivariance(padding, padding_mode):
    group = grid_group("O")
    layer = GroupConv(3, 2, 2, 3, group="O", in_space="axes", out_space="regular", padding=padding,
                      padding_mode=padding_mode).double()  # fmt: skip
    x = torch.randn(1, 2 * 3, 6, 6, 6, dtype=torch.float64)
    out = layer(x)
    assert out.shape[2:] == (6 + 2 * padding - 2,) * 3
    torch.testing.assert_close(layer.to_dense()(x), out)
    for g in (3, 11, 23):
        moved = layer(apply_group_element(x, group, "axes", g))
        torch.testing.assert_close(moved, apply_group_element(out, group, "regular", g), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kwargs, pattern", [({"padding": -1}, "padding"), ({"padding_mode": "mirror"}, "mirror")])
def test_bad_padding_raises_naming_the_value(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        GroupConv(3, 1, 1, 3, **kwargs)


def test_scripted_layer_computes_the_same():
    """Used to fail: TorchScript compiled the ``fan_in`` property (``math.prod``)."""
    layer = GroupConv(3, 1, 2, 3, group="O", in_space="trivial", out_space="regular").eval()
    x = torch.randn(2, 1, 5, 5, 5)
    torch.testing.assert_close(torch.jit.script(layer)(x), layer(x))

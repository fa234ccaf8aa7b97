from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from monai_sre.networks.layers import (
    GroupBatchNorm,
    GroupConv,
    GroupFeatureType,
    GroupPool,
    OrientationGroupNorm,
    SREConv,
    SymmetricPool,
    check_compatible,
    check_group_features,
)


def test_a_feature_type_counts_orientations_and_describes_the_shape():
    features = GroupFeatureType("O", "regular", 2)
    assert (features.num_orientations, features.size, features.spatial_dims) == (24, 48, 3)
    assert str(features) == "(batch, 2 channels x 24 'regular' orientations of O = 48, D, H, W)"
    assert str(GroupFeatureType("D4", "axes", 3)) == "(batch, 3 channels x 2 'axes' orientations of D4 = 6, H, W)"
    assert str(GroupFeatureType("Oh", "trivial", 1)) == "(batch, 1 channels, D, H, W)"
    assert GroupFeatureType(space="trivial").num_orientations == 1
    partial = GroupFeatureType(channels=4, num_orientations=24)
    assert partial.size == 96 and partial.spatial_dims is None
    assert str(partial) == "(batch, 4 channels x 24 orientations = 96, *spatial)"
    assert GroupFeatureType("Oh", "rotations", 1).num_orientations == 24


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(group="Oq", space="regular", channels=1), "Oq"),
        (dict(group="O", space="spheres", channels=1), "spheres"),
        (dict(group="D4", space="rotations", channels=1), "rotations"),
        (dict(group="O", space="regular", channels=0), "channels must be a positive int"),
        (dict(group="O", space="axes", num_orientations=4), "num_orientations=4 contradicts group O and space 'axes'"),
        (dict(group="C4", spatial_dims=3), "spatial_dims=3 contradicts group C4"),
        (dict(spatial_dims=0), "spatial_dims must be a positive int"),
    ],
)
def test_bad_feature_types_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GroupFeatureType(**kwargs)


def test_a_plain_tensor_fed_to_a_group_layer_is_refused_with_how_to_lift_it():
    layer = GroupConv(3, 2, 4, 3, group="O")  # 2 channels x 24 regular orientations in
    expected = (
        "GroupConv expected (batch, 2 channels x 24 'regular' orientations of O = 48, D, H, W), got shape "
        "[2, 24, 8, 8, 8]: a plain 24-channel tensor, or 1 channel(s) x 24 orientations from a layer of another "
        "width? Lift plain features onto the orientations first, with a GroupConv(..., in_space='trivial')."
    )
    with pytest.raises(ValueError, match=re.escape(expected)):
        layer(torch.randn(2, 24, 8, 8, 8))
    image = GroupConv(3, 1, 4, 3, group="O")  # an image fed past the lifting layer
    with pytest.raises(ValueError, match=r"got shape \[2, 1, 8, 8, 8\]: a plain 1-channel tensor\? Lift plain"):
        image(torch.randn(2, 1, 8, 8, 8))
    for norm in (GroupBatchNorm(1, 24), OrientationGroupNorm(1, 1, 24)):
        with pytest.raises(ValueError, match=r"expected \(batch, 1 channels x 24 orientations = 24, \*spatial\), got "):
            norm(torch.randn(2, 3, 8, 8, 8))


def test_the_check_passes_the_right_shapes_and_the_empty_batch():
    check_group_features(torch.zeros(0, 48, 2, 2, 2), "layer expected ...", 2, 24, 3)
    check_group_features(torch.zeros(3, 48, 2), "layer expected ...", 0, 24, 0)  # any channels, any spatial dims
    check_group_features(torch.zeros(3, 48), "layer expected ...", 2, 24, -1)  # pooled vectors allowed
    with pytest.raises(ValueError, match=r"^layer expected \.\.\., got shape \[3, 48\]: no spatial dims\.$"):
        check_group_features(torch.zeros(3, 48), "layer expected ...", 2, 24, 0)
    with pytest.raises(ValueError, match="1 spatial dims"):
        check_group_features(torch.zeros(3, 48, 2), "layer expected ...", 2, 24, 3)
    with pytest.raises(ValueError, match="no channel axis"):
        check_group_features(torch.zeros(3), "layer expected ...", 2, 24, -1)
    with pytest.raises(ValueError, match=r"got shape \[3, 5, 2\]: 5 channels\.$"):
        check_group_features(torch.zeros(3, 5, 2), "plain expected ...", 4, 1, 1)
    GroupFeatureType("C4", "regular", 2).check(torch.zeros(1, 8, 3, 3))
    with pytest.raises(ValueError, match=r"a group layer expected \(batch, 2 channels x 4 'regular' orientations"):
        GroupFeatureType("C4", "regular", 2).check(torch.zeros(1, 8, 3, 3, 3))
    GroupFeatureType(channels=2).check(torch.zeros(1, 8, 3))  # orientations unknown: any width
    with pytest.raises(ValueError, match=r"^GroupConv expected \(batch, 1 channels, H, W\), got shape \[1, 2, 3, 3\]"):
        GroupFeatureType("C4", "trivial", 1).check(torch.zeros(1, 2, 3, 3), GroupConv(2, 1, 1, 3, "C4", "trivial"))


def test_correct_wiring_passes_and_gives_what_both_sides_know():
    lift = GroupConv(3, 1, 4, 3, group="O", in_space="trivial", out_space="regular")
    norm = GroupBatchNorm(4, 24)
    conv = GroupConv(3, 4, 2, 3, group="O")
    features = check_compatible(lift, norm)
    assert features == GroupFeatureType("O", "regular", 4) == lift.out_type
    assert check_compatible(features, conv) == conv.in_type
    assert check_compatible(norm, conv) == GroupFeatureType("O", "regular", 4)
    assert check_compatible(conv, GroupPool(24)) == GroupFeatureType("O", "regular", 2)
    assert check_compatible(GroupPool(24), GroupFeatureType("Oh", "trivial", 2)) == GroupFeatureType("Oh", "trivial", 2)
    # plain features do not depend on the group, only on the dimension
    check_compatible(GroupConv(3, 1, 2, 3, "Oh", "axes", "trivial"), GroupConv(3, 2, 2, 3, "O", "trivial"))
    # SRE layers read and write plain features; symmetric pooling keeps any features' type
    stem = SREConv(3, 1, 2, 3)
    assert stem.out_type == GroupFeatureType(space="trivial", channels=2, spatial_dims=3)
    lifted = check_compatible(check_compatible(stem, SymmetricPool(3)), GroupConv(3, 2, 4, 3, "O", "trivial"))
    assert lifted == GroupFeatureType("O", "trivial", 2)
    assert check_compatible(lift, SymmetricPool(3)) == lift.out_type


@pytest.mark.parametrize(
    "previous, following, difference",
    [
        (
            GroupConv(3, 1, 4, 3, "Oh", "trivial", "axes"),
            GroupConv(3, 4, 4, 3, "Oh", "diagonals", "axes"),
            "space 'axes' vs 'diagonals', orientations 3 vs 4",
        ),
        (  # same shape, another orientation space: only the construction-time check sees it
            GroupConv(3, 1, 4, 3, "O", "trivial", "regular"),
            GroupConv(3, 4, 4, 3, "Oh", "rotations", "rotations"),
            "space 'regular' vs 'rotations', group 'O' vs 'Oh'",
        ),
        (GroupConv(3, 1, 4, 3, "O", "trivial"), GroupBatchNorm(2, 24), "channels 4 vs 2"),
        (SREConv(2, 1, 4, 3), GroupConv(2, 2, 4, 3, "C4", "trivial"), "channels 4 vs 2"),
        (SREConv(2, 1, 4, 3), GroupConv(2, 4, 4, 3, "C4"), "space 'trivial' vs 'regular', orientations 1 vs 4"),
        (SymmetricPool(2), GroupConv(3, 4, 4, 3, "O"), "spatial dims 2 vs 3"),
        (
            GroupConv(2, 1, 4, 3, "C4", "trivial", "trivial"),
            GroupConv(3, 4, 4, 3, "O", "trivial"),
            "spatial dims 2 vs 3",
        ),
    ],
)
def test_mismatched_wiring_is_refused_naming_both_layers(previous, following, difference):
    with pytest.raises(ValueError, match=rf"cannot feed {type(previous).__name__} into {type(following).__name__}: .*"):
        check_compatible(previous, following)
    with pytest.raises(ValueError, match=re.escape(f"they differ in {difference}.")):
        check_compatible(previous, following)


def test_layers_without_a_feature_type_are_named():
    with pytest.raises(TypeError, match="Conv3d has no out_type"):
        check_compatible(nn.Conv3d(1, 2, 3), GroupConv(3, 2, 2, 3))


def test_the_checked_layer_scripts_traces_and_exports():
    layer = GroupConv(3, 1, 2, 3, group="O").eval()
    x = torch.randn(2, 24, 5, 5, 5)
    expected = layer(x)
    torch.testing.assert_close(torch.jit.script(layer)(x), expected)
    torch.testing.assert_close(torch.jit.trace(layer, x)(x), expected)
    batch = torch.export.Dim("batch")
    exported = torch.export.export(layer, (x,), dynamic_shapes=({0: batch},))
    torch.testing.assert_close(exported.module()(torch.cat([x, x])), torch.cat([expected, expected]))

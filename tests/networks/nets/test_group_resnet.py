from __future__ import annotations

import pytest
import torch

from monai_sre.groups import apply_grid_symmetry, grid_group, grid_symmetries
from monai_sre.networks.layers import GroupBatchNorm
from monai_sre.networks.nets.group_resnet import GroupResNet, group_resnet18, group_resnet_light

SIZES = (16, 17)  # one even, one odd


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("group, space", [("Oh", "axes"), ("O", "regular"), ("Oh", "diagonals")])
@pytest.mark.parametrize("centre_features", [False, True])
def test_logits_exactly_invariant_to_the_group_at_odd_and_even_sizes(group, space, size, centre_features):
    net = GroupResNet([1, 1], [2, 3], group=group, space=space, num_classes=3, centre_features=centre_features)
    net.train()(torch.randn(4, 1, size, size, size))
    net.eval()
    x = torch.randn(2, 1, size, size, size)
    with torch.no_grad():
        y = net(x)
        errors = [(net(apply_grid_symmetry(x, e)) - y).abs().max().item() for e in grid_group(group).elements]
    assert max(errors) <= 1e-4 * max(1.0, y.abs().max().item())


def test_rotation_group_network_is_not_mirror_invariant():
    """O holds rotations only: a mirror image may change the logits (the check above can fail)."""
    net = GroupResNet([1], [3], group="O", space="regular", num_classes=3).double().eval()
    x = torch.randn(1, 1, 9, 9, 9, dtype=torch.float64)
    mirror = next(e for e in grid_symmetries(3) if not e.is_rotation)
    assert (net(apply_grid_symmetry(x, mirror)) - net(x)).abs().max() > 1e-6


@pytest.mark.parametrize("centre_features", [False, True])
def test_2d_network_is_invariant_to_d4(centre_features):
    net = GroupResNet([1, 1], [2, 2], spatial_dims=2, group="D4", space="regular", num_classes=2,
                      centre_features=centre_features).double().eval()  # fmt: skip
    x = torch.randn(2, 1, 13, 13, dtype=torch.float64)
    for element in grid_group("D4").elements:
        torch.testing.assert_close(net(apply_grid_symmetry(x, element)), net(x), rtol=0, atol=1e-10)


def test_registered_builders_fit_the_cost_limits_in_parameters():
    light = group_resnet_light(n_input_channels=1, num_classes=4)
    assert sum(p.numel() for p in light.parameters()) <= 898_100  # plain light (MONAI ResNet, 16-128)
    big = group_resnet18(n_input_channels=1, num_classes=4, widen_factor=0.125)
    assert big(torch.randn(1, 1, 16, 16, 16)).shape == (1, 4)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="layers must be a sequence of one or more positive ints"):
        GroupResNet([], [4])
    with pytest.raises(ValueError, match=r"block_inplanes must be one value or one per stage \(2 here\)"):
        GroupResNet([1, 1], [4, 8, 16])
    with pytest.raises(ValueError, match="num_classes"):
        GroupResNet([1], [4], num_classes=0)
    with pytest.raises(ValueError, match="spatial_dims=2"):
        GroupResNet([1], [4], spatial_dims=2, group="Oh")


NORMS = ["batch", "instance", ("group", {"num_groups": 2})]


@pytest.mark.parametrize("norm", NORMS, ids=["batch", "instance", "group"])
def test_every_norm_gives_invariant_logits_of_the_same_shape(norm):
    """``norm`` takes GroupUNet's values; every one is shared over orientations, so the logits stay invariant."""
    net = GroupResNet([1, 1], [2, 4], group="O", space="axes", num_classes=3, norm=norm).double()
    net.train()(torch.randn(4, 1, 9, 9, 9, dtype=torch.float64))
    net.eval()
    x = torch.randn(2, 1, 9, 9, 9, dtype=torch.float64)
    with torch.no_grad():
        y = net(x)
        assert y.shape == (2, 3) and net.forward_features(x).shape == (2, net.num_features) == (2, 4)
        for element in grid_group("O").elements:
            torch.testing.assert_close(net(apply_grid_symmetry(x, element)), y, rtol=0, atol=1e-10)
    has_batch_norm = any(isinstance(m, GroupBatchNorm) for m in net.modules())
    assert has_batch_norm == (norm == "batch")


def test_default_norm_keeps_the_state_dict_of_the_shipped_weights():
    """``norm="batch"`` is the default: ``group_resnet_light``'s state dict keys are those of the shipped weights."""
    keys = list(group_resnet_light(n_input_channels=1, num_classes=4).state_dict())
    assert keys == list(group_resnet_light(n_input_channels=1, num_classes=4, norm="batch").state_dict())
    assert len(keys) == 74 and keys[:3] == ["stem.0.weight", "stem.1.norm.weight", "stem.1.norm.bias"]
    assert "stages.1.0.shortcut.1.norm.running_var" in keys and keys[-2:] == ["fc.weight", "fc.bias"]

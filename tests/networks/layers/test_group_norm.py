from __future__ import annotations

import inspect

import pytest
import torch

from monai_sre import deprecation
from monai_sre.groups import apply_group_element, grid_group
from monai_sre.networks.layers.group_norm import GroupBatchNorm, OrientationGroupNorm, group_feature_norm


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_commutes_with_every_element(training):
    group = grid_group("O")
    norm = GroupBatchNorm(3, 24).double()
    x = torch.randn(4, 3 * 24, 3, 3, 3, dtype=torch.float64) * 3 + 1
    norm.train()
    norm(x)  # running statistics away from their initial values
    norm.train(training)
    y = norm(x)
    for g in range(len(group)):
        moved = norm(apply_group_element(x, group, "regular", g))
        torch.testing.assert_close(moved, apply_group_element(y, group, "regular", g), rtol=0, atol=1e-10)


def test_statistics_are_shared_over_orientations():
    norm = GroupBatchNorm(2, 3)
    y = norm.train()(torch.randn(8, 6, 4, 4) * 5 + 2).reshape(8, 2, -1)
    torch.testing.assert_close(y.mean((0, 2)), torch.zeros(2), atol=1e-5, rtol=0)
    assert norm.weight.shape == (2,) and norm.running_mean.shape == (2,)
    torch.nn.BatchNorm1d(2).load_state_dict(norm.norm.state_dict())  # plain batch-norm state


def test_wrong_width_raises():
    with pytest.raises(
        ValueError, match=r"GroupBatchNorm expected \(batch, 2 channels x 3 orientations = 6, \*spatial\)"
    ):
        GroupBatchNorm(2, 3)(torch.randn(1, 4, 2, 2))
    with pytest.raises(ValueError, match="no spatial dims"):
        GroupBatchNorm(2, 3)(torch.randn(1, 6))


@pytest.mark.parametrize("num_groups", [1, 3])
def test_group_norm_commutes_with_every_element(num_groups):
    group = grid_group("O")
    norm = OrientationGroupNorm(num_groups, 3, 24).double()
    with torch.no_grad():
        norm.weight.copy_(torch.tensor([0.5, 2.0, -1.0]))
        norm.bias.copy_(torch.tensor([0.1, -0.3, 0.7]))
    x = torch.randn(2, 3 * 24, 3, 3, 3, dtype=torch.float64) * 3 + 1
    y = norm(x)
    for g in range(len(group)):
        moved = norm(apply_group_element(x, group, "regular", g))
        torch.testing.assert_close(moved, apply_group_element(y, group, "regular", g), rtol=0, atol=1e-10)


def test_group_norm_statistics_per_sample_over_whole_orientation_sets():
    norm = OrientationGroupNorm(2, 4, 3)
    x = torch.randn(5, 12, 4, 4) * 5 + 2
    y = norm(x).reshape(5, 2, -1)  # two groups of 2 channels x 3 orientations x 16 voxels
    torch.testing.assert_close(y.mean(-1), torch.zeros(5, 2), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.var(-1, unbiased=False), torch.ones(5, 2), atol=1e-3, rtol=0)
    assert norm.weight.shape == (4,) and not list(norm.buffers())
    torch.testing.assert_close(norm.eval()(x[:1]), norm.train()(x)[:1])  # no batch statistics


def test_group_norm_bad_arguments_raise():
    with pytest.raises(ValueError, match="divisor of num_features=4, got 3"):
        OrientationGroupNorm(3, 4, 24)
    with pytest.raises(ValueError, match="OrientationGroupNorm expected .*4 channels x 24 orientations = 96"):
        OrientationGroupNorm(2, 4, 24)(torch.randn(1, 95, 2, 2))


def test_group_feature_norm_by_name():
    assert isinstance(group_feature_norm("batch", 4, 24), GroupBatchNorm)
    instance = group_feature_norm("instance", 4, 24)
    assert isinstance(instance, OrientationGroupNorm) and instance.num_groups == 4
    assert group_feature_norm(("group", {"num_groups": 4}), 2, 24).num_groups == 2  # gcd(4, 2)
    assert group_feature_norm(("group", {"num_groups": 4, "eps": 1e-3}), 8, 24).eps == 1e-3
    with pytest.raises(ValueError, match="layer"):
        group_feature_norm("layer", 4, 24)


def test_empty_batch():
    """Used to fail: ``cannot reshape tensor of 0 elements into shape [0, 2, -1]``."""
    norm = GroupBatchNorm(2, 3)
    assert norm.train()(torch.randn(0, 6, 4, 4)).shape == (0, 6, 4, 4)
    assert norm.eval()(torch.randn(0, 6, 4, 4)).shape == (0, 6, 4, 4)
    assert OrientationGroupNorm(1, 2, 3)(torch.randn(0, 6, 4, 4)).shape == (0, 6, 4, 4)


def test_sync_batch_norm_conversion_keeps_the_orientation_reshape():
    """``convert_sync_batchnorm`` used to replace a GroupBatchNorm (then a BatchNorm1d subclass) by a plain
    SyncBatchNorm over all ``channels x points`` features: "running_mean should contain 6 elements not 2"."""
    model = torch.nn.Sequential(GroupBatchNorm(2, 3))
    model.train()(torch.randn(4, 6, 3, 3) * 2 + 1)
    x = torch.randn(2, 6, 3, 3)
    expected = model.eval()(x)
    converted = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert isinstance(converted[0], GroupBatchNorm) and isinstance(converted[0].norm, torch.nn.SyncBatchNorm)
    torch.testing.assert_close(converted.eval()(x), expected, rtol=0, atol=0)


def test_state_dicts_from_before_the_wrapping_load():
    """Shipped weights hold the batch norm's entries at the GroupBatchNorm's level (``norm1.weight``)."""
    old = torch.nn.BatchNorm1d(2)
    old.train()(torch.randn(8, 2, 5) * 3 + 1)
    flat = {f"block.{k}": v for k, v in old.state_dict().items()}
    model = torch.nn.Module()
    model.block = GroupBatchNorm(2, 3)
    model.load_state_dict(flat)  # strict
    torch.testing.assert_close(model.block.running_mean, old.running_mean, rtol=0, atol=0)
    assert set(model.state_dict()) == {f"block.norm.{k}" for k in old.state_dict()}


def test_norms_are_scripted_with_their_checks():
    for norm in (GroupBatchNorm(2, 3).eval(), OrientationGroupNorm(1, 2, 3)):
        x = torch.randn(2, 6, 4, 4)
        scripted = torch.jit.script(norm)
        torch.testing.assert_close(scripted(x), norm(x))
        with pytest.raises(torch.jit.Error, match="ValueError: .*Norm expected"):  # 4 channels, not 2 x 3
            scripted(torch.randn(2, 4, 4, 4))


def test_num_orientations_replaces_points(monkeypatch):
    monkeypatch.setattr(deprecation, "_warned", set())
    for make in (lambda **kw: GroupBatchNorm(4, **kw), lambda **kw: OrientationGroupNorm(2, 4, **kw)):
        with pytest.warns(FutureWarning, match=r"argument points= of .* is deprecated .* num_orientations="):
            norm = make(points=24)
        assert norm.num_orientations == 24 and norm.in_type.num_orientations == 24
        assert "points" not in inspect.signature(type(norm)).parameters
        with pytest.warns(FutureWarning, match=r"\.points is deprecated .*\.num_orientations"):
            assert norm.points == 24
        with pytest.raises(TypeError, match="num_orientations= and its deprecated name points="):
            make(points=24, num_orientations=24)
    with pytest.warns(FutureWarning, match="argument points= of .*group_feature_norm"):
        assert group_feature_norm("batch", 4, points=24).num_orientations == 24
    with pytest.raises(ValueError, match="num_orientations must be a positive int, got 0"):
        GroupBatchNorm(4, 0)


def test_old_class_name_warns_and_is_the_new_class(monkeypatch):
    from monai_sre.networks import layers
    from monai_sre.networks.layers import group_norm

    monkeypatch.setattr(deprecation, "_warned", set())
    for module in (layers, group_norm):
        with pytest.warns(
            FutureWarning, match=r"GroupFeatureGroupNorm is deprecated .*group_norm\.OrientationGroupNorm"
        ):
            assert module.GroupFeatureGroupNorm is OrientationGroupNorm
    assert "GroupFeatureGroupNorm" not in layers.__all__

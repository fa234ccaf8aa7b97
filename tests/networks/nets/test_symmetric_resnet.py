"""What SREResNet and GroupResNet share (``monai_sre.networks.nets.symmetric_resnet``): stages, checks,
checkpointing, the centre column."""

from __future__ import annotations

import pytest
import torch

from monai_sre.groups import apply_grid_symmetry, grid_group, grid_symmetries
from monai_sre.networks.nets import GroupResNet, SREResNet
from monai_sre.networks.nets.symmetric_resnet import SymmetricResNet, centre_mean, residual_stages, stage_widths

RESNETS = {
    "sre": lambda **kwargs: SREResNet("basic", layers=[2, 1], block_inplanes=[4, 8], kernel_sizes=5, **kwargs),
    "group": lambda **kwargs: GroupResNet([2, 1], [2, 3], group="O", space="axes", **kwargs),
    "sre, centre column": lambda **kwargs: SREResNet(
        "bottleneck", layers=[1, 1], block_inplanes=[2, 3], centre_features=True, **kwargs
    ),
    "group, centre column": lambda **kwargs: GroupResNet(
        [2, 1], [2, 3], group="O", space="regular", centre_features=True, **kwargs
    ),
}


def _train_step(model: torch.nn.Module, x: torch.Tensor) -> tuple[int, torch.Tensor]:
    """One forward and backward: the bytes kept for the backward (parameters aside) and the logits."""
    sizes = {}

    def pack(tensor):
        if not isinstance(tensor, torch.nn.Parameter):
            sizes[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        logits = model(x)
        logits.logsumexp(1).sum().backward()
    return sum(sizes.values()), logits.detach()


@pytest.mark.parametrize("name", sorted(RESNETS))
def test_use_checkpoint_trains_exactly_as_without_and_keeps_less(name):
    """Activation checkpointing: same logits, gradients and running statistics; fewer saved bytes; eval as usual."""
    plain = RESNETS[name](num_classes=3).double().train()
    recomputed = RESNETS[name](num_classes=3, use_checkpoint=True).double().train()
    recomputed.load_state_dict(plain.state_dict())
    x = torch.randn(2, 1, 12, 12, 12, dtype=torch.float64)
    (plain_bytes, plain_logits), (recomputed_bytes, recomputed_logits) = (
        _train_step(plain, x),
        _train_step(recomputed, x),
    )
    assert recomputed_bytes < plain_bytes / 2
    torch.testing.assert_close(recomputed_logits, plain_logits)
    for (parameter, p), q in zip(plain.named_parameters(), recomputed.parameters()):
        torch.testing.assert_close(q.grad, p.grad, msg=parameter)
    for (buffer, a), b in zip(plain.named_buffers(), recomputed.buffers()):
        torch.testing.assert_close(b, a, msg=buffer)
    plain.eval(), recomputed.eval()
    torch.testing.assert_close(recomputed(x), plain(x))
    traced = torch.jit.trace(recomputed, x)
    torch.testing.assert_close(traced(x), plain(x))


def test_residual_stages_downsample_at_the_start_of_every_later_stage():
    calls = []

    def block(stage, in_planes, planes, downsample):
        calls.append((stage, in_planes, planes, downsample))
        module = torch.nn.Identity()
        module.expansion = 2
        return module

    stages, out_planes = residual_stages([2, 1, 1], [4, 8, 16], 3, block)
    assert [len(stage) for stage in stages] == [2, 1, 1] and out_planes == 32
    assert calls == [(0, 3, 4, False), (0, 8, 4, False), (1, 8, 8, True), (2, 16, 16, True)]


def test_stage_widths_check_the_arguments():
    assert stage_widths([1, 1], [4, 8], 0.5, 1, 2) == (2, 4)
    assert stage_widths([1, 1, 1], 1, 0.25, 1, 2) == (1, 1, 1)  # never below one channel
    with pytest.raises(ValueError, match="n_input_channels must be a positive int, got 0"):
        stage_widths([1], [4], 1.0, 0, 2)


@pytest.mark.parametrize("name", sorted(RESNETS))
def test_dropout_acts_on_the_pooled_features_in_training_only(name):
    """Dropout before the classifier: no new weights, identity in eval, drops features in training, checked."""
    plain = RESNETS[name](num_classes=3).double().eval()
    dropped = RESNETS[name](num_classes=3, dropout=0.5).double().eval()
    assert dropped.state_dict().keys() == plain.state_dict().keys()
    dropped.load_state_dict(plain.state_dict())
    x = torch.randn(4, 1, 12, 12, 12, dtype=torch.float64)
    torch.testing.assert_close(dropped(x), plain(x))
    features = dropped.forward_features(x)
    classified = []
    dropped.fc.register_forward_hook(lambda module, inputs, output: classified.append(inputs[0]))
    dropped.dropout.train()  # the rest stays in eval: the same features, only the dropout draws
    torch.manual_seed(0)
    dropped(x)
    seen, active = classified[-1], features != 0  # features after a ReLU: some are zero anyway
    dropped_out = (seen == 0) & active
    torch.testing.assert_close(seen[~dropped_out], 2 * features[~dropped_out])  # kept ones scaled by 1 / (1 - p)
    assert 0.2 < dropped_out.sum() / active.sum() < 0.8
    assert isinstance(RESNETS[name](num_classes=3, feed_forward=False).dropout, torch.nn.Identity)
    assert isinstance(plain.dropout, torch.nn.Identity)
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\), got 1.0"):
        RESNETS[name](num_classes=3, dropout=1.0)


@pytest.mark.parametrize("size, region", [(6, slice(2, 4)), (7, slice(3, 4)), (1, slice(0, 1))])
def test_centre_mean_averages_the_central_voxels_and_is_invariant(size, region):
    """Two central voxels per even axis, one per odd axis; the region maps to itself under every grid symmetry."""
    x = torch.randn(2, 3, size, size, size, dtype=torch.float64)
    expected = x[:, :, region, region, region].mean((2, 3, 4))
    torch.testing.assert_close(centre_mean(x), expected)
    for element in grid_symmetries(3):
        torch.testing.assert_close(centre_mean(apply_grid_symmetry(x, element)), expected)
    torch.testing.assert_close(centre_mean(x[:, :, :, 0, 0]), x[:, :, region, 0, 0].mean(2))  # any dimension


@pytest.mark.parametrize("name", ["sre, centre column", "group, centre column"])
def test_centre_column_keeps_the_logits_exactly_invariant(name):
    net = RESNETS[name](num_classes=3).double()
    net.train()(torch.randn(4, 1, 10, 10, 10, dtype=torch.float64))  # running statistics that are not the identity
    net.eval()
    for size in (10, 11):
        x = torch.randn(2, 1, size, size, size, dtype=torch.float64)
        for element in grid_symmetries(3) if name.startswith("sre") else grid_group("O").elements:
            torch.testing.assert_close(net(apply_grid_symmetry(x, element)), net(x), rtol=0, atol=1e-10)


def test_centre_column_joins_the_pooled_features_in_order():
    """The column's first features are the input's centre, the last ones the global pool of the last stage."""
    net = GroupResNet([1, 1, 1], [2, 3, 4], group="O", space="regular", centre_features=True, num_classes=3)
    net = net.double().eval()
    assert net.num_features == 4 + (1 + 2 + 2 + 3)  # pooled + input, stem, stages 1 and 2
    x = torch.randn(2, 1, 12, 12, 12, dtype=torch.float64)
    features = net.forward_features(x)
    assert features.shape == (2, 12)
    torch.testing.assert_close(features[:, :1], centre_mean(x))
    last = net.stages(net.stem(x))
    torch.testing.assert_close(features[:, -4:], net.orientation_pool(last).mean((2, 3, 4)))
    assert net.fc.in_features == 12
    torch.testing.assert_close(torch.jit.script(net)(x), net(x))  # ckpt_export without tracing
    with pytest.raises(ValueError, match=r"centre_channels must give the input, the stem and 1 stage outputs \(3"):
        SymmetricResNet(3, net.stem, net.stages[:2], 3, 3, centre_channels=[1, 2])


def _residual_branch_norms(model: SymmetricResNet) -> list[torch.nn.Module]:
    """Each block's last normalisation, found by its layer names (not by ``residual_norm``, the method under test)."""
    return [getattr(block, "norm3", None) or block.norm2 for stage in model.stages for block in stage]


@pytest.mark.parametrize("name", sorted(RESNETS))
def test_zero_init_residual_starts_every_block_as_its_shortcut(name):
    """With ``zero_init_residual`` every block's output is its shortcut's at initialisation (in training, where
    batch norm's output is its shift, zero too); without it the branches are live. Both still train."""
    x = torch.randn(2, 1, 12, 12, 12, dtype=torch.float64)
    for zero in (True, False):
        model = RESNETS[name](num_classes=3, zero_init_residual=zero).double().train()
        norms = _residual_branch_norms(model)
        assert [block.residual_norm() for stage in model.stages for block in stage] == norms
        assert len(norms) == sum(len(stage) for stage in model.stages) >= 2
        assert all(bool((norm.weight == 0).all()) == zero for norm in norms)
        features = model.stem(x)
        for stage in model.stages:
            for block in stage:
                through = block.act(block.shortcut(block.pool(features.clone())))
                features = block(features)
                assert torch.equal(features, through) == zero
        model(x).logsumexp(1).sum().backward()
        assert all(norm.weight.grad.abs().sum() > 0 for norm in norms)  # the zeroed scales learn


def test_zero_init_residual_needs_a_learnable_scale():
    with pytest.raises(ValueError, match="zero_init_residual needs a normalisation with a learnable scale"):
        GroupResNet([1, 1], [2, 3], group="O", space="axes", norm=("batch", {"affine": False}), zero_init_residual=True)
    with pytest.raises(ValueError, match="InstanceNorm3d without one"):
        SREResNet("basic", [1, 1], [2, 3], norm="instance", zero_init_residual=True)

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from monai_sre.networks.activation_checkpointing import checkpointed, frozen_batch_norm_statistics
from monai_sre.networks.blocks import SREBasicBlock


def _block(momentum: float | None = 0.1) -> nn.Module:
    torch.manual_seed(0)
    block = SREBasicBlock(3, 4, 4, kernel_size=5, path="bands").train()
    for module in block.modules():
        if isinstance(module, nn.BatchNorm3d):
            module.momentum = momentum
    return block


def _saved_bytes(function) -> int:
    sizes = {}

    def pack(tensor):
        if not isinstance(tensor, nn.Parameter):
            sizes[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        out = function()
    return sum(sizes.values()), out


@pytest.mark.parametrize("momentum", [0.1, None])
def test_outputs_gradients_and_running_statistics_equal_an_ordinary_forward(momentum):
    plain, recomputed = _block(momentum), _block(momentum)
    x = torch.randn(2, 4, 9, 9, 9, dtype=torch.float64)
    plain, recomputed = plain.double(), recomputed.double()
    x_plain, x_recomputed = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    y_plain, y_recomputed = plain(x_plain), checkpointed(recomputed, x_recomputed)
    torch.testing.assert_close(y_recomputed, y_plain)
    weights = torch.randn_like(y_plain)
    (y_plain * weights).sum().backward()
    (y_recomputed * weights).sum().backward()
    torch.testing.assert_close(x_recomputed.grad, x_plain.grad)
    for (name, p), q in zip(plain.named_parameters(), recomputed.parameters()):
        torch.testing.assert_close(q.grad, p.grad, msg=name)
    # the recomputation in the backward leaves the running statistics as one forward left them
    for (name, a), b in zip(plain.named_buffers(), recomputed.buffers()):
        torch.testing.assert_close(b, a, msg=name)
    assert int(recomputed.norm1.num_batches_tracked) == 1


def test_only_the_input_is_kept_for_the_backward():
    block, x = _block(), torch.randn(2, 4, 9, 9, 9, requires_grad=True)
    plain_bytes, _ = _saved_bytes(lambda: block(x))
    recomputed_bytes, _ = _saved_bytes(lambda: checkpointed(block, x))
    assert plain_bytes >= 4 * x.numel() * 4  # batch-norm inputs, activations, the block's input
    assert recomputed_bytes <= x.numel() * 4


def test_second_derivatives_match():
    """A gradient penalty (double backward) through a checkpointed block equals the ordinary one."""
    block = _block().double()
    x = torch.randn(2, 4, 7, 7, 7, dtype=torch.float64, requires_grad=True)
    penalties = []
    for run in (lambda: block(x), lambda: checkpointed(block, x)):
        (grad,) = torch.autograd.grad(run().square().sum(), x, create_graph=True)
        penalties.append(torch.autograd.grad(grad.square().sum(), block.conv1.weight)[0])
    torch.testing.assert_close(penalties[1], penalties[0])


def test_frozen_statistics_are_restored_after_an_error():
    block = _block()
    with pytest.raises(RuntimeError, match="boom"), frozen_batch_norm_statistics(block):
        assert block.norm1.momentum == 0.0
        raise RuntimeError("boom")
    assert block.norm1.momentum == 0.1 and int(block.norm1.num_batches_tracked) == 0


def test_eval_mode_batch_norms_are_left_alone():
    block = copy.deepcopy(_block()).eval()
    with frozen_batch_norm_statistics(block):
        assert block.norm1.momentum == 0.1


def test_old_places_resolve_to_the_new_module_and_warn_once(monkeypatch):
    """``monai_sre.networks.blocks.checkpointed`` and the module ``...blocks.activation_checkpointing`` still work."""
    import importlib
    import sys
    import warnings

    from monai_sre import deprecation
    from monai_sre.networks import activation_checkpointing as new
    from monai_sre.networks import blocks

    monkeypatch.setattr(deprecation, "_warned", set())
    old_path = "monai_sre.networks.blocks.activation_checkpointing"
    monkeypatch.delitem(sys.modules, old_path, raising=False)
    monkeypatch.delattr(blocks, "activation_checkpointing", raising=False)
    for name in ("checkpointed", "frozen_batch_norm_statistics"):
        with pytest.warns(
            FutureWarning, match=rf"blocks\.{name} is deprecated .*networks\.activation_checkpointing\.{name}"
        ):
            assert getattr(blocks, name) is getattr(new, name)
    with pytest.warns(FutureWarning, match=rf"module {old_path} is deprecated"):
        old = importlib.import_module(old_path)
    assert old is new
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once only
        assert blocks.checkpointed is new.checkpointed
        from monai_sre.networks.blocks.activation_checkpointing import checkpointed

    assert checkpointed is new.checkpointed

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""The expanded-kernel cache of SRE and group convolutions: reused in eval, never stale, never in a graph."""

from __future__ import annotations

import copy

import pytest
import torch

from monai_sre.networks.layers import GroupConv, SREConv
from monai_sre.networks.layers.kernel_cache import KernelCache, clear_kernel_caches

LAYERS = {
    "sre": lambda: SREConv(3, 2, 3, kernel_size=3),
    "sre k=5 dense": lambda: SREConv(3, 2, 3, kernel_size=5, path="dense"),
    "group": lambda: GroupConv(3, 1, 2, 3, group="O", in_space="axes", out_space="regular"),
}


def _input(layer: torch.nn.Module, requires_grad: bool = False) -> torch.Tensor:
    channels = layer.in_channels * getattr(layer, "in_orientations", 1)
    return torch.randn(2, channels, 5, 5, 5, requires_grad=requires_grad)


def _reference(layer: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The layer's function computed afresh from its current weights."""
    return layer.to_dense()(x)


@pytest.fixture(autouse=True)
def _cache_on_cpu(monkeypatch):
    """The cache serves accelerators by default; the same logic runs on the CPU for these tests."""
    monkeypatch.setattr(KernelCache, "use_on_cpu", True)


@pytest.fixture(params=list(LAYERS))
def layer(request):
    torch.manual_seed(0)
    return LAYERS[request.param]().eval()


def test_cpu_layers_expand_every_call_by_default(layer, monkeypatch):
    monkeypatch.setattr(KernelCache, "use_on_cpu", False)
    with torch.no_grad():
        layer(_input(layer))
    assert layer.kernel_cache.expansions == 0


def test_eval_without_grad_expands_once(layer):
    x = _input(layer)
    with torch.no_grad():
        first, second = layer(x), layer(x)
    assert layer.kernel_cache.expansions == 1
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    torch.testing.assert_close(first, _reference(layer, x))


def test_training_with_grad_never_caches(layer):
    layer.train()
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    x = _input(layer)
    for _ in range(2):  # a second backward through a reused kernel would fail ("backward through the graph twice")
        optimizer.zero_grad()
        layer(x).square().mean().backward()
        optimizer.step()
    assert layer.kernel_cache.expansions == 0
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "change",
    ["optimizer step", "load_state_dict", "in-place edit", "to float64 and back", "assigned parameter"],
)
def test_cached_kernel_never_goes_stale(layer, change):
    x = _input(layer)
    with torch.no_grad():
        before = layer(x)
    if change == "optimizer step":
        layer.train()
        optimizer = torch.optim.SGD(layer.parameters(), lr=0.5)
        layer(x).square().sum().backward()
        optimizer.step()
        layer.eval()
    elif change == "load_state_dict":
        torch.manual_seed(1)
        layer.load_state_dict(type(layer)(**_arguments(layer)).state_dict())
    elif change == "in-place edit":
        with torch.no_grad():
            layer.weight.mul_(-2.0)
    elif change == "to float64 and back":
        layer.double()
        with torch.no_grad():
            torch.testing.assert_close(layer(x.double()), _reference(layer, x.double()))
            layer.weight.add_(0.25)
        layer.float()
    else:
        layer.weight = torch.nn.Parameter(torch.randn_like(layer.weight))
    with torch.no_grad():
        after = layer(x)
        torch.testing.assert_close(after, _reference(layer, x))
    assert not torch.allclose(after, before)


def _arguments(layer: torch.nn.Module) -> dict:
    """Constructor arguments of the fixture layers (to build a second layer of the same shape)."""
    if isinstance(layer, GroupConv):
        return dict(spatial_dims=3, in_channels=1, out_channels=2, kernel_size=3, in_space="axes", out_space="regular")
    return dict(spatial_dims=3, in_channels=2, out_channels=3, kernel_size=layer.kernel_size[0], path=layer.path)


def test_frozen_weights_cache_and_pass_input_gradients(layer):
    layer.requires_grad_(False)
    x = _input(layer, requires_grad=True)
    for _ in range(2):
        (grad,) = torch.autograd.grad(layer(x).square().sum(), x)
    assert layer.kernel_cache.expansions == 1
    x_ref = x.detach().clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(_reference(layer, x_ref).square().sum(), x_ref)
    torch.testing.assert_close(grad, expected)


def test_inference_mode_then_autograd(layer):
    layer.requires_grad_(False)
    x = _input(layer)
    with torch.inference_mode():
        in_inference = layer(x)
    x.requires_grad_(True)
    out = layer(x)  # an inference-mode kernel must not be saved for this backward
    out.sum().backward()
    torch.testing.assert_close(out.detach(), in_inference)
    assert x.grad is not None


def test_mode_switches_clear_and_writes_through_data_need_clear_kernel_caches(layer):
    """``param.data`` writes bypass the version counter (PyTorch's hole): ``clear_kernel_caches`` after them."""
    x = _input(layer)
    with torch.no_grad():
        layer(x)
        layer.eval()  # already in eval: the cache stays
        layer(x)
        assert layer.kernel_cache.expansions == 1
        layer.train().eval()  # a switch clears it
        assert layer.kernel_cache.expansions == 0
        layer(x)
    layer.weight.data.mul_(3.0)
    clear_kernel_caches(torch.nn.Sequential(layer))
    with torch.no_grad():
        torch.testing.assert_close(layer(x), _reference(layer, x))


def test_tracing_keeps_the_expansion_in_the_graph(layer):
    x = _input(layer)
    with torch.no_grad():
        layer(x)  # a cached kernel exists: tracing must not bake it in as a constant
        traced = torch.jit.trace(layer, x)
    with torch.no_grad():
        layer.weight.mul_(-1.0)
        torch.testing.assert_close(traced(x), _reference(layer, x))


def test_deepcopy_is_independent(layer):
    x = _input(layer)
    with torch.no_grad():
        layer(x)
        twin = copy.deepcopy(layer)
        twin.weight.add_(1.0)
        torch.testing.assert_close(twin(x), _reference(twin, x))
        torch.testing.assert_close(layer(x), _reference(layer, x))


def test_cache_keys_on_version_storage_and_dtype():
    cache: KernelCache = KernelCache()
    weight = torch.randn(4)
    calls = []

    def expand():
        calls.append(1)
        return weight * 2

    for _ in range(3):
        cache.get([weight, None], expand)
    assert len(calls) == 1
    weight.add_(1)  # version counter
    torch.testing.assert_close(cache.get([weight], expand), weight * 2)
    weight = weight.double()  # new storage and dtype
    torch.testing.assert_close(cache.get([weight], expand), weight * 2)
    assert len(calls) == 3
    with torch.enable_grad():
        grad_weight = weight.requires_grad_(True)
        cache.get([grad_weight], expand)
        cache.get([grad_weight], expand)
    assert len(calls) == 5 and cache.expansions == 0  # with a gradient into the kernel: never cached

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from monai_sre.networks.layers import GroupConv, SREConv, SREConvTranspose
from monai_sre.networks.layers.autocast import autocast_dtype, cast_to_autocast, convolution
from monai_sre.networks.layers.kernel_cache import KernelCache

LAYERS = {
    "sre dense": lambda: SREConv(3, 2, 4, kernel_size=3),
    "sre bands": lambda: SREConv(3, 2, 4, kernel_size=5, path="bands"),
    "sre transposed": lambda: SREConvTranspose(3, 2, 4, 3, stride=2),
    "sre reflect": lambda: SREConv(3, 2, 4, kernel_size=3, padding_mode="reflect"),
    "group": lambda: GroupConv(3, 2, 2, 3, group="O", in_space="axes", out_space="regular"),
}


def _input(layer: torch.nn.Module) -> torch.Tensor:
    return torch.randn(2, layer.in_channels * getattr(layer, "in_orientations", 1), 6, 6, 6)


def test_autocast_dtype_follows_the_context():
    assert autocast_dtype("cpu") is None
    with torch.autocast("cpu", torch.bfloat16):
        assert autocast_dtype("cpu") == torch.bfloat16
        x, none, index = cast_to_autocast("cpu", torch.ones(2), None, torch.ones(2, dtype=torch.long))
        assert x.dtype == torch.bfloat16 and none is None and index.dtype == torch.long  # floats only
    assert cast_to_autocast("cpu", torch.ones(2))[0].dtype == torch.float32


def test_convolution_casts_as_autocast_casts_conv3d():
    x, weight, bias = torch.randn(1, 2, 5, 5, 5), torch.randn(3, 2, 3, 3, 3), torch.randn(3)
    args = ([1] * 3, [1] * 3, [1] * 3, False, [0] * 3, 1)
    torch.testing.assert_close(convolution(x, weight, bias, *args), F.conv3d(x, weight, bias, padding=1))
    with torch.autocast("cpu", torch.bfloat16):
        mixed, reference = convolution(x, weight.double(), bias, *args), F.conv3d(x, weight, bias, padding=1)
    assert mixed.dtype == reference.dtype == torch.bfloat16
    torch.testing.assert_close(mixed, reference, rtol=0, atol=0)


@pytest.mark.parametrize("name", list(LAYERS))
def test_layers_compute_in_bfloat16_under_autocast(name):
    """Expanding layers used to fail here: ``expected scalar type Float but found BFloat16``."""
    layer = LAYERS[name]()
    x = _input(layer).requires_grad_()
    expected = layer(x)
    with torch.autocast("cpu", torch.bfloat16):
        mixed = layer(x)
        also_from_bfloat16 = layer(x.detach().bfloat16())  # the output of an earlier autocast layer
    assert mixed.dtype == also_from_bfloat16.dtype == torch.bfloat16
    torch.testing.assert_close(mixed.float(), expected, rtol=0.05, atol=0.05 * expected.abs().max().item())
    mixed.float().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in layer.parameters())


@pytest.mark.parametrize("name", ["sre dense", "group"])
def test_kernel_cached_under_autocast_is_not_served_to_float32(name, monkeypatch):
    """The cache used to key on the weight's version only: a bfloat16 kernel cached under autocast was served to the
    next float32 call, which then failed (reproduced with the cache switched on, as on an accelerator)."""
    monkeypatch.setattr(KernelCache, "use_on_cpu", True)
    layer = LAYERS[name]().eval()
    x = _input(layer)
    with torch.no_grad():
        with torch.autocast("cpu", torch.bfloat16):
            assert layer(x).dtype == torch.bfloat16
        out = layer(x)
        with torch.autocast("cpu", torch.bfloat16):
            again = layer(x)
    assert out.dtype == torch.float32 and again.dtype == torch.bfloat16
    torch.testing.assert_close(out, layer.to_dense()(x))
    assert layer.kernel_cache.expansions == 3  # a new key at every switch of the autocast state

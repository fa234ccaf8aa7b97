"""Every registered network under the tools a MONAI user runs it with (timm's way of testing a registry).

One module-scoped model per registered name; each test takes it through one tool: mixed precision, an empty
batch, a batch of one, ``jit.trace`` + ``jit.save``/``load``, TorchScript, ``torch.export``, deepcopy and pickle, a
state-dict round trip, ``convert_sync_batchnorm``, float64. A network added to the registry is tested here
without a line of its own.
"""

from __future__ import annotations

import copy
import io
import pickle

import pytest
import torch

from monai_sre.networks.nets import create_model, list_models, model_task

SHAPE = (2, 1, 16, 16, 16)  # even sizes: every registered network takes them (the U-Nets need multiples of 16)


def _build(name: str) -> torch.nn.Module:
    if model_task(name) == "classification":  # narrow, so that every registered classifier stays quick on CPU
        return create_model(name, n_input_channels=1, num_classes=3, widen_factor=0.125)
    return create_model(name, in_channels=1, out_channels=3)


def _relative_rms(actual: torch.Tensor, expected: torch.Tensor) -> float:
    actual, expected = actual.double(), expected.double()
    return ((actual - expected).pow(2).mean().sqrt() / expected.pow(2).mean().sqrt()).item()


@pytest.fixture(scope="module", params=list_models())
def model(request):
    """``(name, network in eval mode with batch-norm statistics away from their initial values)``."""
    torch.manual_seed(0)
    network = _build(request.param)
    with torch.no_grad():
        network.train()(torch.randn(4, *SHAPE[1:]))
    return request.param, network.eval()


@pytest.fixture
def x() -> torch.Tensor:
    return torch.randn(SHAPE)


def _expected(network: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return network.eval()(x)


def test_bfloat16_autocast_forward_and_backward(model, x):
    """Under CPU bfloat16 autocast (what ``amp`` does) the output comes out in bfloat16, close to float32, and every
    parameter gets a finite gradient. The SRE layers used to fail here: their kernel, expanded with a matmul that
    autocast casts, met the input in ``torch.convolution``, which autocast does not cast."""
    name, network = model
    expected = _expected(network, x)
    with torch.no_grad(), torch.autocast("cpu", torch.bfloat16):
        mixed = network(x)
    assert mixed.dtype == torch.bfloat16 and mixed.shape == expected.shape
    assert _relative_rms(mixed, expected) < 0.05, name
    # larger inputs for the backward: torch 2.13's CPU bfloat16 conv3d weight gradient is NaN in about 1 run in 20
    # on 2^3 feature maps (k=3, padding 1; plain F.conv3d too), which 16^3 inputs reach in the deepest stages
    size = 40 if model_task(name) == "classification" else 48  # deepest maps 3^3 (U-Nets: multiples of 16)
    trained = copy.deepcopy(network).train()
    with torch.autocast("cpu", torch.bfloat16):
        loss = trained(torch.randn(1, 1, size, size, size)).float().logsumexp(1).mean()
    loss.backward()
    bad = [n for n, p in trained.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not bad, f"{name}: no finite gradient for {bad}"


def test_empty_batch(model, x):
    """An empty batch gives an empty output in eval and train mode, and a loss on it backpropagates."""
    name, network = model
    expected_shape = (0, *_expected(network, x).shape[1:])
    with torch.no_grad():
        assert network(x[:0]).shape == expected_shape, name
    trained = copy.deepcopy(network).train()
    out = trained(x[:0])
    assert out.shape == expected_shape, name
    out.sum().backward()


def test_a_batch_of_one_gives_what_the_batch_gives(model, x):
    name, network = model
    with torch.no_grad():
        torch.testing.assert_close(network(x[:1]), network(x)[:1], rtol=1e-4, atol=1e-5, msg=name)


def test_traced_module_saves_loads_and_computes_the_same(model, x):
    """``jit.trace`` then ``jit.save``/``load`` (``ckpt_export --use_trace``): networks with kernels of 5 taps or more
    used to record the band path, a Python autograd function that ``jit.save`` cannot export."""
    name, network = model
    traced = torch.jit.trace(network, x, check_trace=False)
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer)
    buffer.seek(0)
    loaded = torch.jit.load(buffer)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), network(x), rtol=1e-4, atol=1e-5, msg=name)


def test_scripted_module_computes_the_same(model, x):
    """``torch.jit.script`` (``ckpt_export`` without tracing): the U-Nets and group convolutions used to fail."""
    name, network = model
    scripted = torch.jit.script(network)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), network(x), rtol=1e-4, atol=1e-5, msg=name)


def test_torch_export_round_trip(model, x, tmp_path):
    name, network = model
    torch.export.save(torch.export.export(network, (x,)), tmp_path / "model.pt2")
    loaded = torch.export.load(tmp_path / "model.pt2").module()
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), network(x), rtol=1e-4, atol=1e-5, msg=name)


def test_deepcopy_and_pickle(model, x):
    name, network = model
    expected = _expected(network, x)
    for clone in (copy.deepcopy(network), pickle.loads(pickle.dumps(network))):
        with torch.no_grad():
            torch.testing.assert_close(clone.eval()(x), expected, rtol=0, atol=0, msg=name)


def test_state_dict_round_trip(model, x):
    """A freshly built network of the same name loads the state dict (strictly) and computes the same."""
    name, network = model
    torch.manual_seed(1)
    fresh = _build(name)
    fresh.load_state_dict(network.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(fresh.eval()(x), network(x), rtol=0, atol=0, msg=name)


def test_convert_sync_batchnorm_keeps_the_function(model, x):
    """``nn.SyncBatchNorm.convert_sync_batchnorm`` (DDP with synchronised statistics) converts every batch norm and
    leaves the function unchanged; group batch norms used to become plain ones that lost the orientation axis."""
    name, network = model
    norms = sum(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in network.modules())
    converted = torch.nn.SyncBatchNorm.convert_sync_batchnorm(copy.deepcopy(network))
    assert sum(isinstance(m, torch.nn.SyncBatchNorm) for m in converted.modules()) == norms, name
    with torch.no_grad():
        torch.testing.assert_close(converted.eval()(x), network(x), rtol=1e-5, atol=1e-6, msg=name)


def test_float64(model, x):
    name, network = model
    double = copy.deepcopy(network).double()
    with torch.no_grad():
        out = double(x.double())
    assert out.dtype == torch.float64
    assert _relative_rms(out, _expected(network, x)) < 1e-4, name

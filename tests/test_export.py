from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from monai.utils import OptionalImportError

from monai_sre.export import export_onnx, verify_onnx
from monai_sre.networks.layers import GroupConv, SREConv
from monai_sre.networks.nets import group_resnet_light, sre_resnet_light
from monai_sre.networks.weights import load_weights

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxscript")
pytest.importorskip("onnxruntime")

SHAPE = (1, 1, 16, 16, 16)
WEIGHTS = Path(__file__).resolve().parents[1] / "bundles" / "sre_resnet3d_tissue" / "models" / "model.pt"


def _input_dims(path: Path) -> list:
    (graph_input,) = onnx.load(str(path)).graph.input
    return [d.dim_param or d.dim_value for d in graph_input.type.tensor_type.shape.dim]


def _shipped_network():
    """The tissue bundle's network with its shipped weights."""
    return load_weights(WEIGHTS, group_resnet_light(n_input_channels=1, num_classes=4))


def _sre_network():
    return sre_resnet_light(n_input_channels=1, num_classes=4)


@pytest.mark.parametrize("make, dense", [(_shipped_network, True), (_shipped_network, False), (_sre_network, True)])
def test_dynamic_batch_runs_batch_sizes_one_and_five(tmp_path, make, dense):
    network = make().train()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = export_onnx(network, tmp_path / "model.onnx", SHAPE, dense=dense)
    messages = [str(w.message) for w in caught]
    assert not [m for m in messages if "dynamic_axes" in m or "legacy TorchScript" in m], messages
    assert network.training  # mode restored
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]  # weights inside, no .onnx.data side file
    assert _input_dims(path) == ["batch", 1, 16, 16, 16]
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert "Conv" in ops and (not ops & {"Gather", "GatherND"}) == dense  # dense: kernels stored, not rebuilt per run
    errors = verify_onnx(path, network, SHAPE, batch_sizes=(1, 5), rtol=1e-4, atol=1e-5)
    assert sorted(errors) == [1, 5]
    assert network.training
    assert any(isinstance(m, (SREConv, GroupConv)) for m in network.modules())  # a copy was densified, not it


def test_fixed_batch_refuses_other_sizes(tmp_path):
    network = sre_resnet_light(n_input_channels=1, num_classes=4)
    path = export_onnx(network, tmp_path / "fixed.onnx", (2, 1, 16, 16, 16), dynamic_batch=False, input_name="x")
    assert _input_dims(path) == [2, 1, 16, 16, 16]
    assert onnx.load(str(path)).graph.input[0].name == "x"
    verify_onnx(path, network, SHAPE, batch_sizes=(2,))
    with pytest.raises(AssertionError, match="batch size 5"):
        verify_onnx(path, network, SHAPE, batch_sizes=(5,))


def test_verify_names_a_mismatch(tmp_path):
    network = sre_resnet_light(n_input_channels=1, num_classes=4)
    path = export_onnx(network, tmp_path / "model.onnx", SHAPE)
    with torch.no_grad():
        network.fc.bias.add_(1.0)  # the network no longer matches the file
    with pytest.raises(AssertionError, match="batch size 1: ONNX output differs"):
        verify_onnx(path, network, SHAPE)


def test_bad_input_shape_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"\(batch, channels, \*spatial\)"):
        export_onnx(torch.nn.Identity(), tmp_path / "model.onnx", (4,))


def test_missing_exporter_is_named(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnxscript", None)  # import fails as if not installed
    with pytest.raises(OptionalImportError, match="onnx and onnxscript"):
        export_onnx(sre_resnet_light(n_input_channels=1, num_classes=4), tmp_path / "model.onnx", SHAPE)
    assert not (tmp_path / "model.onnx").exists()

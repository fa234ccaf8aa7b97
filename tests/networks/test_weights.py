from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from monai_sre.networks import weights
from monai_sre.networks.layers import SREConv, SREConvTranspose
from monai_sre.networks.weights import convert_authors_state_dict, load_authors_state_dict, load_weights

# load_weights ------------------------------------------------------------------------------------------------------


def _net() -> nn.Module:
    return nn.Sequential(nn.Conv3d(1, 2, 3), nn.ReLU(), nn.Conv3d(2, 1, 1))


def test_a_good_file_loads_as_a_state_dict_and_into_a_network(tmp_path):
    source = _net()
    path = tmp_path / "weights.pt"
    torch.save(source.state_dict(), path)
    state = load_weights(path)
    assert list(state) == list(source.state_dict())
    target = _net()
    assert load_weights(str(path), target) is target
    for name, value in source.state_dict().items():
        torch.testing.assert_close(target.state_dict()[name], value)
    # {"model": state_dict}, as MONAI's CheckpointSaver writes it
    wrapped = tmp_path / "checkpoint.pt"
    torch.save({"model": source.state_dict(), "epoch": 3}, wrapped)
    assert list(load_weights(wrapped)) == list(source.state_dict())


def test_a_missing_file_is_named(tmp_path):
    path = tmp_path / "absent.pt"
    with pytest.raises(FileNotFoundError, match=re.escape(str(path))):
        load_weights(path)
    with pytest.raises(FileNotFoundError, match="weights file not found"):
        load_weights(tmp_path)  # a directory is not a weights file


def test_a_corrupt_file_is_named(tmp_path):
    path = tmp_path / "corrupt.pt"
    path.write_bytes(b"not a torch file at all")
    with pytest.raises(ValueError, match=f"cannot load weights from '{re.escape(str(path))}'"):
        load_weights(path)
    truncated = tmp_path / "truncated.pt"
    torch.save(_net().state_dict(), truncated)
    truncated.write_bytes(truncated.read_bytes()[:100])
    with pytest.raises(ValueError, match=re.escape(str(truncated))):
        load_weights(truncated)


def test_a_file_carrying_code_is_refused_unexecuted(tmp_path):
    path = tmp_path / "pickled_module.pt"
    torch.save(_net(), path)  # a whole module: loading it would unpickle (run) code
    with pytest.raises(ValueError, match=f"'{re.escape(str(path))}'.*carries code, which is refused"):
        load_weights(path)


@pytest.mark.parametrize("content", [[torch.zeros(2)], {"weight": 3}, torch.zeros(2), {"model": [1, 2]}])
def test_a_file_without_a_state_dict_is_named(tmp_path, content):
    path = tmp_path / "other.pt"
    torch.save(content, path)
    with pytest.raises(ValueError, match=f"'{re.escape(str(path))}' does not hold a state dict"):
        load_weights(path)


def test_weights_for_another_network_are_named(tmp_path):
    path = tmp_path / "other_network.pt"
    torch.save(nn.Linear(3, 2).state_dict(), path)
    with pytest.raises(ValueError, match=f"weights in '{re.escape(str(path))}' do not fit Sequential"):
        load_weights(path, _net())
    shapes = tmp_path / "other_shapes.pt"
    torch.save(nn.Sequential(nn.Conv3d(1, 4, 3), nn.ReLU(), nn.Conv3d(4, 1, 1)).state_dict(), shapes)
    with pytest.raises(ValueError, match=f"(?s)'{re.escape(str(shapes))}'.*size mismatch"):
        load_weights(shapes, _net())


# the authors' state dicts --------------------------------------------------------------------------------------------

# the loader of the authors' module executes their file, so it lives beside the benchmarks, not in the package
AUTHORS_LOADER = Path(__file__).resolve().parents[2] / "scripts" / "authors_sre_conv.py"


def authors_sre_conv_module():
    """``scripts/authors_sre_conv.py``'s loader (``scripts/`` is not a package: load the file by path)."""
    spec = importlib.util.spec_from_file_location("authors_sre_conv", AUTHORS_LOADER)
    loader = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loader)
    return loader.authors_sre_conv_module()


def _authors_state_dict(spatial_dims: int, cin: int, cout: int, k: int, num_bands: int | None = None) -> dict:
    """A state dict laid out as the authors' SRE_ConvNd saves it; masks built with their recipe (scipy EDT)."""
    from scipy import ndimage

    num_bands = k // 2 + 1 if num_bands is None else num_bands
    grid = np.ones((k,) * spatial_dims)
    grid[(k // 2,) * spatial_dims] = 0
    distance = ndimage.distance_transform_edt(grid)
    edges = np.linspace(0, k // 2 + 0.5, num_bands + 1)
    masks = np.stack([((distance >= lo) & (distance < hi)).reshape(-1) for lo, hi in zip(edges[:-1], edges[1:])])
    return {
        "weight": torch.randn(cout, cin, num_bands),
        "bias": torch.randn(cout),
        "weight_index_mat": torch.as_tensor(masks, dtype=torch.float32)[None, None],
    }


def _authors_forward(state: dict, x: torch.Tensor, k: int) -> torch.Tensor:
    """Their forward: einsum of the masks with the weights, then a dense conv with 'same' padding."""
    weight = torch.einsum("ijkw,ijk->ijw", state["weight_index_mat"], state["weight"])
    weight = weight.reshape(*state["weight"].shape[:2], *(k,) * (x.dim() - 2))
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[x.dim() - 2]
    return conv(x, weight, state["bias"], padding=k // 2)


@pytest.mark.parametrize("spatial_dims, k", [(1, 5), (2, 3), (2, 7), (3, 3), (3, 5), (3, 9)])
def test_authors_layer_state_dict_loads_and_computes_the_same(spatial_dims, k):
    state = _authors_state_dict(spatial_dims, 2, 3, k)
    layer = SREConv(spatial_dims, 2, 3, k)
    load_authors_state_dict(layer, state)
    x = torch.randn(2, 2, *(9,) * spatial_dims)
    expected = _authors_forward(state, x, k)
    # float32: the band path (chosen for k >= 5) sums taps in another order than a dense convolution
    torch.testing.assert_close(layer(x), expected, rtol=1e-5, atol=1e-6 * expected.abs().max().item())


def test_network_state_dict_is_mapped_by_module_path():
    model = nn.Sequential(SREConv(3, 1, 2, 5), nn.ReLU(), nn.Sequential(SREConv(3, 2, 2, 3)), nn.Conv3d(2, 1, 1))
    state = {f"0.{key}": value for key, value in _authors_state_dict(3, 1, 2, 5).items()}
    state.update({f"2.0.{key}": value for key, value in _authors_state_dict(3, 2, 2, 3).items()})
    state.update({f"3.{key}": value for key, value in model[3].state_dict().items()})
    converted = convert_authors_state_dict(state, model)
    assert not any("weight_index_mat" in key for key in converted)
    model.load_state_dict(converted)
    torch.testing.assert_close(model[2][0].weight, state["2.0.weight"])


def test_mismatched_band_layout_is_refused_with_both_layouts_named():
    state = _authors_state_dict(3, 2, 3, 5, num_bands=2)
    with pytest.raises(ValueError, match=r"taps per band \[7, 74\].*taps per band \[1, 18, 62\]"):
        load_authors_state_dict(SREConv(3, 2, 3, 5), state)
    load_authors_state_dict(SREConv(3, 2, 3, 5, num_bands=2), state)


def test_masks_without_a_matching_sre_layer_are_refused():
    state = {f"conv.{key}": value for key, value in _authors_state_dict(3, 2, 3, 3).items()}
    with pytest.raises(ValueError, match="'conv.weight_index_mat'.*no module 'conv'"):
        convert_authors_state_dict(state, nn.Sequential(nn.Conv3d(2, 3, 3)))
    with pytest.raises(ValueError, match="module 'conv' is a Conv3d"):
        convert_authors_state_dict(state, _holder())


def _holder() -> nn.Module:
    holder = nn.Module()
    holder.conv = nn.Conv3d(2, 3, 3)
    return holder


@pytest.mark.skipif(
    importlib.util.find_spec("SRE_Conv") is None, reason="the authors' SRE-Conv package is not installed"
)
@pytest.mark.parametrize("k", [3, 5, 7])
def test_real_authors_layer_matches(k):
    authors = authors_sre_conv_module().SRE_Conv3d(2, 3, k, padding=k // 2).eval()
    ours = SREConv(3, 2, 3, k)
    load_authors_state_dict(ours, authors.state_dict())
    x = torch.randn(1, 2, 8, 8, 8)
    torch.testing.assert_close(ours(x), authors(x))


def test_transposed_state_dict_shape():
    layer = SREConvTranspose(3, 4, 2, 3)
    state = _authors_state_dict(3, 2, 4, 3)
    state["bias"] = torch.randn(2)  # the authors' transposed weight is (in, out / groups, n), bias (out,)
    load_authors_state_dict(layer, state)
    assert layer.weight.shape == (4, 2, 2)


def test_the_library_never_loads_the_authors_code():
    assert not hasattr(weights, "authors_sre_conv_module")
    assert AUTHORS_LOADER.is_file()
    if importlib.util.find_spec("SRE_Conv") is None:
        assert authors_sre_conv_module() is None

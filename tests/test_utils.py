from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from monai_sre.utils import load_weights


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

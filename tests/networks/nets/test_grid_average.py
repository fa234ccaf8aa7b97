from __future__ import annotations

import pytest
import torch
from monai.networks.nets import ResNet

from monai_sre.groups import apply_grid_symmetry, grid_symmetries
from monai_sre.networks.nets.grid_average import GridAveraged


def _plain() -> torch.nn.Module:
    return ResNet(
        "basic", [1, 1, 1, 1], [4, 4, 8, 8], n_input_channels=1, num_classes=3, conv1_t_size=3, conv1_t_stride=1
    )


@pytest.mark.parametrize("size", [8, 9])
def test_averaged_classifier_is_exactly_invariant(size):
    inner = _plain().double().eval()
    net = GridAveraged(inner).eval()
    x = torch.randn(2, 1, size, size, size, dtype=torch.float64)
    y = net(x)
    assert (inner(apply_grid_symmetry(x, grid_symmetries(3)[5])) - inner(x)).abs().max() > 1e-6  # not by itself
    for element in grid_symmetries(3):
        torch.testing.assert_close(net(apply_grid_symmetry(x, element)), y, rtol=0, atol=1e-10)


def test_averaged_segmentation_is_exactly_equivariant():
    inner = torch.nn.Sequential(
        torch.nn.Conv3d(1, 3, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv3d(3, 2, 5, padding=2)
    )
    inner = inner.double().eval()
    net = GridAveraged(inner, group="O", output="equivariant").eval()
    x = torch.randn(1, 1, 9, 9, 9, dtype=torch.float64)
    y = net(x)
    for element in [e for e in grid_symmetries(3) if e.is_rotation][::5]:
        torch.testing.assert_close(
            net(apply_grid_symmetry(x, element)), apply_grid_symmetry(y, element), rtol=0, atol=1e-10
        )


def test_non_cubic_inputs_use_the_symmetries_they_admit():
    net = GridAveraged(_plain())
    assert len(net.elements((8, 8, 8))) == 48
    assert len(net.elements((8, 8, 6))) == 16  # swap x/y and flip any axis
    calls = []
    inner = _plain()
    inner.register_forward_hook(lambda *_: calls.append(1))
    GridAveraged(inner, train_samples=4).train()(torch.randn(2, 1, 8, 8, 8))
    assert len(calls) == 4


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="Oq"):
        GridAveraged(_plain(), group="Oq")
    with pytest.raises(ValueError, match="train_samples"):
        GridAveraged(_plain(), train_samples=0)
    with pytest.raises(ValueError, match="acts on 2"):
        GridAveraged(_plain(), group="D4")(torch.randn(1, 1, 8, 8, 8))

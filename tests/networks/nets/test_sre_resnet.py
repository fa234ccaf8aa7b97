from __future__ import annotations

import pytest
import torch
from monai.bundle import ConfigParser
from monai.networks.nets import resnet18

from monai_sre.groups import grid_group
from monai_sre.networks.nets import SREResNet, create_model, list_models
from monai_sre.transforms import apply_grid_symmetry

SMALL = dict(n_input_channels=1, num_classes=3, widen_factor=0.125)  # keeps every registered net quick on CPU
SIZES = (16, 17)  # one even, one odd: every downsampling must stay symmetric on both


def _count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture(scope="module", params=list_models(task="classification"))
def small_model(request):
    torch.manual_seed(0)
    return request.param, create_model(request.param, **SMALL)


def test_forward_shape_and_finite_output(small_model):
    _, model = small_model
    y = model.train()(torch.randn(2, 1, 16, 16, 16))
    assert y.shape == (2, 3) and torch.isfinite(y).all()


def test_every_parameter_gets_a_gradient(small_model):
    name, model = small_model
    model.train().zero_grad()
    model(torch.randn(2, 1, 17, 17, 17)).logsumexp(1).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, f"{name}: no gradient for {missing}"


@pytest.mark.parametrize("size", SIZES)
def test_exact_invariance_under_the_models_grid_symmetry_group(small_model, size):
    """Every registered model names the group it is invariant to: all 48 (SRE), O's 24 rotations, or none (the
    plain baseline, which then must not be: the check can fail)."""
    name, model = small_model
    model.eval()
    x = torch.randn(1, 1, size, size, size)
    elements = grid_group(model.symmetry_group or "Oh").elements
    assert len(elements) >= 24
    batch = torch.cat([apply_grid_symmetry(x, element) for element in elements])
    with torch.no_grad():
        logits = model(batch)
    reference = logits[:1].expand_as(logits)
    if model.symmetry_group is None:
        assert (logits - reference).abs().max() > 1e-3 * reference.abs().max(), name
        return
    torch.testing.assert_close(logits, reference, rtol=1e-4, atol=1e-4 * reference.abs().max().item())


def test_features_instead_of_logits():
    model = SREResNet("bottleneck", [1, 1], [4, 8], n_input_channels=2, feed_forward=False).eval()
    features = model(torch.randn(3, 2, 9, 9, 9))
    assert features.shape == (3, model.num_features) == (3, 32)


def test_two_dimensional_and_per_stage_options():
    model = SREResNet(
        "basic", [1, 2], [4, 8], spatial_dims=2, kernel_sizes=[5, 3], num_bands=[2, None], stem_kernel_size=7
    )
    assert model.stages[0][0].conv1.num_bands == 2 and model.stages[1][0].conv1.num_bands == 2
    assert model.stem[0].kernel_size == (7, 7) and model.stages[1][1].conv2.kernel_size == (3, 3)
    assert model(torch.randn(2, 1, 15, 15)).shape == (2, 2)


def test_parameter_budget_against_monai_resnet18():
    monai_params = _count(resnet18(spatial_dims=3, n_input_channels=1, num_classes=11))
    sre_params = _count(create_model("sre_resnet18", n_input_channels=1, num_classes=11))
    assert sre_params <= 0.15 * monai_params
    paper = _count(create_model("sre_resnet18_paper", n_input_channels=1, num_classes=11))
    assert 3.7e6 < paper < 3.9e6  # DESIGN.md: 3.85 M for the authors' k=5 network


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(block="wide", layers=[1], block_inplanes=[4]), "wide"),
        (dict(block="basic", layers=[], block_inplanes=[]), "layers must be a sequence of one or more positive ints"),
        (
            dict(block="basic", layers=[1, 1], block_inplanes=[4]),
            r"block_inplanes must be one value or one per stage \(2 here\)",
        ),
        (
            dict(block="basic", layers=[1], block_inplanes=[4], kernel_sizes=[3, 3]),
            "kernel_sizes must be one value or one per stage",
        ),
        (
            dict(block="basic", layers=[1], block_inplanes=[4], kernel_sizes=4),
            r"kernel_size must be odd .* got \(4, 4, 4\)",
        ),
        (
            dict(block="basic", layers=[1], block_inplanes=[4], num_classes=0),
            "num_classes must be a positive int, got 0",
        ),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SREResNet(**kwargs)


def test_bundle_config_resolves_full_path_and_short_name():
    config = {
        "imports": ["$import monai_sre"],
        "full": {
            "_target_": "monai_sre.networks.nets.SREResNet",
            "block": "basic",
            "layers": [1],
            "block_inplanes": [4],
        },
        "short": {"_target_": "SREResNet", "block": "basic", "layers": [1], "block_inplanes": [4]},
        "registered": "$monai_sre.create_model('sre_resnet_light', num_classes=4)",
    }
    parser = ConfigParser(config)
    assert isinstance(parser.get_parsed_content("full"), SREResNet)
    assert isinstance(parser.get_parsed_content("short"), SREResNet)
    assert parser.get_parsed_content("registered").fc.out_features == 4


def test_conv_path_reaches_every_sre_convolution():
    from monai_sre.networks.layers import SREConv

    for path in ("dense", "bands"):
        model = SREResNet("bottleneck", [1, 1], [4, 8], kernel_sizes=5, conv_path=path)
        assert {m.path for m in model.modules() if isinstance(m, SREConv)} == {path}
    dense = SREResNet("basic", [1, 1], [4, 8], kernel_sizes=5, conv_path="dense").eval()
    bands = SREResNet("basic", [1, 1], [4, 8], kernel_sizes=5, conv_path="bands").eval()
    bands.load_state_dict(dense.state_dict())
    x = torch.randn(2, 1, 11, 11, 11)
    torch.testing.assert_close(bands(x), dense(x), rtol=1e-4, atol=1e-5)

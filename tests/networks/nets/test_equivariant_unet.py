from __future__ import annotations

import pytest
import torch

from monai_sre.evaluation import assert_equivariant, equivariance_tolerance
from monai_sre.export import _densified
from monai_sre.groups import apply_grid_symmetry, grid_group, grid_symmetries
from monai_sre.networks.layers import GroupConv, SREConv
from monai_sre.networks.nets import GroupUNet, SREUNet, create_model, list_models


def _ready(net: torch.nn.Module, shape: tuple[int, ...]) -> torch.nn.Module:
    """Move the batch-norm running statistics away from their initial values, then switch to eval mode."""
    net.train()(torch.randn(4, *shape[1:], dtype=next(net.parameters()).dtype))
    return net.eval()


def _assert_equivariant_batched(net: torch.nn.Module, x: torch.Tensor, elements) -> list[float]:
    """``net(g x) == g net(x)`` for every element, all transformed inputs in one batch (one forward pass, which
    eval-mode normalisation allows): :func:`assert_equivariant`'s criterion and tolerances at a fraction of its
    time where the CPU is shared (tens of milliseconds of thread overhead per small convolution)."""
    with torch.no_grad():
        moved = net(torch.cat([apply_grid_symmetry(x, e) for e in elements])).split(x.shape[0])
        reference = net(x)
    rtol, atol = equivariance_tolerance(reference.dtype)
    errors = []
    for element, actual in zip(elements, moved):
        expected = apply_grid_symmetry(reference, element)
        rms, scale = (actual - expected).pow(2).mean().sqrt().item(), expected.pow(2).mean().sqrt().item()
        assert rms <= atol + rtol * scale, (
            f"not equivariant under {element}: RMS difference {rms:.3g}, output {scale:.3g}"
        )
        errors.append(rms / scale)
    return errors


def _elements_fitting(shape: tuple[int, ...], group: str):
    """The elements of ``group`` that map the spatial ``shape`` onto itself."""
    return [e for e in grid_group(group).elements if all(shape[p] == shape[i] for i, p in enumerate(e.permutation))]


SMALL_NETS = {
    "sre": lambda: SREUNet(3, 2, 3, features=(2, 3, 4, 2)),
    "sre-linear-instance-dropout": lambda: SREUNet(
        3, 2, 3, features=(2, 3, 4, 2), interp_mode="linear", norm="instance", dropout=0.2
    ),
    "sre-k5-bands": lambda: SREUNet(3, 2, 3, features=(2, 3, 2), kernel_size=5, conv_path="bands"),
    "group-Oh-rotations": lambda: GroupUNet(3, 2, 3, features=(1, 1, 2, 1), space="rotations"),
    "group-Oh-default-spaces": lambda: GroupUNet(3, 2, 3, features=(1, 1, 2, 1)),
    "group-Oh-per-level": lambda: GroupUNet(3, 2, 3, features=(2, 1, 1, 2), space=("trivial", "axes", "rotations")),
    "group-Oh-regular-linear": lambda: GroupUNet(3, 2, 3, features=(1, 1, 1), space="regular", interp_mode="linear"),
}


@pytest.mark.parametrize("name", sorted(SMALL_NETS))
def test_label_map_is_exactly_equivariant_to_all_48_grid_symmetries(name):
    net = SMALL_NETS[name]()
    assert net.symmetry_group == "Oh"
    shape = (2, 2, 8, 8, 8)
    _ready(net, shape)
    errors = _assert_equivariant_batched(net, torch.randn(shape), grid_group("Oh").elements)  # float32 round-off
    assert len(errors) == 48 and max(errors) < 1e-5


def test_sre_options_reach_every_convolution():
    net = SMALL_NETS["sre-k5-bands"]()
    convs = [m for m in net.modules() if isinstance(m, SREConv)]
    assert len(convs) == 2 * (2 + 1)  # depth 1: two per encoder level (2) and per decoder level (1)
    assert {(m.kernel_size, m.path) for m in convs} == {((5, 5, 5), "bands")}
    dropout = SMALL_NETS["sre-linear-instance-dropout"]()
    assert sum(isinstance(m, torch.nn.Dropout) for m in dropout.modules()) == 10
    assert all(isinstance(m, torch.nn.InstanceNorm3d) for m in dropout.modules() if "Norm" in type(m).__name__)


def test_rotation_group_network_is_equivariant_to_the_24_rotations_only():
    net = _ready(GroupUNet(3, 1, 2, features=(1, 1, 1), group="O", space="regular"), (1, 1, 4, 4, 4))
    assert net.symmetry_group == "O" and net.spaces == ("regular", "regular") and net.num_orientations == (24, 24)
    x = torch.randn(2, 1, 4, 4, 4)
    assert len(_assert_equivariant_batched(net, x, grid_group("O").elements)) == 24
    mirror = next(e for e in grid_symmetries(3) if not e.is_rotation)
    with pytest.raises(AssertionError, match="not equivariant"):
        _assert_equivariant_batched(net, x, [mirror])


def test_non_cubic_input_keeps_the_symmetries_of_its_shape():
    net = _ready(SREUNet(3, 1, 2, features=(2, 2, 2)), (1, 1, 4, 8, 8))
    x = torch.randn(1, 1, 4, 8, 8)
    elements = _elements_fitting((4, 8, 8), "Oh")
    assert len(elements) == 16  # 8 flips x (identity, swap of the two equal axes)
    _assert_equivariant_batched(net, x, elements)


@pytest.mark.parametrize(
    "net, group",
    [(lambda: SREUNet(2, 1, 2, features=(2, 3, 2)), "D4"), (lambda: GroupUNet(2, 1, 2, (1, 2, 1), "D4"), "D4")],
)
def test_two_dimensional_networks_are_equivariant_to_d4(net, group):
    net = _ready(net().double(), (1, 1, 8, 8))
    assert net.symmetry_group == group
    assert_equivariant(net, torch.randn(2, 1, 8, 8, dtype=torch.float64), group)  # float64: exact to 1e-10


@pytest.mark.parametrize(
    "features, shape",
    [((2, 3, 2), (2, 1, 8, 8, 8)), ((2, 3, 4, 2), (1, 1, 12, 4, 8)), ((2, 3, 4, 5, 2), (1, 1, 8, 16, 24))],
)
def test_output_shape_follows_the_input(features, shape):
    sre = SREUNet(3, 1, 4, features=features)
    group = GroupUNet(3, 1, 4, features=(1,) * len(features), group="O", space="axes")
    for net in (sre, group):
        assert net.depth == len(features) - 2 and net.size_multiple == 2**net.depth
        assert net(torch.randn(shape)).shape == (shape[0], 4, *shape[2:])


@pytest.mark.parametrize(
    "shape, message",
    [
        ((1, 1, 6, 8, 8), r"multiple of 2\*\*2 = 4 \(4, 8, 12, \.\.\.\) .* got input shape \[1, 1, 6, 8, 8\]"),
        ((1, 1, 8, 8, 9), r"got input shape \[1, 1, 8, 8, 9\]"),
        ((1, 1, 8, 8, 0), r"got input shape \[1, 1, 8, 8, 0\]"),
        ((1, 2, 8, 8, 8), r"expects input of shape \(batch, 1, 3 spatial dims\), got \[1, 2, 8, 8, 8\]"),
        ((1, 1, 8, 8), r"got \[1, 1, 8, 8\]"),
    ],
)
def test_unaccepted_inputs_raise_naming_the_shape(shape, message):
    for net in (SREUNet(3, 1, 2, features=(2, 2, 2, 2)), GroupUNet(3, 1, 2, features=(1, 1, 1, 1))):
        with pytest.raises(ValueError, match=message):
            net(torch.zeros(shape))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: SREUNet(3, 1, 2, features=(4, 4)), r"features must be depth \+ 2 >= 3 positive ints"),
        (lambda: SREUNet(3, 1, 2, features=(4, 0, 4)), "features must be"),
        (lambda: SREUNet(1, 1, 2, features=(4, 4, 4)), "spatial_dims must be 2 or 3, got 1"),
        (lambda: SREUNet(3, 0, 2, features=(4, 4, 4)), "in_channels must be a positive int, got 0"),
        (lambda: SREUNet(3, 1, 2, features=(4, 4, 4), kernel_size=4), "kernel_size must be odd"),
        (lambda: SREUNet(3, 1, 2, features=(4, 4, 4), interp_mode="cubic"), "cubic"),
        (lambda: GroupUNet(3, 1, 2, features=(1, 1, 1), group="D4"), "group 'D4' acts on 2 spatial dims"),
        (lambda: GroupUNet(3, 1, 2, features=(1, 1, 1), space="bogus"), "bogus"),
        (lambda: GroupUNet(3, 1, 2, features=(1, 1, 1), space=("axes",) * 3), r"one per level \(2 here\)"),
        (lambda: GroupUNet(3, 1, 0, features=(1, 1, 1)), "out_channels must be a positive int, got 0"),
    ],
)
def test_bad_arguments_raise(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_registry_builds_the_light_networks():
    assert {"group_unet_light", "plain_unet_light", "sre_unet_light"} <= set(list_models("*unet*"))
    x = torch.randn(1, 2, 16, 16, 16)  # the light networks have depth 4: multiples of 16
    for name, cls in (("sre_unet_light", SREUNet), ("group_unet_light", GroupUNet)):
        net = create_model(name, in_channels=2, out_channels=5).eval()
        assert isinstance(net, cls) and net.symmetry_group == "Oh" and net.depth == 4
        assert net.features == ((8, 16, 32, 64, 128, 8) if cls is SREUNet else (8, 2, 4, 8, 16, 8))
        assert net(x).shape == (1, 5, 16, 16, 16)
    # the group network keeps no orientation at full resolution, the 24 rotations below
    assert create_model("group_unet_light").spaces == ("trivial",) + ("rotations",) * 4
    small = create_model("group_unet_light", features=(1, 1, 1), group="O")  # kwargs override
    assert small.symmetry_group == "O" and small.spaces == ("trivial", "regular")
    assert create_model("group_unet_light", space="axes").spaces == ("axes",) * 5


@pytest.mark.parametrize("name", ["sre", "group-Oh-per-level"])
def test_every_parameter_gets_a_gradient(name):
    net = SMALL_NETS[name]().train()
    net(torch.randn(2, 2, 8, 8, 8)).logsumexp(1).sum().backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, missing


@pytest.mark.parametrize("name", ["sre", "group-Oh-per-level"])
def test_dense_copy_and_trace_compute_the_same_label_map(name):
    net = _ready(SMALL_NETS[name](), (1, 2, 8, 8, 8))
    x = torch.randn(2, 2, 8, 8, 8)
    with torch.no_grad():
        expected = net(x)
        dense = _densified(net)  # what export_onnx writes: plain convolutions only
        assert not any(isinstance(m, (SREConv, GroupConv)) for m in dense.modules())
        torch.testing.assert_close(dense(x), expected, rtol=1e-4, atol=1e-5)
        traced = torch.jit.trace(net, x)  # the bundles' TorchScript export traces
        torch.testing.assert_close(traced(torch.flip(x, [2])), net(torch.flip(x, [2])), rtol=1e-4, atol=1e-5)


def test_torch_export_round_trip(tmp_path):
    net = _ready(SMALL_NETS["sre"](), (1, 2, 8, 8, 8))
    x = torch.randn(2, 2, 8, 8, 8)
    torch.export.save(torch.export.export(net, (x,)), tmp_path / "net.pt2")
    loaded = torch.export.load(tmp_path / "net.pt2").module()
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), net(x), rtol=1e-5, atol=1e-5)


def test_onnx_export_with_dynamic_batch(tmp_path):
    pytest.importorskip("onnxscript")
    pytest.importorskip("onnxruntime")
    from monai_sre.export import export_onnx, verify_onnx

    net = _ready(SMALL_NETS["group-Oh-per-level"](), (1, 2, 8, 8, 8))
    path = export_onnx(net, tmp_path / "unet.onnx", (1, 2, 8, 8, 8))
    assert sorted(verify_onnx(path, net, (1, 2, 8, 8, 8), batch_sizes=(1, 3))) == [1, 3]


def test_group_features_keep_orientation_inside():
    """The hidden features are not invariant: a rotation permutes their orientation channels (exactly)."""
    net = _ready(GroupUNet(3, 1, 2, features=(1, 1, 1), space="rotations"), (1, 1, 4, 4, 4))
    lifted = net.down[0]
    x = torch.randn(1, 1, 4, 4, 4)
    g = grid_group("Oh").elements[5]
    with torch.no_grad():
        moved, features = lifted(apply_grid_symmetry(x, g)), apply_grid_symmetry(lifted(x), g)
    assert (moved - features).abs().max() > 1e-3  # same voxels, orientations permuted
    torch.testing.assert_close(moved.sort(1).values, features.sort(1).values)


def _architecture(net: torch.nn.Module) -> tuple:
    """What makes two networks the same architecture: module types and options, parameter and buffer shapes."""
    return repr(net), [(name, tuple(t.shape)) for name, t in net.state_dict().items()]


def test_class_defaults_are_the_registered_light_recipe():
    """``GroupUNet()`` is ``group_unet_light()``: 8 invariant channels at full resolution, then Oh's 24 rotations."""
    net = GroupUNet()
    assert _architecture(net) == _architecture(create_model("group_unet_light"))
    assert net.features == (8, 2, 4, 8, 16, 8) and net.spaces == ("trivial",) + ("rotations",) * 4
    assert net.num_orientations == (1, 24, 24, 24, 24)
    assert GroupUNet(2, group="D4", features=(2, 1, 1, 2)).spaces == ("trivial", "regular", "regular")
    # the registry's builder is thin: the same network under the same keyword arguments
    options = dict(features=(2, 1, 1, 2), group="O", norm=("group", {"num_groups": 2}), interp_mode="linear")
    assert _architecture(GroupUNet(3, 2, 3, **options)) == _architecture(
        create_model("group_unet_light", in_channels=2, out_channels=3, **options)
    )


def test_points_is_a_deprecated_name_of_num_orientations(monkeypatch):
    from monai_sre import deprecation

    monkeypatch.setattr(deprecation, "_warned", set())
    net = GroupUNet(3, 1, 2, features=(1, 1, 1), space=("trivial", "axes"))
    with pytest.warns(FutureWarning, match=r"GroupUNet\.points is deprecated .* GroupUNet\.num_orientations"):
        assert net.points == net.num_orientations == (1, 3)

from __future__ import annotations

import math

import pytest
import torch
from monai.inferers import SimpleInferer
from torch import nn

from monai_sre.evaluation import (
    RotationSweep,
    evaluate_segmentation_robustness,
    label_map,
    predicted_labels,
    segmentation_metrics,
)

CENTRES = (-1.0, 0.5, 2.0)  # class c wherever the intensity is nearest CENTRES[c]


class NearestCentre(nn.Module):
    """A per-voxel 3-class rule (a 1x1x1 convolution, written out: CPU conv3d is slow on tiny inputs): the logits
    ``2 c x - c^2`` have their argmax at the centre ``c`` nearest to the intensity ``x``.

    It commutes with every grid symmetry exactly, and with nearest-neighbour resampling too.
    """

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(2 * torch.tensor(CENTRES))
        self.bias = nn.Parameter(-(torch.tensor(CENTRES) ** 2))

    def forward(self, x):
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return x * self.weight.reshape(shape) + self.bias.reshape(shape)


def nearest_centre() -> NearestCentre:
    return NearestCentre()


class FixedMask(nn.Module):
    """The same rule, but class 0 outside a fixed slab of the grid: not equivariant."""

    def __init__(self) -> None:
        super().__init__()
        self.rule = nearest_centre()

    def forward(self, x):
        logits = self.rule(x)
        logits[:, 1:, :2] = -1e3  # the first two planes along spatial axis 0 are always background
        return logits


def _images(count=4, size=6, seed=0):
    return 1.5 * torch.randn(count, 1, size, size, size, generator=torch.Generator().manual_seed(seed))


def _data(images, labels, batch=2):
    return [{"image": images[i : i + batch], "label": labels[i : i + batch]} for i in range(0, len(images), batch)]


@torch.no_grad()
def _rule_labels(images):
    return predicted_labels(nearest_centre()(images)).float()  # float, as LoadImage gives label maps


def test_an_exactly_equivariant_network_gives_the_same_dice_under_all_48_grid_symmetries():
    images = _images()
    report = evaluate_segmentation_robustness(nearest_centre(), _data(images, _rule_labels(images)), "grid48")
    assert report.task == "segmentation" and report.num_samples == 4 and len(report.cases) == 48
    assert report.metrics == ("dice", "dice_1", "dice_2", "agreement")
    for metric in report.metrics:
        assert report.upright[metric] == 1.0 and set(report.values(metric)) == {1.0}, metric
    # labels from another rule (a perturbed image): Dice below 1, still identical for every symmetry
    noisy = _rule_labels(images + 0.5 * torch.randn(images.shape, generator=torch.Generator().manual_seed(1)))
    report = evaluate_segmentation_robustness(nearest_centre(), _data(images, noisy), "grid48", progress=False)
    assert 0.2 < report.upright["dice"] < 0.95
    for metric in ("dice", "dice_1", "dice_2"):
        assert all(v == pytest.approx(report.upright[metric], abs=1e-12) for v in report.values(metric)), metric
    assert report.summary()["dice_gap"] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("labels", ["rotate", "map_back"])
def test_whole_volumes_of_any_shape_are_permuted_by_grid_symmetries_and_stay_exact(labels):
    """A 7 x 4 x 5 volume (and a 6 x 4 x 4 one in the same run): a 90-degree rotation permutes its shape, image and
    label map alike; every voxel is scored, and an exactly equivariant network scores the same under all 48."""
    shapes = [(7, 4, 5), (6, 4, 4)]
    images = [
        1.5 * torch.randn(1, 1, *shape, generator=torch.Generator().manual_seed(i)) for i, shape in enumerate(shapes)
    ]
    noisy = [_rule_labels(x + 0.5 * torch.randn(x.shape, generator=torch.Generator().manual_seed(9))) for x in images]
    data = [{"image": x, "label": y} for x, y in zip(images, noisy)]
    report = evaluate_segmentation_robustness(nearest_centre(), data, "grid48", labels=labels, progress=False)
    assert len(report.cases) == 48 and 0.2 < report.upright["dice"] < 0.95
    assert set(report.values("agreement")) == {1.0}
    assert all(v == pytest.approx(report.upright["dice"], abs=1e-12) for v in report.values("dice"))


def test_a_fixed_spatial_mask_gives_different_dice_per_symmetry():
    images = _images()
    report = evaluate_segmentation_robustness(
        FixedMask(), _data(images, _rule_labels(images)), "grid48", progress=False
    )
    dice = report.values("dice")
    assert len({round(v, 9) for v in dice}) > 1 and max(dice) - min(dice) > 0.01
    name, worst = report.worst("dice")
    assert worst == min(dice) and name.startswith("grid")
    assert min(report.values("agreement")) < 1.0 and report.upright["agreement"] == 1.0


def test_nearest_resampling_commutes_with_a_per_voxel_rule_so_the_paper_protocol_is_flat_in_rotate_mode():
    """The paper protocol resamples images with nearest neighbour: a per-voxel rule then scores 1 at every angle,
    provided the corners filled from outside (the fill 0 falls into class 1) are left out of the score."""
    images = _images(count=2, size=8)
    data = _data(images, _rule_labels(images))
    rotated = evaluate_segmentation_robustness(nearest_centre(), data, "paper", progress=False)
    assert len(rotated.cases) == 39 and set(rotated.values("dice")) == {1.0}
    assert set(rotated.values("agreement")) == {1.0}
    # map_back: rotating back with nearest loses voxels except at multiples of 90 degrees
    sweep = RotationSweep("paper")
    sweep.cases = [c for c in sweep if c.name in ("x+000", "x+030", "x+090", "y+180", "y+210", "z+270", "z+360")]
    mapped = evaluate_segmentation_robustness(nearest_centre(), data, sweep, labels="map_back", progress=False)
    by_name = {case["name"]: case["dice"] for case in mapped.cases}
    for name in ("x+000", "x+090", "y+180", "z+270", "z+360"):
        assert by_name[name] == 1.0, name
    assert by_name["x+030"] < 0.99 and by_name["y+210"] < 0.99 and mapped.settings["labels"] == "map_back"


def test_map_back_mode_under_grid_symmetries_and_crops():
    images = _images()
    data = _data(images, _rule_labels(images))
    mapped = evaluate_segmentation_robustness(nearest_centre(), data, "grid48", labels="map_back", progress=False)
    assert set(mapped.values("dice")) == {1.0} and set(mapped.values("agreement")) == {1.0}
    shapes = []
    network = nearest_centre()
    network.register_forward_hook(lambda module, args, out: shapes.append(tuple(args[0].shape[2:])))
    cropped = evaluate_segmentation_robustness(network, data, "flips", labels="map_back", progress=False, crop_size=4)
    assert set(shapes) == {(4, 4, 4)} and set(cropped.values("dice")) == {1.0}
    assert cropped.settings["crop_size"] == [4, 4, 4]
    masked = evaluate_segmentation_robustness(FixedMask(), data, "grid48", labels="map_back", progress=False)
    assert len({round(v, 9) for v in masked.values("dice")}) > 1


def test_label_maps_are_never_interpolated_under_haar_rotations():
    """Labels {0, 2}, a network that predicts background everywhere, and ``ignore_empty=False``: class 1 scores 1
    only while no label 1 appears (a linear interpolation of 0 and 2 would make some)."""

    class Background(nn.Module):
        def forward(self, x):
            return torch.cat([torch.ones_like(x), torch.zeros_like(x), torch.zeros_like(x)], 1)

    images = _images(size=8)
    labels = 2.0 * (images > 0)
    report = evaluate_segmentation_robustness(
        Background(), _data(images, labels), "haar-4", num_classes=3, ignore_empty=False, progress=False
    )
    assert set(report.values("dice_1")) == {1.0} and set(report.values("dice_2")) == {0.0}
    case = RotationSweep("haar-4").cases[0]
    assert case.mode == "bilinear" and not set(case.apply(labels).unique().tolist()) <= {0.0, 2.0}


def test_absent_classes_are_nan_and_left_out_of_the_mean():
    images = _images()
    labels = (_rule_labels(images) == 1).float()  # class 2 never in the labels
    report = evaluate_segmentation_robustness(nearest_centre(), _data(images, labels), "flips", progress=False)
    assert math.isnan(report.upright["dice_2"]) and report.upright["dice"] == report.upright["dice_1"]
    assert math.isnan(report.mean("dice_2")) and report.worst("dice_2")[0] == ""
    strict = evaluate_segmentation_robustness(
        nearest_centre(), _data(images, labels), "flips", ignore_empty=False, progress=False
    )
    assert strict.upright["dice_2"] == 0.0  # the network predicts class 2 where the labels have none


def test_metric_helpers():
    labels = torch.tensor([[[0, 1, 1, 2]]])
    values = segmentation_metrics(torch.tensor([[[0, 1, 1, 1]]]), labels, 3)
    assert values == pytest.approx({"dice": 0.4, "dice_1": 0.8, "dice_2": 0.0})
    valid = torch.tensor([[[True, True, True, False]]])
    assert segmentation_metrics(torch.tensor([[[0, 1, 1, 1]]]), labels, 3, valid)["dice_1"] == 1.0
    named = segmentation_metrics(labels, labels, 3, include_background=True, class_names=["bg", "a", "b"])
    assert named == {"dice": 1.0, "dice_bg": 1.0, "dice_a": 1.0, "dice_b": 1.0}
    with pytest.raises(ValueError, match="class_names must be 3 distinct names"):
        segmentation_metrics(labels, labels, 3, class_names=["bg", "a"])
    with pytest.raises(ValueError, match=r"labels must lie in 0..1"):
        segmentation_metrics(labels, labels, 2)
    one_hot = torch.nn.functional.one_hot(labels[:, 0], 3).movedim(-1, 1)
    assert torch.equal(label_map(one_hot, 1), labels) and torch.equal(label_map(labels[:, 0], 1), labels)
    with pytest.raises(ValueError, match="integer class indices"):
        label_map(torch.tensor([[[0.0, 0.5]]]), 1)
    assert predicted_labels(torch.tensor([[[-1.0, 2.0]]])).tolist() == [[[0, 1]]]  # one channel: binary logit


def test_single_channel_2d_one_hot_labels_an_inferer_and_modes_restored():
    class Binary(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norm = nn.BatchNorm2d(1, affine=False)
            self.modes = []

        def forward(self, x):
            self.modes.append(self.training)
            return x - 0.5

    images = torch.randn(4, 1, 6, 6, generator=torch.Generator().manual_seed(0))
    one_hot = torch.cat([images <= 0.5, images > 0.5], 1).float()
    network = Binary()
    report = evaluate_segmentation_robustness(
        network, _data(images, one_hot), "grid48", inferer=SimpleInferer(), class_names=["bg", "fg"], progress=False
    )
    assert len(report.cases) == 8 and report.metrics == ("dice", "dice_fg", "agreement")
    assert set(report.values("dice_fg")) == {1.0} and report.settings["num_classes"] == 2
    assert network.training and not any(network.modes)


def test_errors_are_named():
    images = _images()
    data = _data(images, _rule_labels(images))
    with pytest.raises(ValueError, match="num_classes is 4 but the network returns 3 channel"):
        evaluate_segmentation_robustness(nearest_centre(), data, "flips", num_classes=4, progress=False)

    class Shrinking(NearestCentre):
        def forward(self, x):
            return super().forward(x)[..., 1:]

    with pytest.raises(ValueError, match="must return logits"):
        evaluate_segmentation_robustness(Shrinking(), data, "flips", progress=False)
    with pytest.raises(ValueError, match="label maps .* do not fit images"):
        evaluate_segmentation_robustness(nearest_centre(), [(images, _rule_labels(images)[:, :, :4])], progress=False)
    with pytest.raises(ValueError, match="map_back"):
        evaluate_segmentation_robustness(nearest_centre(), data, "flips", labels="inverse", progress=False)
    with pytest.raises(ValueError, match=r"labels must lie in 0..2"):
        evaluate_segmentation_robustness(nearest_centre(), _data(images, 3 * torch.ones_like(images)), progress=False)


class Recorder(nn.Module):
    """The nearest-centre rule, keeping every input it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.rule, self.inputs = nearest_centre(), []

    def forward(self, x):
        self.inputs.append(x.clone())
        return self.rule(x)


@pytest.mark.parametrize("fill_value", [0.0, -1.0])
def test_rotations_fill_what_comes_from_outside_with_the_fill_value_and_grid_symmetries_move_voxels_only(fill_value):
    images = torch.full((1, 1, 8, 8, 8), 0.5)
    labels = _rule_labels(images)
    recorder = Recorder()
    report = evaluate_segmentation_robustness(
        recorder, _data(images, labels), "haar-2", fill_value=fill_value, progress=False
    )
    rotated = recorder.inputs[1:]
    assert all(x.min() == fill_value and x.max() == pytest.approx(0.5) for x in rotated)  # trilinear edges between
    assert report.settings["fill_value"] == fill_value
    recorder.inputs.clear()
    evaluate_segmentation_robustness(recorder, _data(images, labels), "flips", fill_value=fill_value, progress=False)
    assert all(torch.equal(x, images) for x in recorder.inputs)

from __future__ import annotations

import math

import pytest
import torch
from monai.networks.nets import ResNet
from torch import nn

from monai_sre import create_model
from monai_sre.evaluation import RotationSweep, evaluate_rotation_robustness, prediction_consistency


def _data(count=24, size=12, seed=0):
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(count, 1, size, size, size, generator=generator)
    labels = torch.arange(count) % 2
    return [{"image": images[i : i + 8], "label": labels[i : i + 8, None]} for i in range(0, count, 8)]


class Recorder(nn.Module):
    """A tiny classifier that records its training flag and input shapes, and can fail on a chosen call."""

    def __init__(self, fail_on_call: int | None = None) -> None:
        super().__init__()
        self.norm = nn.BatchNorm3d(1)
        self.linear = nn.Linear(1, 2)
        self.fail_on_call, self.calls, self.modes, self.shapes = fail_on_call, 0, [], []

    def forward(self, x):
        self.calls += 1
        self.modes.append(self.training)
        self.shapes.append(tuple(x.shape[2:]))
        if self.calls == self.fail_on_call:
            raise RuntimeError("failing on purpose")
        return self.linear(self.norm(x).mean((2, 3, 4)))


def test_an_invariant_model_is_flat_under_grid48_and_a_plain_cnn_is_not():
    sre = create_model("sre_resnet_light", num_classes=2)
    report = evaluate_rotation_robustness(sre, _data(), "grid48", progress=False)
    assert report.num_samples == 24 and len(report.cases) == 48
    for metric in ("accuracy", "auc"):
        assert all(abs(v - report.upright[metric]) < 1e-9 for v in report.values(metric)), metric
        assert abs(report.summary()[f"{metric}_gap"]) < 1e-9
    assert report.consistency == 1.0 and report.summary()["consistency"] == 1.0  # the same class for every input
    plain = ResNet("basic", [1, 1, 1, 1], [4, 8, 8, 8], n_input_channels=1, num_classes=2)
    plain_report = evaluate_rotation_robustness(plain, _data(), "grid48", progress=False)
    assert len({round(v, 9) for v in plain_report.values("auc")}) > 1
    assert plain_report.consistency < 1.0


def test_prediction_consistency_counts_inputs_with_one_class_in_every_case():
    predictions = torch.tensor([[0, 1, 2, 1], [0, 1, 1, 1], [0, 2, 2, 1]])  # upright, then two cases
    assert prediction_consistency(predictions) == 0.5  # inputs 0 and 3
    assert prediction_consistency(predictions[:1]) == 1.0
    assert math.isnan(prediction_consistency(torch.zeros(3, 0, dtype=torch.long)))
    with pytest.raises(ValueError, match="cases, inputs"):
        prediction_consistency(torch.zeros(3))


def test_paper_protocol_with_pairs_and_a_progress_bar():
    model = create_model("sre_resnet_light", num_classes=2)
    data = [(batch["image"], batch["label"]) for batch in _data()]  # (image, label) pairs work too
    report = evaluate_rotation_robustness(model, data, "paper", metrics=["accuracy", "auc"], progress=True)
    assert report.protocol == "paper" and [c["name"] for c in report.cases][:2] == ["x+000", "x+030"]
    name, value = report.worst("auc")
    assert value == min(report.values("auc")) and name in {c["name"] for c in report.cases}
    assert math.isclose(report.mean("accuracy"), sum(report.values("accuracy")) / 39)


def test_eval_mode_inside_and_every_module_mode_restored():
    model = Recorder()
    model.norm.eval()  # a frozen BatchNorm inside a model in train mode stays frozen
    sweep = RotationSweep("flips")
    report = evaluate_rotation_robustness(model, _data(), sweep, metrics=["accuracy"], progress=False)
    assert len(report.cases) == 3 and model.calls == 4 * 3
    assert not any(model.modes)
    assert model.training and not model.norm.training and model.linear.training


def test_train_mode_is_restored_when_the_evaluation_raises():
    model = Recorder(fail_on_call=5)
    with pytest.raises(RuntimeError, match="failing on purpose"):
        evaluate_rotation_robustness(model, _data(), "flips", progress=False)
    assert model.training and model.norm.training
    bad_labels = [{"image": torch.zeros(2, 1, 4, 4, 4), "label": torch.tensor([0, 5])}]
    with pytest.raises(ValueError, match="labels must lie in 0..1"):
        evaluate_rotation_robustness(model, bad_labels, "flips", progress=False)
    assert model.training
    model.eval()
    evaluate_rotation_robustness(model, _data(), "flips", progress=False)
    assert not model.training


@pytest.mark.parametrize("crop_size", [8, (8, 8, 8)])
def test_crop_after_rotation(crop_size):
    model = Recorder()
    evaluate_rotation_robustness(model, _data(), "flips", progress=False, crop_size=crop_size, device="cpu")
    assert set(model.shapes) == {(8, 8, 8)}
    with pytest.raises(
        ValueError, match=r"crop_size \(16, 16, 16\) does not fit images of spatial shape \(12, 12, 12\)"
    ):
        evaluate_rotation_robustness(model, _data(), "flips", progress=False, crop_size=16)


def test_bad_batches_are_named():
    model = create_model("sre_resnet_light", num_classes=2)
    with pytest.raises(ValueError, match=r"batch 0 has no key\(s\) \['label'\]"):
        evaluate_rotation_robustness(model, [{"image": torch.zeros(1, 1, 8, 8, 8)}], progress=False)
    with pytest.raises(ValueError, match="data yielded no batches"):
        evaluate_rotation_robustness(model, [], progress=False)

from __future__ import annotations

import csv
import math

import pytest
import torch
from monai.networks.nets import ResNet

from monai_sre import create_model
from monai_sre.evaluation import RobustnessReport, evaluate_rotation_robustness


def _data(count=24, size=12, seed=0):
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(count, 1, size, size, size, generator=generator)
    labels = torch.arange(count) % 2
    return [{"image": images[i : i + 8], "label": labels[i : i + 8, None]} for i in range(0, count, 8)]


def test_an_invariant_model_is_flat_under_grid48_and_a_plain_cnn_is_not():
    torch.manual_seed(0)
    sre = create_model("sre_resnet_light", num_classes=2)
    report = evaluate_rotation_robustness(sre, _data(), "grid48", progress=False)
    assert report.num_samples == 24 and len(report.cases) == 48
    for metric in ("accuracy", "auc"):
        assert all(abs(v - report.upright[metric]) < 1e-9 for v in report.values(metric)), metric
        assert abs(report.summary()[f"{metric}_gap"]) < 1e-9
    plain = ResNet("basic", [1, 1, 1, 1], [4, 8, 8, 8], n_input_channels=1, num_classes=2)
    plain_report = evaluate_rotation_robustness(plain, _data(), "grid48", progress=False)
    assert len({round(v, 9) for v in plain_report.values("auc")}) > 1


def test_report_summary_worst_case_and_files_round_trip(tmp_path):
    model = create_model("sre_resnet_light", num_classes=2)
    data = [(batch["image"], batch["label"]) for batch in _data()]  # (image, label) pairs work too
    report = evaluate_rotation_robustness(model, data, "paper", metrics=["accuracy", "auc"], progress=True)
    name, value = report.worst("auc")
    assert value == min(report.values("auc")) and name in {c["name"] for c in report.cases}
    assert math.isclose(report.mean("accuracy"), sum(report.values("accuracy")) / 39)
    paths = report.save(tmp_path)
    assert RobustnessReport.load(paths["json"]).to_dict() == report.to_dict()
    rows = list(csv.DictReader(paths["csv"].open()))
    assert len(rows) == 40 and rows[0]["name"] == "upright" and rows[5]["name"] == "x+120"
    assert paths["png"].stat().st_size > 10_000


def test_bad_batches_are_named():
    model = create_model("sre_resnet_light", num_classes=2)
    with pytest.raises(ValueError, match=r"batch 0 has no key\(s\) \['label'\]"):
        evaluate_rotation_robustness(model, [{"image": torch.zeros(1, 1, 8, 8, 8)}], progress=False)
    with pytest.raises(ValueError, match="data yielded no batches"):
        evaluate_rotation_robustness(model, [], progress=False)

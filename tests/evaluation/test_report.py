from __future__ import annotations

import csv
import json
import math

import pytest

from monai_sre.evaluation import RobustnessReport


def _report(**overrides) -> RobustnessReport:
    cases = [
        {"name": f"{axis}{angle:+04d}", "group": axis, "angle": float(angle), "accuracy": acc, "auc": auc}
        for axis, angle, acc, auc in [
            ("x", 0, 0.9, 0.95),
            ("x", 30, 0.7, 0.85),
            ("y", 0, 0.9, 0.95),
            ("y", 30, 0.8, float("nan")),
        ]
    ]
    fields = dict(protocol="paper", metrics=("accuracy", "auc"), upright={"accuracy": 0.9, "auc": 0.95}, cases=cases)
    return RobustnessReport(**{**fields, "num_samples": 12, **overrides})


def test_mean_worst_and_summary_skip_nan():
    report = _report()
    assert report.values("accuracy") == [0.9, 0.7, 0.9, 0.8]
    assert report.mean("accuracy") == pytest.approx(0.825) and report.mean("auc") == pytest.approx(0.25 + 2 / 3)
    assert report.worst("accuracy") == ("x+030", 0.7) and report.worst("auc") == ("x+030", 0.85)
    summary = report.summary()
    assert summary["accuracy_gap"] == pytest.approx(0.9 - 0.825) and summary["auc_worst_case"] == "x+030"
    assert set(summary) == {
        f"{m}_{k}" for m in ("accuracy", "auc") for k in ("upright", "mean", "worst", "worst_case", "gap")
    }


def test_all_nan_and_empty_reports():
    report = _report(cases=[{"name": "a", "group": "g", "angle": None, "accuracy": float("nan"), "auc": 0.5}])
    name, value = report.worst("accuracy")
    assert name == "" and math.isnan(value) and math.isnan(report.mean("accuracy"))
    assert math.isnan(_report(cases=[]).mean("auc"))


def test_json_and_csv_round_trip_without_a_plot(tmp_path):
    report = _report()
    report.consistency = 0.75
    paths = report.save(tmp_path / "out", plot=False)
    assert set(paths) == {"json", "csv"} and paths["json"].name == "robustness_paper.json"
    assert not (tmp_path / "out" / "robustness_paper.png").exists()
    loaded = RobustnessReport.load(paths["json"])
    assert json.dumps(loaded.to_dict()) == json.dumps(report.to_dict())  # nan == nan as text
    assert loaded.consistency == 0.75 and loaded.summary()["consistency"] == 0.75
    rows = list(csv.DictReader(paths["csv"].open()))
    assert [r["name"] for r in rows] == ["upright", "x+000", "x+030", "y+000", "y+030"]
    assert rows[0]["angle"] == "" and rows[2]["angle"] == "30.0" and rows[4]["auc"] == "nan"
    named = report.save(tmp_path, prefix="custom", plot=False)
    assert named["csv"].name == "custom.csv"
    case = {"name": "grid+x+y+z", "group": "grid", "angle": None, "accuracy": 1.0, "auc": 1.0}
    rows = list(csv.DictReader(_report(cases=[case]).save(tmp_path, plot=False)["csv"].open()))
    assert rows[1]["angle"] == ""


def test_save_draws_the_plot(tmp_path):
    paths = _report().save(tmp_path)
    assert paths["png"] == tmp_path / "robustness_paper.png" and paths["png"].read_bytes()[:4] == b"\x89PNG"


def _segmentation_report() -> RobustnessReport:
    metrics = ("dice", "dice_liver", "dice_tumour", "agreement")
    cases = [
        {
            "name": "haar-0",
            "group": "haar",
            "angle": None,
            "dice": 0.8,
            "dice_liver": 0.9,
            "dice_tumour": 0.7,
            "agreement": 0.95,
        },
        {
            "name": "haar-1",
            "group": "haar",
            "angle": None,
            "dice": 0.9,
            "dice_liver": 0.9,
            "dice_tumour": float("nan"),
            "agreement": 0.97,
        },
    ]
    upright = {"dice": 0.85, "dice_liver": 0.95, "dice_tumour": 0.75, "agreement": 1.0}
    settings = {"labels": "map_back", "num_classes": 3, "class_names": ["bg", "liver", "tumour"], "crop_size": None}
    return RobustnessReport("haar-2", metrics, upright, cases, 4, task="segmentation", settings=settings)


def test_segmentation_reports_round_trip_and_write_csv_and_png(tmp_path):
    report = _segmentation_report()
    assert report.summary()["dice_worst_case"] == "haar-0" and report.mean("dice_tumour") == 0.7
    paths = report.save(tmp_path)
    loaded = RobustnessReport.load(paths["json"])
    assert loaded.task == "segmentation" and loaded.settings == report.settings and loaded.metrics == report.metrics
    assert json.dumps(loaded.to_dict()) == json.dumps(report.to_dict())
    rows = list(csv.DictReader(paths["csv"].open()))
    assert list(rows[0]) == ["name", "group", "angle", "dice", "dice_liver", "dice_tumour", "agreement"]
    assert rows[2]["dice_tumour"] == "nan" and paths["png"].read_bytes()[:4] == b"\x89PNG"


def test_reports_saved_before_the_task_field_load_as_classification(tmp_path):
    old = _report().to_dict()
    del old["task"], old["settings"]
    (tmp_path / "old.json").write_text(json.dumps(old))
    loaded = RobustnessReport.load(tmp_path / "old.json")
    assert (
        loaded.task == "classification"
        and loaded.settings == {}
        and loaded.values("accuracy") == _report().values("accuracy")
    )

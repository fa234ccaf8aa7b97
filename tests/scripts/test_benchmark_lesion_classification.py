from __future__ import annotations

import csv
import json
import sys

import pytest

AVERAGED = "plain_resnet_light, SO(3) augmentation, grid-averaged (48 passes)"
SOURCE = "plain_resnet_light, SO(3) augmentation"


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("benchmark_lesion_classification")


def _main(script, monkeypatch, *args) -> None:
    monkeypatch.setattr(sys, "argv", ["benchmark_lesion_classification.py", *map(str, args)])
    script.main()


def test_the_grid_averaged_model_evaluates_its_sources_run_and_the_folds_are_summarised(
    script, pyradiomics_sdist, tmp_path, monkeypatch, capsys
):
    output = tmp_path / "out"
    args = [
        "--sdist", pyradiomics_sdist, "--output", output, "--work-dir", tmp_path / "work", "--folds", 3,
        "--models", "plain_resnet_light+so3+grid", "--per-patient", 1, "--epochs", 1, "--lr-grid", 0.01, 0.001,
    ]  # fmt: skip
    _main(script, monkeypatch, *args)
    data = json.loads((output / "fold3" / "results.json").read_text())
    # only the source model trains (the grid and its run); the averaged one evaluates its checkpoint 48x averaged
    assert {r["model"] for r in data["learning_rate_grid"]} == {SOURCE}
    source, row = data["rows"]
    assert (source["model"], row["model"], row["fraction"], row["seed"], row["num_train"]) == (
        SOURCE,
        AVERAGED,
        1.0,
        0,
        6,
    )
    assert row["learning_rate"] == data["learning_rates"][SOURCE] in (0.01, 0.001)
    assert (row["train_seconds"], row["best_val_accuracy"]) == (source["train_seconds"], source["best_val_accuracy"])
    assert row["grid48_accuracy_worst"] == pytest.approx(row["accuracy_upright"])  # exactly invariant on the grid
    assert row["grid24_consistency"] == 1.0
    with (tmp_path / "work" / "fold3" / "example" / "test.csv").open() as handle:
        assert {r["patient"] for r in csv.DictReader(handle)} == {"breast1"}  # fold 3 tests breast1
    table = (output / "table.md").read_text()
    assert "Test patient per fold: f3 breast1." in table and f"| {AVERAGED} | 1 | " in table
    # the same command again trains nothing; another --per-patient on the same example is refused, naming it
    before = (output / "fold3" / "results.json").read_text()
    _main(script, monkeypatch, *args)
    assert (output / "fold3" / "results.json").read_text() == before
    with pytest.raises(SystemExit):
        _main(script, monkeypatch, *args[:-6], 2, *args[-5:])  # --per-patient 2
    assert "holds 6 training crops, built with another --per-patient than 2" in capsys.readouterr().err


def test_fold_table_is_the_mean_over_folds_with_every_fold_listed(script):
    row = {"model": "m", "learning_rate": 0.003, "accuracy_upright": 0.5, "haar-64_accuracy_worst": 0.4,
           "grid48_accuracy_worst": 0.5, "grid24_consistency": 1.0, "train_seconds": 30}  # fmt: skip
    rows_by_fold = {
        0: [{**row, "haar-64_accuracy_mean": 0.6, "haar-64_consistency": 0.9}],
        2: [{**row, "haar-64_accuracy_mean": 0.8, "haar-64_consistency": 0.7, "learning_rate": 0.01}],
    }
    table = script.fold_table(rows_by_fold)
    assert "Test patient per fold: f0 brain2, f2 brain1." in table
    assert "| m | 2 | 0.003, 0.01 | 0.500 ± 0.000 | 0.700 ± 0.141 | 0.400 ± 0.000 |" in table
    assert "| m | f0 0.600, f2 0.800 | f0 0.900, f2 0.700 |" in table


def test_the_summary_pairs_every_model_with_the_default_by_fold(script, tmp_path):
    default = "group_resnet_light, SO(3) augmentation of 50 % of samples"
    row = {"fraction": 1.0, "seed": 0, "learning_rate": 0.003, "accuracy_upright": 0.5, "haar-64_accuracy_worst": 0.4,
           "grid48_accuracy_worst": 0.5, "grid24_consistency": 1.0, "train_seconds": 30, "haar-64_consistency": 0.9}  # fmt: skip
    for fold, (ours, theirs) in enumerate(((0.7, 0.6), (0.8, 0.5))):
        rows = [
            {**row, "model": default, "haar-64_accuracy_mean": ours},
            {**row, "model": "m", "haar-64_accuracy_mean": theirs},
        ]
        (tmp_path / f"fold{fold}").mkdir()
        (tmp_path / f"fold{fold}" / "results.json").write_text(json.dumps({"rows": rows}))
    table = script.write_summary(tmp_path)
    assert f"minus that of **{default}**, paired by fold (the same patients)" in table
    assert "| m | 1 | 2 | -0.200 ± 0.141 | -1.471 to +1.071 | 0 of 2 |" in table


def test_bad_folds_and_a_report_without_folds_are_refused_naming_them(script, tmp_path, monkeypatch, capsys):
    with pytest.raises(SystemExit):
        _main(script, monkeypatch, "--output", tmp_path, "--report-only")
    assert f"no fold*/results.json under '{tmp_path}'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _main(script, monkeypatch, "--sdist", tmp_path, "--output", tmp_path, "--folds", 1, 7)
    assert "--folds must be between 0 and 4, got [7]" in capsys.readouterr().err
    assert not (tmp_path / "work").exists()

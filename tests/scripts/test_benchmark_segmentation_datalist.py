from __future__ import annotations

import json
import sys

import pytest

MODEL = "group U-Net, SO(3) augmentation"
CLASSES = ("csf", "grey_matter", "white_matter")  # the tissue example's foreground classes


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("benchmark_segmentation_datalist")


def _main(script, monkeypatch, *args) -> None:
    monkeypatch.setattr(sys, "argv", ["benchmark_segmentation_datalist.py", *map(str, args)])
    script.main()


def test_one_model_one_seed_gives_a_resumable_row_and_a_table(script, segmentation_example, tmp_path, monkeypatch):
    output, work = tmp_path / "out", tmp_path / "runs"
    args = [
        "--datalist", segmentation_example / "small_datalist.json", "--num-classes", 4,
        "--class-names", segmentation_example / "classes.json", "--models", "group U-Net, SO(3)", "--seeds", 0,
        "--epochs", 1, "--val-interval", 1, "--patch-size", 16, "--samples-per-volume", 2, "--protocols", "grid48",
        "--device", "cpu", "--output", output, "--work-dir", work,
    ]  # fmt: skip
    _main(script, monkeypatch, *args)
    rows = json.loads((output / "results.json").read_text())
    assert len(rows) == 1
    row = rows[0]
    assert (row["model"], row["seed"], row["model_name"], row["augment"]) == (MODEL, 0, "group_unet_light", True)
    assert (row["epochs"], row["patch_size"], row["samples_per_volume"]) == (1, 16, 2)
    assert row["params"] > 0 and row["steps"] >= 1 and row["train_seconds"] > 0
    assert row["device"].startswith("cpu")
    dice = ["test_mean_dice", "best_validation_dice", "grid48_dice_mean", "grid48_dice_worst"]
    dice += [f"dice_{name}_upright" for name in CLASSES]
    assert all(0 <= row[key] <= 1 for key in dice), {key: row[key] for key in dice}
    assert 0 <= row["grid48_agreement_mean"] <= 1
    assert row["grid48_agreement_worst"] == 1.0  # the group U-Net and the symmetric windows: exact
    assert not [key for key in row if key.startswith(("paper_", "haar-64_"))]  # only the protocols asked for
    assert (work / "seed0" / "model0" / "eval" / "robustness_grid48.json").is_file()
    assert not (output / "seed0").exists()  # runs go to --work-dir

    def fail(*_args, **_kwargs):
        raise AssertionError("--resume reran a finished row")

    monkeypatch.setattr(script, "run_one", fail)
    _main(script, monkeypatch, *args, "--resume")
    assert json.loads((output / "results.json").read_text()) == rows
    (output / "table.md").unlink()
    _main(script, monkeypatch, "--report-only", "--output", output)
    table = (output / "table.md").read_text()
    assert f"| {MODEL} | 1 | {row['params']:,} |" in table  # mean ± sd over the (one) seed
    assert f"| {MODEL} | 0 | " in table  # the per-seed row
    assert "| agreement worst grid48 |" in table and "| csf upright |" in table


def test_bad_arguments_stop_before_training(script, segmentation_example, tmp_path, monkeypatch):
    datalist = segmentation_example / "small_datalist.json"
    for args in (
        ["--num-classes", 4],  # no datalist
        ["--datalist", tmp_path / "missing.json", "--num-classes", 4],
        ["--datalist", datalist, "--num-classes", 4, "--models", "U-Net++"],
        ["--datalist", datalist, "--num-classes", 4, "--epochs", 0],
        ["--report-only"],  # no results.json to report
    ):
        with pytest.raises(SystemExit) as info:
            _main(script, monkeypatch, *args, "--output", tmp_path / "out")
        assert info.value.code == 2, args
    assert not (tmp_path / "out" / "results.json").exists()

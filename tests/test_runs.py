from __future__ import annotations

import re

import pytest
import torch

from monai_sre.runs import (
    RUN_MARKER,
    as_flag,
    as_probability,
    bundle_root,
    latest_checkpoint,
    prepare_run_dir,
    read_training_domain,
    use_amp,
    write_training_domain,
)


@pytest.mark.parametrize("value, expected", [(True, True), ("false", False), ("True", True), (0, False), ("1", True)])
def test_switches_from_the_command_line_become_bools(value, expected):
    assert as_flag(value) is expected


@pytest.mark.parametrize("value", ["maybe", 2, None, 0.5])
def test_other_switch_values_are_named(value):
    with pytest.raises(ValueError, match=f"--resume must be true or false, got {value!r}"):
        as_flag(value, "resume")


@pytest.mark.parametrize("value, expected", [(0.5, 0.5), (1, 1.0), (0, 0.0), (" 0.25", 0.25), ("1.0", 1.0)])
def test_probabilities_from_the_command_line_become_floats(value, expected):
    assert as_probability(value) == expected and isinstance(as_probability(value), float)


@pytest.mark.parametrize("value", [1.5, -0.1, "half", True, None, float("nan"), "nan"])
def test_other_probability_values_are_named(value):
    with pytest.raises(
        ValueError, match=rf"--rotation_prob must be a probability in \[0, 1\], got {re.escape(repr(value))}"
    ):
        as_probability(value, "rotation_prob")


def test_a_run_folder_is_made_marked_and_refused_when_it_holds_a_run(tmp_path):
    run = tmp_path / "run"
    assert prepare_run_dir(run) == str(run) and (run / RUN_MARKER).is_file()
    prepare_run_dir(run)  # only the marker: nothing to lose
    (run / "models").mkdir()
    (run / "models" / "model.pt").write_bytes(b"weights")
    with pytest.raises(ValueError, match=r"already holds an earlier run \('models'\).*--resume true.*--overwrite true"):
        prepare_run_dir(run, overwrite="false", resume="false")  # the command line's strings
    prepare_run_dir(run, resume="true")
    assert (run / "models" / "model.pt").exists()
    prepare_run_dir(run, overwrite=True)
    assert not (run / "models").exists() and (run / RUN_MARKER).is_file()


def test_overwrite_never_removes_a_folder_a_run_did_not_make(tmp_path):
    (tmp_path / "thesis.tex").write_text("years of work")
    with pytest.raises(ValueError, match="was not made by a monai_sre bundle run.*not removed"):
        prepare_run_dir(tmp_path, overwrite=True)
    assert (tmp_path / "thesis.tex").exists()
    with pytest.raises(ValueError, match="exclude each other"):
        prepare_run_dir(tmp_path / "new", overwrite=True, resume=True)
    with pytest.raises(
        FileNotFoundError, match=re.escape(f"--resume: run folder '{tmp_path / 'new'}' holds no earlier run")
    ):
        prepare_run_dir(tmp_path / "new", resume="true")
    assert not (tmp_path / "new").exists()  # a mistaken --resume leaves nothing that a fresh run must overwrite
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="is a file, expected a folder"):
        prepare_run_dir(tmp_path / "file")


def test_latest_checkpoint_is_the_largest_epoch(tmp_path):
    assert latest_checkpoint(tmp_path / "missing") is None and latest_checkpoint(tmp_path) is None
    for epoch in (2, 10, 9):
        (tmp_path / f"checkpoint_epoch={epoch}.pt").write_bytes(b"")
    (tmp_path / "model.pt").write_bytes(b"")
    assert latest_checkpoint(tmp_path).name == "checkpoint_epoch=10.pt"


def test_training_domain_round_trips_and_a_missing_one_names_the_folder(tmp_path):
    write_training_domain(tmp_path, classes=["a", "b"], spacing=2.0, extent_mm=[60.0, 60.0])
    assert read_training_domain(tmp_path) == {"classes": ["a", "b"], "spacing": 2.0, "extent_mm": [60.0, 60.0]}
    with pytest.raises(FileNotFoundError, match="no training_domain.json in '.*elsewhere': pass --run_dir"):
        read_training_domain(tmp_path / "elsewhere")


def test_a_relative_datalist_in_the_domain_resolves_against_its_folder(tmp_path):
    (tmp_path / "models").mkdir()
    write_training_domain(tmp_path / "models", datalist="../data/datalist.json")
    assert read_training_domain(tmp_path / "models")["datalist"] == str(tmp_path / "data" / "datalist.json")
    write_training_domain(tmp_path, datalist="/abs/datalist.json")
    assert read_training_domain(tmp_path)["datalist"] == "/abs/datalist.json"


def test_bundle_root_finds_the_shipped_bundles_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert bundle_root("sre_resnet3d_tissue").endswith("bundles/sre_resnet3d_tissue")
    with pytest.raises(FileNotFoundError, match="bundle 'nope' not found.*--bundle_root"):
        bundle_root("nope")


@pytest.mark.parametrize(
    "amp, device, expected",
    [
        (False, "cpu", False),
        ("false", torch.device("cpu"), False),
        ("true", "cuda:0", True),
        (1, torch.device("cuda", 1), True),
    ],
)
def test_amp_switch_is_read_against_the_device(amp, device, expected):
    assert use_amp(amp, device) is expected


def test_amp_on_a_device_that_monai_does_not_autocast_is_refused_naming_it():
    with pytest.raises(ValueError, match=r"--amp true needs a CUDA device, got device 'cpu'.*Pass --amp false"):
        use_amp("true", torch.device("cpu"))
    with pytest.raises(ValueError, match="--amp must be true or false, got 'fp16'"):
        use_amp("fp16", "cuda")

from __future__ import annotations

import json
import logging
import socket

import pytest
import torch
import torch.distributed as dist

from monai_sre.networks.nets import group_resnet_light, plain_resnet_light
from monai_sre.run_settings import RUN_SETTINGS, file_digest, keep_run_settings, network_signature

SETTINGS = {"seed": 0, "rotation_prob": 0.5, "batch_size": 32, "max_epochs": 20, "input_size": (16, 16, 16)}


def test_a_new_run_records_its_settings_and_a_resume_with_the_same_ones_goes_on(tmp_path):
    path = keep_run_settings(tmp_path, SETTINGS)
    assert path == str(tmp_path / RUN_SETTINGS)
    assert json.loads((tmp_path / RUN_SETTINGS).read_text()) == {**SETTINGS, "input_size": [16, 16, 16]}
    # the tuple a config gives equals the list JSON saved; the switch arrives from the command line as text
    assert keep_run_settings(tmp_path, dict(SETTINGS), resume="true") == path


def test_a_resume_with_other_settings_is_refused_naming_each_and_changes_nothing(tmp_path):
    keep_run_settings(tmp_path, SETTINGS)
    saved = (tmp_path / RUN_SETTINGS).read_text()
    changed = {**SETTINGS, "rotation_prob": 1.0, "max_epochs": 40}
    pattern = (
        rf"--resume true: the run in '{tmp_path}' was started with other settings than this command's "
        r"\(rotation_prob: 0.5 saved, 1.0 now; max_epochs: 20 saved, 40 now\)\. .*resume with the settings in "
        rf"'{tmp_path / RUN_SETTINGS}', or start a new run \(another --run_dir, or --overwrite true\)"
    )
    with pytest.raises(ValueError, match=pattern):
        keep_run_settings(tmp_path, changed, resume=True)
    assert (tmp_path / RUN_SETTINGS).read_text() == saved
    # a new run (not a resume) into a folder prepare_run_dir emptied records the new settings
    keep_run_settings(tmp_path, changed)
    assert json.loads((tmp_path / RUN_SETTINGS).read_text())["max_epochs"] == 40


def test_a_cut_settings_file_is_refused_on_resume_naming_it(tmp_path):
    keep_run_settings(tmp_path, SETTINGS)
    (tmp_path / RUN_SETTINGS).write_text((tmp_path / RUN_SETTINGS).read_text()[:20])  # a file cut in half
    with pytest.raises(ValueError, match=rf"'{tmp_path / RUN_SETTINGS}' is not valid JSON .*cannot be checked"):
        keep_run_settings(tmp_path, SETTINGS, resume=True)
    assert not (tmp_path / (RUN_SETTINGS + ".partial")).exists()


def test_a_setting_one_side_lacks_is_not_compared_and_the_record_keeps_both(tmp_path):
    keep_run_settings(tmp_path, {"seed": 0, "old_option": "a"})
    keep_run_settings(tmp_path, {"seed": 0, "new_option": 3}, resume=True)
    assert json.loads((tmp_path / RUN_SETTINGS).read_text()) == {"seed": 0, "old_option": "a", "new_option": 3}


def test_a_run_from_before_the_check_resumes_unchecked_with_a_warning_and_is_recorded(tmp_path, caplog):
    (tmp_path / "models").mkdir()  # the stopped run's checkpoints
    with caplog.at_level(logging.WARNING, logger="monai_sre.run_settings"):
        keep_run_settings(tmp_path, SETTINGS, resume=True)
    assert f"'{tmp_path}' holds no {RUN_SETTINGS}; resuming without checking its settings" in caplog.text
    assert json.loads((tmp_path / RUN_SETTINGS).read_text())["seed"] == 0


def test_a_resume_into_a_folder_without_a_run_writes_nothing(tmp_path, caplog):
    """Nothing to resume: no settings recorded for a run that never started, and no warning that would suggest an
    old run was found (the checkpoint handler stops the run, naming the missing checkpoint)."""
    (tmp_path / ".monai_sre_run").write_text("{}")
    with caplog.at_level(logging.WARNING, logger="monai_sre.run_settings"):
        assert keep_run_settings(tmp_path, SETTINGS, resume=True) == str(tmp_path / RUN_SETTINGS)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".monai_sre_run"] and not caplog.text


def test_the_datalist_is_a_setting_by_its_bytes_not_its_place(tmp_path):
    first, moved, edited = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    first.write_text('{"training": [{"image": "x.nii.gz", "label": 0}]}')
    moved.write_bytes(first.read_bytes())
    edited.write_text('{"training": [{"image": "x.nii.gz", "label": 1}]}')
    assert file_digest(first) == file_digest(moved) != file_digest(edited)
    assert file_digest(first).startswith("sha256:") and len(file_digest(first)) == len("sha256:") + 64
    assert file_digest(None) is None
    with pytest.raises(FileNotFoundError, match=f"no file at '{tmp_path / 'gone.json'}'.*expected a datalist"):
        file_digest(tmp_path / "gone.json")


def test_the_network_signature_tells_architectures_widths_and_dropout_apart():
    group = network_signature(group_resnet_light(n_input_channels=1, num_classes=4))
    assert group == network_signature(group_resnet_light(n_input_channels=1, num_classes=4))  # not the weights
    parameters = sum(p.numel() for p in group_resnet_light(n_input_channels=1, num_classes=4).parameters())
    assert f", {parameters} parameters, structure " in group
    others = [
        group_resnet_light(n_input_channels=1, num_classes=3),
        group_resnet_light(n_input_channels=1, num_classes=4, dropout=0.2),  # the same parameters
        plain_resnet_light(n_input_channels=1, num_classes=4),
    ]
    assert len({group, *map(network_signature, others)}) == 4


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_under_torchrun_the_number_of_processes_is_a_setting(tmp_path):
    """Each process takes ``batch_size`` samples a step, so a resume on another number of processes would change
    the batch: recorded from the process group (a real gloo group of one process here)."""
    keep_run_settings(tmp_path, SETTINGS)
    saved = json.loads((tmp_path / RUN_SETTINGS).read_text())
    (tmp_path / RUN_SETTINGS).write_text(json.dumps({**saved, "world_size": 2}))  # as two processes recorded it
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{_free_port()}", rank=0, world_size=1)
    try:
        with pytest.raises(ValueError, match=r"\(world_size: 2 saved, 1 now\)"):
            keep_run_settings(tmp_path, SETTINGS, resume=True)
        (tmp_path / "new").mkdir()
        keep_run_settings(tmp_path / "new", SETTINGS)
        assert json.loads((tmp_path / "new" / RUN_SETTINGS).read_text())["world_size"] == 1
    finally:
        dist.destroy_process_group()
    assert not torch.distributed.is_initialized()

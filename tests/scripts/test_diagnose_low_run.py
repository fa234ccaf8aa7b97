"""The low-run diagnosis on the tissue bundle's real validation split, with checkpoints of the real networks."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

from monai_sre.comparison import TRAIN_CONFIGS, bundle_parser
from monai_sre.data.subsets import balanced_indices, dataset_labels
from monai_sre.networks.nets import group_resnet_light, plain_resnet_light

DEFAULT = "group light (O, regular), SO(3) augmentation, half upright"
WIDE_HEAD = "group light (O, regular), SO(3) augmentation, wide head, half upright"
PLAIN = "plain light, SO(3) augmentation"


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("diagnose_low_run")


def test_every_model_of_both_scripts_is_known_by_the_name_its_rows_carry(script):
    assert {DEFAULT, WIDE_HEAD, PLAIN, "plain light, SO(3) augmentation, half upright"} <= set(script.KNOWN_MODELS)
    assert script.KNOWN_MODELS[WIDE_HEAD].overrides["network_def"]["block_inplanes"] == [1, 2, 4, 16]


def test_confusion_counts_every_validation_input_once_by_its_true_and_predicted_class(script):
    network = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(3))
    images = torch.randn(70, 1, 2, 2, 2)
    labels = np.arange(70) % 3
    matrix = script.confusion(network, images, labels, 3)
    with torch.no_grad():
        predicted = network(images).argmax(1).numpy()
    assert matrix.sum() == 70 and matrix.sum(1).tolist() == [24, 23, 23]  # two batches of 64 and 6
    assert np.trace(matrix) == int((predicted == labels).sum()) and not network.training


def test_the_report_names_each_run_and_the_subsample_centres(script, tmp_path, monkeypatch, capsys):
    """Untrained checkpoints of the default's and the wide head's networks and plain light (the real state dicts a
    run saves): each is rebuilt from its model's recipe, loaded strictly and scored on the 400 validation patches."""
    checkpoints = {}
    for name, network in [
        (DEFAULT, group_resnet_light(n_input_channels=1, num_classes=4)),
        (WIDE_HEAD, group_resnet_light(n_input_channels=1, num_classes=4, block_inplanes=[1, 2, 4, 16])),
        (PLAIN, plain_resnet_light(n_input_channels=1, num_classes=4)),
    ]:
        checkpoints[name] = tmp_path / f"{len(checkpoints)}.pt"
        torch.save(network.state_dict(), checkpoints[name])
    output = tmp_path / "diagnosis.json"
    argv = ["diagnose_low_run.py", "--fraction", "0.02", "--subset-seed", "5", "--output", str(output)]
    for name, path in checkpoints.items():
        argv += ["--run", name, str(path)]
    monkeypatch.setattr(sys, "argv", argv)
    script.main()
    printed = capsys.readouterr().out
    report = json.loads(output.read_text())
    classes = ["cortical grey matter", "deep grey matter", "white matter", "internal CSF"]
    assert report["classes"] == classes and list(report["runs"]) == list(checkpoints)
    for name, run in report["runs"].items():
        matrix = np.array(run["confusion"])
        assert matrix.sum(1).tolist() == [100, 100, 100, 100]  # the validation split: 100 patches per class
        assert run["accuracy"] == pytest.approx(np.trace(matrix) / 400)
        assert f"{name} ({checkpoints[name]}): validation accuracy {run['accuracy']:.3f}" in printed
    # the subsample is the comparison's own draw: 2 % of 300 patches per class, 6 each
    centres = report["centre_intensity"]
    assert list(centres) == classes and all(len(values) == 6 for values in centres.values())
    train = bundle_parser(script.BUNDLE, TRAIN_CONFIGS).get_parsed_content("train#dataset")
    assert len(balanced_indices(dataset_labels(train), 0.02, 5)) == 24
    assert f"- internal CSF: {min(centres['internal CSF']):.2f} to {max(centres['internal CSF']):.2f}" in printed


def test_an_unknown_model_or_a_missing_checkpoint_is_refused_naming_it(script, tmp_path, monkeypatch, capsys):
    for run, message in [
        (["no such model", str(tmp_path)], "unknown model 'no such model'; expected one of: "),
        ([PLAIN, str(tmp_path / "gone.pt")], f"checkpoint of '{PLAIN}' not found: '{tmp_path / 'gone.pt'}'"),
    ]:
        argv = ["diagnose_low_run.py", "--fraction", "0.02", "--subset-seed", "5", "--run", *run]
        monkeypatch.setattr(sys, "argv", argv)
        with pytest.raises(SystemExit):
            script.main()
        assert message in capsys.readouterr().err

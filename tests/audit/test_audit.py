# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""The audit command on a zoo-layout bundle written here (MONAI ResNet trained on real volumes), with and without
labels, and its errors."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from monai_sre.__main__ import main
from monai_sre.audit import audit_bundle, default_configs, read_bundle
from monai_sre.evaluation import centre_crop
from tests.audit.conftest import EVALUATE, INFERENCE, METADATA, TRAIN, write_bundle


def test_default_configs(zoo_bundle):
    assert default_configs(zoo_bundle) == ["train.json", "evaluate.json"]  # train.json holds network_def


def test_zoo_bundle_with_labels(zoo_bundle, tmp_path):
    reports = audit_bundle(zoo_bundle, protocol="flips,grid24", output=tmp_path, progress=False)
    assert set(reports) == {"flips", "grid24"}
    report = reports["grid24"]
    assert report.metrics == ("accuracy", "auc") and report.num_samples == 8 and len(report.cases) == 24
    assert report.settings["crop_after_rotation"] == [16, 16, 16]  # the final CenterSpatialCropd moved after rotating
    assert report.settings["weights"].endswith("models/model.pt")
    # upright accuracy: the bundle's own preprocessing (crop included) and weights, scored by hand
    pipeline = read_bundle(zoo_bundle, crop_after_rotation=False)
    pipeline.network.eval()
    with torch.no_grad():
        hits = [(pipeline.network(b["image"]).argmax(1) == b["label"]).float() for b in pipeline.data_loader]
    assert report.upright["accuracy"] == pytest.approx(float(torch.cat(hits).mean()))
    for name in ("flips", "grid24"):
        assert {p.name for p in tmp_path.glob(f"audit_{name}.*")} == {
            f"audit_{name}.{e}" for e in ("json", "csv", "png")
        }
    summary = json.loads((tmp_path / "audit_summary.json").read_text())
    values = summary["grid24"]
    assert values["metric"] == "accuracy" and values["labels_found"] is True
    assert values["gap"] == pytest.approx(values["upright"] - values["mean"])
    assert 0 <= values["worst"] <= values["mean"] and 0 <= values["consistency"] <= 1


def test_zoo_bundle_without_labels(zoo_bundle, tmp_path):
    """inference.json yields images only: agreement with the upright class per case, and consistency."""
    reports = audit_bundle(zoo_bundle, config="inference.json", protocol="grid24", output=tmp_path, progress=False)
    report = reports["grid24"]
    assert report.metrics == ("agreement",) and report.upright["agreement"] == 1.0
    assert report.settings["labels_found"] is False
    assert report.consistency <= min(report.values("agreement"))
    summary = json.loads((tmp_path / "audit_summary.json").read_text())["grid24"]
    assert summary["metric"] == "agreement" and summary["consistency"] == report.consistency
    assert (tmp_path / "audit_grid24.png").is_file()


def test_ckpt_override(zoo_bundle, tmp_path):
    """--ckpt replaces the weights the config's CheckpointLoader names."""
    pipeline = read_bundle(zoo_bundle)
    state = {k: torch.zeros_like(v) if k.endswith("fc.bias") else v for k, v in pipeline.network.state_dict().items()}
    state["fc.weight"] = torch.zeros_like(state["fc.weight"])  # constant logits: every class 0
    torch.save(state, tmp_path / "zero.pt")
    zeroed = read_bundle(zoo_bundle, ckpt=tmp_path / "zero.pt")
    assert zeroed.weights == str(tmp_path / "zero.pt")
    batch = next(iter(zeroed.data_loader))
    zeroed.network.eval()
    with torch.no_grad():
        assert torch.all(zeroed.network(centre_crop(batch["image"], zeroed.crop_size)) == 0)


def test_command_line(zoo_bundle, tmp_path, capsys):
    """`python -m monai_sre audit BUNDLE --protocol flips grid24`: protocols after the flag, space separated."""
    args = ["audit", str(zoo_bundle), "--protocol", "flips", "grid24", "--output", str(tmp_path), "--progress", "false"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "flips: accuracy upright" in out and "grid24: accuracy upright" in out
    assert (tmp_path / "audit_grid24.json").is_file()


def test_missing_evaluator(classification_example, tmp_path, capsys):
    configs = {"inference.json": {k: v for k, v in INFERENCE.items() if k != "evaluator"}}
    bundle = write_bundle(tmp_path / "b", classification_example, configs)
    with pytest.raises(KeyError, match="define no evaluator: expected the id 'validate#evaluator'.*'evaluator'"):
        read_bundle(bundle)
    assert main(["audit", str(bundle), "--output", str(tmp_path / "out")]) == 1
    assert "define no evaluator" in capsys.readouterr().err


def test_missing_weights_loader(classification_example, tmp_path):
    evaluate = {k: v for k, v in EVALUATE.items() if k != "validate#evaluator#val_handlers"}
    bundle = write_bundle(tmp_path / "b", classification_example, {"train.json": TRAIN, "evaluate.json": evaluate})
    with pytest.raises(KeyError, match="'validate#evaluator#val_handlers' holds no StateDictLoader.*--ckpt"):
        read_bundle(bundle)


def test_missing_weights_file(zoo_bundle, tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.pt"):
        read_bundle(zoo_bundle, ckpt=tmp_path / "absent.pt")


def test_metadata_without_task(zoo_bundle, tmp_path):
    bundle = tmp_path / "b"
    shutil.copytree(zoo_bundle, bundle, symlinks=True)
    metadata = {k: v for k, v in METADATA.items() if k not in ("task", "network_data_format")}
    (bundle / "configs" / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ValueError, match="metadata.json names no task"):
        read_bundle(bundle)
    assert read_bundle(bundle, task="classification").task == "classification"


def test_missing_image_key(zoo_bundle, tmp_path):
    with pytest.raises(ValueError, match="has no 'img'.*--image_key"):
        audit_bundle(zoo_bundle, protocol="flips", output=tmp_path, image_key="img", progress=False)


def test_crop_that_pads_is_refused(zoo_bundle, tmp_path):
    """A final crop larger than the images pads them: it cannot follow a rotation, and the audit says so."""
    crop = "preprocessing#transforms#2#roi_size"
    with pytest.raises(
        ValueError, match="final crop to \\[40, 40, 40\\] does not fit inside batch 0.*--crop_after_rotation false"
    ):
        audit_bundle(zoo_bundle, protocol="flips", output=tmp_path, progress=False, **{crop: [40, 40, 40]})


def test_evaluator_without_data_loader(classification_example, tmp_path):
    evaluator = {k: v for k, v in INFERENCE["evaluator"].items() if k != "val_data_loader"}
    bundle = write_bundle(
        tmp_path / "b", classification_example, {"inference.json": {**INFERENCE, "evaluator": evaluator}}
    )
    with pytest.raises(KeyError, match="'evaluator' has no 'val_data_loader' \\(the data loader\\)"):
        read_bundle(bundle)


ONE_HOT = (
    "$[{'image': os.path.join(@dataset_dir, d['image']), 'label': numpy.eye(4, dtype='float32')[d['label']]} "
    "for d in @datalist['test']]"
)


def test_one_hot_labels(zoo_bundle, tmp_path):
    """Labels given as one-hot vectors (B, C) are scored by their class index, with a note; multi-hot ones are
    refused."""
    plain = audit_bundle(zoo_bundle, protocol="flips", output=tmp_path / "a", progress=False)["flips"]
    one_hot = audit_bundle(
        zoo_bundle, protocol="flips", output=tmp_path / "b", progress=False, **{"validate#dataset#data": ONE_HOT}
    )["flips"]
    assert one_hot.upright == plain.upright and one_hot.values("accuracy") == plain.values("accuracy")
    assert one_hot.settings["labels_found"] and any("one-hot" in n for n in one_hot.settings["notes"])
    multi_hot = ONE_HOT.replace("numpy.eye(4, dtype='float32')[d['label']]", "numpy.ones(4, dtype='float32')")
    with pytest.raises(ValueError, match="batch 0: the labels are \\(4, 4\\) vectors of 0/1 that are not one-hot"):
        audit_bundle(
            zoo_bundle, protocol="flips", output=tmp_path / "c", progress=False, **{"validate#dataset#data": multi_hot}
        )


class RecordingInferer:
    """Not a SimpleInferer: the audit must call the classifier through it."""

    def __init__(self):
        self.calls = 0

    def __call__(self, inputs, network):
        self.calls += 1
        return network(inputs)


def test_classifier_called_through_the_bundle_inferer(zoo_bundle):
    from monai_sre.audit import audit_pipeline

    pipeline = read_bundle(zoo_bundle)
    plain = audit_pipeline(pipeline, ["flips"])["flips"]
    pipeline = read_bundle(zoo_bundle)
    pipeline.inferer = RecordingInferer()
    report = audit_pipeline(pipeline, ["flips"])["flips"]
    assert pipeline.inferer.calls == 2 * (1 + 3)  # two batches of four, upright and three flips
    assert report.values("accuracy") == plain.values("accuracy")
    assert "the classifier is called through the evaluator's RecordingInferer" in report.settings["notes"]

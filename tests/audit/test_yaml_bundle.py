# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""A bundle whose configs are YAML (as some of the model zoo's are): audit and convert-bundle find, read and
write them as they do JSON."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from monai_sre.audit import audit_bundle, convert_bundle
from monai_sre.audit.bundle import default_configs
from tests.audit.conftest import DENSENET, run_workflow, small_cpu

pytestmark = pytest.mark.usefixtures("no_onednn")  # see small_cpu


@pytest.fixture(scope="module")
def yaml_bundle(densenet_bundle, tmp_path_factory):
    """The trained DenseNet bundle with every config (metadata.json excepted) rewritten as YAML."""
    folder = tmp_path_factory.mktemp("yaml") / "densenet_yaml"
    shutil.copytree(densenet_bundle, folder, symlinks=True)
    for path in (folder / "configs").glob("*.json"):
        if path.name != "metadata.json":
            path.with_suffix(".yaml").write_text(yaml.safe_dump(json.loads(path.read_text()), sort_keys=False))
            path.unlink()
    return folder


def test_audit_reads_yaml_configs(yaml_bundle, densenet_bundle, tmp_path):
    assert default_configs(yaml_bundle) == ["train.yaml", "evaluate.yaml"]
    report = audit_bundle(yaml_bundle, protocol="flips", output=tmp_path / "yaml", progress=False)["flips"]
    same = audit_bundle(densenet_bundle, protocol="flips", output=tmp_path / "json", progress=False)["flips"]
    assert report.settings["evaluator_id"] == "validate#evaluator"
    assert report.metrics == same.metrics and report.upright == same.upright  # the same bundle, written in YAML


def test_convert_bundle_writes_yaml_that_trains(yaml_bundle, tmp_path):
    with small_cpu():
        result = convert_bundle(yaml_bundle, to="sre", output=tmp_path / "sre", augment="so3")
    assert result.configs == ["train.yaml"] and "train.yaml" in result.files_changed
    train = yaml.safe_load((tmp_path / "sre" / "configs" / "train.yaml").read_text())
    assert train["network_def"] == {"_target_": "monai_sre.audit.converted_network", "to": "sre", "network": DENSENET}
    assert train["train"]["preprocessing"]["transforms"][2]["_target_"] == "monai_sre.transforms.RandSO3RotateCropd"
    assert not (tmp_path / "sre" / "configs" / "train.json").exists()
    run_workflow(tmp_path / "sre", ["train.yaml"], max_epochs=1)
    assert (tmp_path / "sre" / "models" / "model.pt").is_file()

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""The audit of this package's shipped bundles (their shipped weights) reproduces their own evaluation's rotation
reports: the same samples, the same seed, the same numbers."""

from __future__ import annotations

import json

import pytest
from monai.bundle import ConfigWorkflow

from monai_sre.audit import audit_bundle, default_configs
from tests.audit.conftest import REPO

# bundle, protocol, samples: kept small (2 shared cores); the haar-64 target is measured in docs/audit.md
TEST_CASE_1 = ["sre_resnet3d_tissue", "haar-4", 16, ("accuracy", "auc")]
TEST_CASE_2 = ["sre_segmentation", "haar-2", 1, ("dice", "agreement")]  # its one whole test slab


def run_evaluation(bundle: str, protocol: str, samples: int, eval_dir) -> dict:
    """The bundle's own evaluation (inference.json, train.json, evaluate.json), as `monai_sre run` runs it."""
    folder = REPO / "bundles" / bundle
    workflow = ConfigWorkflow(
        config_file=[str(folder / "configs" / name) for name in default_configs(folder)],
        meta_file=str(folder / "configs" / "metadata.json"),
        workflow_type="eval",
        bundle_root=str(folder),
        num_test_samples=samples,
        rotation_protocols=[protocol],
        eval_dir=str(eval_dir),
    )
    workflow.initialize()
    workflow.run()
    workflow.finalize()
    return json.loads((eval_dir / f"robustness_{protocol}.json").read_text())


@pytest.mark.parametrize("bundle, protocol, samples, metrics", [TEST_CASE_1, TEST_CASE_2])
def test_audit_reproduces_bundle_evaluation(bundle, protocol, samples, metrics, tmp_path):
    assert default_configs(REPO / "bundles" / bundle) == ["inference.json", "train.json", "evaluate.json"]
    expected = run_evaluation(bundle, protocol, samples, tmp_path / "eval")
    report = audit_bundle(
        REPO / "bundles" / bundle,
        protocol=protocol,
        output=tmp_path / "audit",
        progress=False,
        num_test_samples=samples,
    )[protocol]
    assert report.num_samples == expected["num_samples"] == samples
    assert [case["name"] for case in report.cases] == [case["name"] for case in expected["cases"]]
    for metric in metrics:
        assert report.upright[metric] == pytest.approx(expected["upright"][metric], abs=1e-6)
        assert report.values(metric) == pytest.approx([case[metric] for case in expected["cases"]], abs=1e-6)
    assert report.consistency == expected["consistency"]
    assert report.settings["seed"] == 0 and report.settings["weights"].endswith("models/model.pt")


def test_segmentation_inferer_and_no_labels(tmp_path):
    """The bundle's inferer (here a sliding window) runs on every rotated input; without labels only the label
    agreement is reported."""
    from monai_sre.audit import audit_pipeline, read_bundle

    window = {"_target_": "SlidingWindowInferer", "roi_size": [16, 16, 16], "sw_batch_size": 2}
    pipeline = read_bundle(REPO / "bundles" / "sre_segmentation", overrides={"validate#inferer": window})
    calls = []
    inferer = pipeline.inferer
    assert type(inferer).__name__ == "SlidingWindowInferer"
    pipeline.inferer = lambda inputs, network: calls.append(tuple(inputs.shape)) or inferer(inputs, network)
    report = audit_pipeline(pipeline, ["flips"], label_key="absent")["flips"]
    assert len(calls) == 1 + 3 and calls[0] == (1, 1, 98, 18, 94)  # upright and 3 flips of the whole test slab
    assert report.metrics == ("agreement",) and report.settings["labels_found"] is False
    assert report.values("agreement") == pytest.approx([1.0] * 3, abs=0.02)  # grid symmetries: near-equivariant
    assert any("no 'absent'" in note for note in report.settings["notes"])

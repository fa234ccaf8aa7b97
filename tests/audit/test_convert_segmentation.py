# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""A segmentation bundle in the model zoo's layout (MONAI UNet, sliding-window inferer, Dice; real MNI anatomy):
the audit runs on it, and ``convert-bundle --to sre`` gives an exactly equivariant network (symmetric pooling
replaces the strides), or, keeping the strides, a report naming the strided layers that break it."""

from __future__ import annotations

import json

import pytest

from monai_sre.audit import audit_bundle, convert_bundle
from tests.audit.conftest import SEG_TRAIN, UNET, run_workflow, small_cpu

pytestmark = pytest.mark.usefixtures("no_onednn")  # see small_cpu


def test_audit_runs_on_the_segmentation_bundle(segmentation_bundle, tmp_path):
    reports = audit_bundle(segmentation_bundle, protocol="flips", output=tmp_path, progress=False)
    report = reports["flips"]
    assert report.task == "segmentation" and report.num_samples == 2 and len(report.cases) == 3
    assert {"dice", "agreement", "dice_WM"} <= set(report.metrics)
    assert report.settings["evaluator_id"] == "validate#evaluator"
    assert report.settings["key_metric"] == "val_mean_dice" and report.settings["labels_found"] is True
    assert report.settings["crop_after_rotation"] is None  # the whole 28^3 volume, through the sliding window
    assert 0 <= report.upright["dice"] <= 1
    assert json.loads((tmp_path / "audit_summary.json").read_text())["flips"]["metric"] == "dice"


@pytest.fixture(scope="module")
def converted_unet(segmentation_bundle, tmp_path_factory):
    folder = tmp_path_factory.mktemp("converted_unet") / "sre"
    with small_cpu():
        result = convert_bundle(segmentation_bundle, to="sre", output=folder, augment="so3")
    return folder, result


def test_converted_unet_is_exactly_equivariant(converted_unet, segmentation_bundle):
    folder, result = converted_unet
    assert result.limits == []  # every strided conv became symmetric pooling + a stride-1 SRE conv
    assert result.symmetry["kind"] == "equivariance" and result.symmetry["symmetries"] == 48
    assert result.symmetry["exact"] and result.symmetry["input_shape"] == [1, 1, 16, 16, 16]
    train = json.loads((folder / "configs" / "train.json").read_text())
    assert train["network_def"]["network"] == UNET
    # the rotation precedes the random crop; validation's %train#deterministic_transforms is unchanged
    assert train["train"]["random_transforms"][0]["_target_"] == "monai_sre.transforms.RandSO3Rotated"
    assert train["train"]["random_transforms"][0]["mode"] == ["bilinear", "nearest"]
    assert train["train"]["deterministic_transforms"] == SEG_TRAIN["train"]["deterministic_transforms"]
    assert train["validate"] == SEG_TRAIN["validate"]
    assert "weights not shipped" in json.loads((folder / "configs" / "metadata.json").read_text())["changelog"]["0.4.0"]


def test_converted_unet_trains_evaluates_and_audits_consistent(converted_unet, tmp_path):
    """One epoch by its own train.json, the evaluation with its sliding window and Dice, and the audit through
    that sliding window: under the three axis flips every voxel keeps its (flipped) upright label (the 48 grid
    symmetries are measured on the network itself above; the audit's 24 rotations cost 27 s of CPU here)."""
    folder, _ = converted_unet
    run_workflow(folder, ["train.json"], max_epochs=1)
    workflow = run_workflow(folder, ["train.json", "evaluate.json"], "eval")
    dice = workflow.parser.get_parsed_content("validate#evaluator").state.metrics["val_mean_dice"]
    assert 0 <= dice <= 1
    report = audit_bundle(folder, protocol="flips", output=tmp_path, progress=False)["flips"]
    assert min(report.values("agreement")) > 0.9999
    assert report.values("dice") == pytest.approx([report.upright["dice"]] * 3, abs=1e-4)


def test_kept_strides_are_reported(segmentation_bundle, tmp_path):
    """stride_policy='keep': the UNet's strided convs become strided SRE convs, which the report lists with the
    reason, and the measured error shows the network is not exactly equivariant."""
    result = convert_bundle(segmentation_bundle, to="sre", output=tmp_path / "keep", stride_policy="keep")
    names = [name for name, _ in result.limits]
    assert "model.0.conv.unit0.conv" in names and "model.1.submodule.0.residual" in names
    assert all("keeps stride (2, 2, 2)" in reason for _, reason in result.limits)
    assert not result.symmetry["exact"] and result.symmetry["max_relative_error"] > 1e-2
    markdown = (tmp_path / "keep" / "docs" / "conversion_report.md").read_text()
    assert "| `model.0.conv.unit0.conv` | SREConv keeps stride (2, 2, 2)" in markdown
    train = json.loads((tmp_path / "keep" / "configs" / "train.json").read_text())
    assert train["network_def"] == {
        "_target_": "monai_sre.audit.converted_network", "to": "sre", "stride_policy": "keep", "network": UNET
    }  # fmt: skip


def test_group_converted_unet_is_exactly_equivariant_and_trains(segmentation_bundle, tmp_path):
    """``--to group`` on MONAI's residual UNet: both convolutions of the first residual unit read the image and
    lift it, the two output convolutions map back to the 5 class channels, so the label map is exactly
    equivariant under the 48 grid symmetries (module order alone used to lift only the first convolution,
    and the residual one failed on the plain image)."""
    with small_cpu():
        result = convert_bundle(segmentation_bundle, to="group", output=tmp_path / "group", space="diagonals")
    assert result.limits == [] and result.symmetry["kind"] == "equivariance"
    assert result.symmetry["symmetries"] == 48 and result.symmetry["exact"]
    replaced = {name: new for name, _, new in result.report.replaced}
    assert "trivial(1) -> trivial(1)" in replaced["model.2.1.conv.unit0.conv"]  # after an output convolution
    run_workflow(tmp_path / "group", ["train.json"], max_epochs=1)
    assert (tmp_path / "group" / "models" / "model.pt").is_file()

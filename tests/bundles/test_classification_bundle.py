from __future__ import annotations

import csv
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.bundle import verify_metadata

from monai_sre.networks.nets import group_resnet_light
from tests.bundles.conftest import (
    EVALUATE,
    INFER,
    MULTI_GPU_TRAIN,
    REPO,
    SCHEMA,
    TRAIN,
    assert_best_model_is_the_weight_average,
    assert_fails_with,
    assert_onnx_export_matches,
    audit_and_evaluation,
    bundle_config,
    run_workflow,
)

BUNDLE = "sre_classification"
META = REPO / "bundles" / BUNDLE / "configs" / "metadata.json"
CLASSES = ["cortical grey matter", "deep grey matter", "white matter", "internal CSF"]
NIBABEL_DATA = Path(nib.__file__).parent / "tests" / "data"


def test_metadata_verifies_against_the_local_schema():
    verify_metadata(meta_file=str(META), filepath=str(SCHEMA))


def test_training_writes_the_best_model_a_resumable_checkpoint_and_the_training_domain(classification_run):
    group_resnet_light(n_input_channels=1, num_classes=4).load_state_dict(
        torch.load(classification_run / "models" / "model.pt", weights_only=True)
    )
    assert (classification_run / "models" / "checkpoint_epoch=2.pt").exists()
    domain = json.loads((classification_run / "training_domain.json").read_text())
    assert domain["classes"] == CLASSES and domain["spacing"] == 2.0 and domain["input_size"] == 16
    assert domain["extent_mm"] == [60.0, 60.0]  # 30^3 crops of the 2 mm template


def test_a_csv_with_a_split_column_and_another_network_train_the_same_way(classification_example, tmp_path):
    rows = []
    for split in ("train", "validation", "test"):
        rows += [{**row, "split": split} for row in csv.DictReader((classification_example / f"{split}.csv").open())]
    with (classification_example / "all.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    run_workflow(
        BUNDLE, (*TRAIN, "plain_resnet"), datalist=str(classification_example / "all.csv"), num_classes=4,
        run_dir=str(tmp_path / "run"), max_epochs=1,
    )  # fmt: skip
    domain = json.loads((tmp_path / "run" / "training_domain.json").read_text())
    assert domain["model_name"] == "plain_resnet_light" and domain["classes"] == [f"class_{i}" for i in range(4)]


def test_weight_averaging_validates_and_saves_the_average(classification_example, tmp_path):
    """``--weight_averaging_decay`` in this bundle, as in the tissue bundle (whose tests also resume and run DDP)."""
    run = tmp_path / "run"
    workflow = run_workflow(
        BUNDLE, TRAIN, datalist=str(classification_example / "datalist.json"), num_classes=4, run_dir=str(run),
        max_epochs=1, batch_size=4, weight_averaging_decay=0.5,
    )  # fmt: skip
    iterations = workflow.parser.get_parsed_content("train#trainer").state.iteration
    assert iterations >= 2  # more than one update: the average differs from the last weights
    assert_best_model_is_the_weight_average(workflow, run, updates=iterations)


def test_evaluation_names_metrics_after_the_test_split_and_runs_the_rotation_protocols(classification_run):
    run_workflow(BUNDLE, EVALUATE, run_dir=str(classification_run), rotation_protocols=["grid48", "haar-8"])
    metrics = dict(
        line.split(",") for line in (classification_run / "eval" / "metrics.csv").read_text().splitlines() if line
    )
    assert set(metrics) == {"test_accuracy", "test_auc"}
    report = json.loads((classification_run / "eval" / "robustness_haar-8.json").read_text())
    assert len(report["cases"]) == 8
    assert report["summary"]["accuracy_upright"] == pytest.approx(float(metrics["test_accuracy"]))


def _bad_and_out_of_domain_inputs(folder: Path, example: Path) -> dict[str, str]:
    """Good test volumes plus one of each bad kind; returns {file name: pattern its refusal must match}."""
    for name in sorted((example / "test").iterdir())[:3]:
        shutil.copy(name, folder / name.name)
    good = folder / sorted(p.name for p in folder.iterdir())[0]
    (folder / "cut.nii.gz").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    shutil.copy(NIBABEL_DATA / "example4d.nii.gz", folder / "four_d.nii.gz")
    image = nib.load(good)
    values = np.asarray(image.dataobj).astype(np.float32)
    values[3, 4, 5] = np.nan
    nib.save(nib.Nifti1Image(values, image.affine), folder / "nan.nii.gz")
    big = np.zeros((100, 100, 100), np.float32)
    big[20:80, 20:80, 20:80] = 1 + np.arange(60)[:, None, None]
    nib.save(nib.Nifti1Image(big, np.diag([2.0, 2.0, 2.0, 1.0])), folder / "whole_head.nii.gz")  # 200 mm
    (folder / "notes.nii").write_text("not an image\n")
    return {
        "cut.nii.gz": "truncated",
        "four_d.nii.gz": "4D image",
        "nan.nii.gz": "1 NaN",
        "whole_head.nii.gz": "spans 200 mm, much larger than the volumes the model was trained on",
        "notes.nii": "text, not image data",
    }


def test_inference_predicts_the_good_volumes_and_refuses_each_bad_one_naming_why(
    classification_run, classification_example, tmp_path
):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    refusals = _bad_and_out_of_domain_inputs(inputs, classification_example)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:  # the run ends with one message listing the refused inputs
        run_workflow(
            BUNDLE, INFER, workflow_type="infer", run_dir=str(classification_run), dataset_dir=str(inputs),
            output_dir=str(out),
        )  # fmt: skip
    message = str(exit_info.value.code)
    assert message.startswith("5 of 8 inputs were refused; the other 3 were predicted")
    rows = list(csv.DictReader((out / "predictions.csv").open()))
    assert [c for c in rows[0] if c.startswith("prob_")] == [f"prob_{c}" for c in CLASSES]
    by_name = {Path(row["image"]).name: row for row in rows}
    for name, pattern in refusals.items():
        assert pattern in by_name[name]["refused_reason"] and name in message
    predicted = [row for row in rows if not row["refused_reason"]]
    assert len(predicted) == 3
    for row in predicted:
        probabilities = [float(row[f"prob_{c}"]) for c in CLASSES]
        assert sum(probabilities) == pytest.approx(1, abs=1e-5)
        assert row["predicted_class"] == CLASSES[int(np.argmax(probabilities))]


def test_missing_arguments_and_bad_datalists_fail_before_training_naming_the_value(classification_example, tmp_path):
    run = tmp_path / "run"
    assert_fails_with(ValueError, "pass --num_classes N", run_workflow, BUNDLE, TRAIN,  # a CSV names no classes
                      datalist=str(classification_example / "train.csv"), run_dir=str(run))  # fmt: skip
    assert_fails_with(ValueError, "no datalist given: pass --datalist PATH", run_workflow, BUNDLE, TRAIN,
                      num_classes=4, run_dir=str(run))  # fmt: skip
    assert_fails_with(ValueError, r"entry \d+: label 3 is outside 0..2", run_workflow, BUNDLE, TRAIN,
                      datalist=str(classification_example / "train.csv"), num_classes=3, run_dir=str(run))  # fmt: skip
    # the JSON datalist's labels name its 4 classes
    assert_fails_with(ValueError, r"class_names must be 3 distinct names \(num_classes\), got \['cortical",
                      run_workflow, BUNDLE, TRAIN, datalist=str(classification_example / "datalist.json"),
                      num_classes=3, run_dir=str(run))  # fmt: skip
    assert_fails_with(ValueError, r"class_names must be 3 distinct names", run_workflow, BUNDLE, TRAIN,
                      datalist=str(classification_example / "datalist.json"), num_classes=3,
                      class_names=str(classification_example / "classes.json"), run_dir=str(run))  # fmt: skip
    assert not (run / "models").exists()


def test_the_cli_reports_a_failed_run_by_its_cause_only(tmp_path):
    config = str(bundle_config(BUNDLE, *TRAIN))
    result = subprocess.run(
        [sys.executable, "-m", "monai_sre", "run", "--config_file", config, "--num_classes", "2",
         "--run_dir", str(tmp_path / "run")],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    assert "error: ValueError: no datalist given: pass --datalist PATH" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(importlib.util.find_spec("torch.distributed") is None, reason="torch.distributed missing")
def test_two_process_ddp_training_on_cpu(classification_example, tmp_path):
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1", "--nproc_per_node=2",
        "-m", "monai.bundle", "run", "--config_file", str(bundle_config(BUNDLE, *MULTI_GPU_TRAIN)),
        "--datalist", str(classification_example / "datalist.json"), "--num_classes", "4", "--max_epochs", "1",
        "--run_dir", str(tmp_path / "run"),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "run" / "models" / "model.pt").exists()
    assert (tmp_path / "run" / "training_domain.json").exists()


def test_a_trained_run_exports_to_onnx_with_a_dynamic_batch(classification_run, tmp_path):
    """The docs' ONNX command, on the model of a run (TorchScript and verify_net_in_out: test_model_zoo.py)."""
    assert_onnx_export_matches(
        "sre_classification",
        classification_run,
        group_resnet_light(n_input_channels=1, num_classes=4),
        [1, 1, 16, 16, 16],
        tmp_path,
    )


def test_the_audit_of_a_run_reproduces_its_evaluation(classification_run, classification_example, tmp_path):
    """``python -m monai_sre audit`` on this bundle with a user's run and datalist: the accuracy per rotation equals
    the bundle's own evaluation (same seed), and the consistency is reported beside it."""
    report, expected = audit_and_evaluation(
        BUNDLE, "haar-4", tmp_path, datalist=str(classification_example / "datalist.json"), num_classes=4,
        class_names=str(classification_example / "classes.json"), run_dir=str(classification_run),
    )  # fmt: skip
    assert report.task == "classification" and report.num_samples == expected["num_samples"]
    assert report.values("accuracy") == pytest.approx([case["accuracy"] for case in expected["cases"]], abs=1e-6)
    assert report.consistency == expected["consistency"]

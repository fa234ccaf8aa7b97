from __future__ import annotations

import csv
import json
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.bundle import ConfigWorkflow, verify_metadata

from monai_sre.audit import audit_bundle
from monai_sre.data import medmnist_path
from tests.bundles.conftest import (
    EVALUATE,
    INFER,
    REPO,
    SCHEMA,
    TRAIN,
    assert_best_model_is_the_weight_average,
    assert_fails_with,
    bundle_config,
    run_workflow,
)

BUNDLE = "sre_resnet3d_medmnist"
ROOT = REPO / "bundles" / BUNDLE
META = ROOT / "configs" / "metadata.json"
FLAG = "nodulemnist3d"
CLASSES = ["benign", "malignant"]
LIGHT = {"model_name": "sre_resnet_light", "max_epochs": 1, "batch_size": 4}


@pytest.fixture(scope="module", autouse=True)
def _bundle_runs_untouched():
    """Every run of these tests writes under tmp_path (run_dir, eval_dir, output_dir), never into the bundle."""

    def listing():
        return sorted(str(p) for p in (ROOT / "runs").rglob("*"))

    before = listing()
    yield
    assert listing() == before


@pytest.fixture(scope="module")
def medmnist_dir(tmp_path_factory):
    """A small npz with MedMNIST's exact layout (keys, uint8 28^3 images, (N, 1) int labels)."""
    folder = tmp_path_factory.mktemp("medmnist")
    rng = np.random.default_rng(0)
    arrays = {}
    for split, count in (("train", 12), ("val", 8), ("test", 8)):
        arrays[f"{split}_images"] = rng.integers(0, 256, (count, 28, 28, 28), dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(count) % 2)[:, None].astype(np.int64)
    np.savez_compressed(medmnist_path(folder, FLAG), **arrays)
    return folder


@pytest.fixture(scope="module")
def volumes(tmp_path_factory):
    """Three NIfTI volumes (0..255 intensities) written by the export script, and a text file posing as one."""
    folder = tmp_path_factory.mktemp("volumes")
    script = REPO / "scripts" / "export_tissue_patches.py"
    subprocess.run([sys.executable, str(script), "--count", "3", "--output", str(folder)], check=True)
    (folder / "notes.nii").write_text("not an image\n")
    image = nib.load(sorted(folder.glob("*.nii.gz"))[0])  # a scanner's int16 scale: off the 0..255 training scale
    nib.save(nib.Nifti1Image(np.asarray(image.dataobj).astype(np.int16) * 40, image.affine), folder / "int16.nii.gz")
    return folder


@pytest.mark.parametrize(
    "names, workflow_type",
    [(TRAIN, "train"), (EVALUATE, "train"), (INFER, "infer")],
)
def test_metadata_and_properties_from_any_working_folder(names, workflow_type, medmnist_dir, volumes, tmp_path,
                                                         monkeypatch):  # fmt: skip
    verify_metadata(meta_file=str(META), filepath=str(SCHEMA))
    assert json.loads(META.read_text())["network_data_format"]["inputs"]["image"]["spatial_shape"] == [32, 32, 32]
    monkeypatch.chdir(tmp_path)  # not the repository: the bundle is found beside the package, no macros to read
    overrides = {"dataset_dir": str(medmnist_dir), "run_dir": str(tmp_path / "run"), "eval_dir": str(tmp_path / "eval")}
    if workflow_type == "infer":
        overrides = {"run_dir": str(tmp_path / "run"), "dataset_dir": str(volumes)}
    workflow = ConfigWorkflow(
        config_file=bundle_config(BUNDLE, *names),
        workflow_type=workflow_type,
        meta_file=str(META),
        flag=FLAG,
        **overrides,
    )
    workflow.initialize()
    assert not workflow.check_properties()
    assert workflow.parser.get_parsed_content("bundle_root") == str(ROOT)
    assert workflow.parser.get_parsed_content("ckpt_dir") == str(tmp_path / "run" / "models")
    if workflow_type == "infer":
        assert workflow.parser.get_parsed_content("class_names") == CLASSES
        assert (tmp_path / "run" / "inference").is_dir()  # prepared by initialize


def test_train_evaluate_and_infer_in_one_run_folder(medmnist_dir, volumes, tmp_path):
    run = tmp_path / "run"
    # a two-epoch run killed after its first epoch (its trainer stops there), resumed below
    run_workflow(BUNDLE, TRAIN, dataset_dir=str(medmnist_dir), flag=FLAG, run_dir=str(run), augment_rotation=True,
                 **{**LIGHT, "max_epochs": 2, "train#trainer#max_epochs": 1})  # fmt: skip
    state = torch.load(run / "models" / "model.pt", weights_only=True)
    assert state["fc.weight"].shape[0] == 2  # the flag decides the number of classes
    assert (run / "models" / "checkpoint_epoch=1.pt").exists()  # the full state, for --resume
    assert list(run.glob("events.out.tfevents.*"))
    # evaluation reads the run's model and writes into its eval/ folder, metrics named after the test split
    run_workflow(BUNDLE, EVALUATE, dataset_dir=str(medmnist_dir), flag=FLAG, run_dir=str(run),
                 rotation_protocols=["grid48", "paper"], **LIGHT)  # fmt: skip
    metrics = dict(line.split(",") for line in (run / "eval" / "metrics.csv").read_text().splitlines() if line)
    assert set(metrics) == {"test_accuracy", "test_auc"}
    grid = json.loads((run / "eval" / "robustness_grid48.json").read_text())
    assert grid["num_samples"] == 8 and len({round(c["auc"], 9) for c in grid["cases"]}) == 1
    assert (run / "eval" / "robustness_paper.png").exists()
    # the audit of the run reproduces the evaluation's paper protocol (same patches, same seed)
    paper = json.loads((run / "eval" / "robustness_paper.json").read_text())
    report = audit_bundle(ROOT, protocol="paper", output=tmp_path / "audit", dataset_dir=str(medmnist_dir), flag=FLAG,
                          run_dir=str(run), **LIGHT)["paper"]  # fmt: skip
    assert report.values("accuracy") == pytest.approx([case["accuracy"] for case in paper["cases"]], abs=1e-6)
    assert report.consistency == paper["consistency"]
    # inference (merged after train.json) predicts the readable volumes with the flag's class names, lists the
    # unreadable one with its reason, and ends the run naming it
    with pytest.raises(SystemExit) as exit_info:
        run_workflow(BUNDLE, INFER, workflow_type="infer", dataset_dir=str(volumes), flag=FLAG,
                     model_name="sre_resnet_light", run_dir=str(run))  # fmt: skip
    message = str(exit_info.value.code)
    assert message.startswith("2 of 5 inputs were refused; the other 3 were predicted") and "notes.nii" in message
    assert "outside the scale the model was trained on (0..255)" in message and "int16.nii.gz" in message
    rows = list(csv.DictReader((run / "inference" / "predictions.csv").open()))
    assert list(rows[0]) == ["image", "predicted", "predicted_class", "prob_benign", "prob_malignant", "refused_reason"]
    refused = [row for row in rows if row["refused_reason"]]
    assert len(refused) == 2 and any("text, not image data" in row["refused_reason"] for row in refused)
    predicted = [row for row in rows if not row["refused_reason"]]
    assert len(predicted) == 3
    for row in predicted:
        probabilities = [float(row[f"prob_{c}"]) for c in CLASSES]
        assert sum(probabilities) == pytest.approx(1, abs=1e-5)
        assert row["predicted_class"] == CLASSES[int(np.argmax(probabilities))]
    # the same commands again are refused before anything runs, and change nothing
    best = (run / "models" / "model.pt").read_bytes()
    assert_fails_with(ValueError, f"run folder '{run}' already holds an earlier run.*--resume true.*--overwrite true",
                      run_workflow, BUNDLE, TRAIN, dataset_dir=str(medmnist_dir), flag=FLAG, run_dir=str(run),
                      **LIGHT)  # fmt: skip
    assert (run / "models" / "model.pt").read_bytes() == best
    assert_fails_with(ValueError, f"run folder '{run / 'eval'}' already holds an earlier run", run_workflow, BUNDLE,
                      EVALUATE, dataset_dir=str(medmnist_dir), flag=FLAG, run_dir=str(run),
                      **LIGHT)  # fmt: skip
    assert_fails_with(ValueError, f"run folder '{run / 'inference'}' already holds an earlier run", run_workflow,
                      BUNDLE, INFER, workflow_type="infer", dataset_dir=str(volumes), flag=FLAG,
                      model_name="sre_resnet_light", run_dir=str(run))  # fmt: skip
    # --resume true continues the training from its last checkpoint, at the next epoch, with the same settings only
    assert_fails_with(ValueError, r"started with other settings.*\(augment_rotation: True saved, False now\)",
                      run_workflow, BUNDLE, TRAIN, dataset_dir=str(medmnist_dir), flag=FLAG, run_dir=str(run),
                      resume=True, **{**LIGHT, "max_epochs": 2})  # fmt: skip
    workflow = run_workflow(BUNDLE, TRAIN, dataset_dir=str(medmnist_dir), flag=FLAG, run_dir=str(run),
                            resume=True, augment_rotation=True, **{**LIGHT, "max_epochs": 2})  # fmt: skip
    trainer = workflow.parser.get_parsed_content("train#trainer")
    assert trainer.state.epoch == 2 and trainer.state.iteration == 6  # one more epoch of 12 / 4 iterations
    assert (run / "models" / "checkpoint_epoch=2.pt").exists()
    # a missing model stops the evaluation naming the file, before any result is written
    assert_fails_with(FileNotFoundError, "weights file not found: '.*missing.pt'", run_workflow, BUNDLE,
                      EVALUATE, dataset_dir=str(medmnist_dir), flag=FLAG,
                      ckpt_path=str(tmp_path / "missing.pt"), eval_dir=str(tmp_path / "eval_missing"),
                      **LIGHT)  # fmt: skip
    assert not list((tmp_path / "eval_missing").glob("robustness_*"))
    assert not (tmp_path / "eval_missing" / "metrics.csv").exists()


def test_weight_averaging_validates_and_saves_the_average(medmnist_dir, tmp_path):
    """``--weight_averaging_decay`` in this bundle, as in the tissue bundle (whose tests also resume and run DDP)."""
    run = tmp_path / "run"
    workflow = run_workflow(BUNDLE, TRAIN, dataset_dir=str(medmnist_dir), flag=FLAG, run_dir=str(run),
                            weight_averaging_decay=0.5, **LIGHT)  # fmt: skip
    assert_best_model_is_the_weight_average(workflow, run, updates=3)  # 12 training images, batches of 4


def test_missing_data_and_unknown_flag_fail_early(tmp_path, medmnist_dir):
    assert_fails_with(
        FileNotFoundError,
        r"MedMNIST file not found: '.*nodulemnist3d.npz'.*zenodo",
        run_workflow,
        BUNDLE,
        TRAIN,
        dataset_dir=str(tmp_path),
        flag=FLAG,
        run_dir=str(tmp_path / "run"),
        **LIGHT,
    )
    assert not (tmp_path / "run" / "models").exists()  # nothing trained, no checkpoint written
    assert_fails_with(
        ValueError,
        "nodulemnist2d",
        run_workflow,
        BUNDLE,
        TRAIN,
        dataset_dir=str(medmnist_dir),
        flag="nodulemnist2d",
        run_dir=str(tmp_path / "run2"),
        **LIGHT,
    )

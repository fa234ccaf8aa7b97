from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from monai.bundle import ConfigWorkflow, verify_metadata

from monai_sre.data import medmnist_path
from tests.bundles.conftest import REPO, SCHEMA, assert_fails_with, bundle_config, run_workflow

BUNDLE = "sre_resnet3d_medmnist"
META = REPO / "bundles" / BUNDLE / "configs" / "metadata.json"
LIGHT = {"model_name": "sre_resnet_light", "max_epochs": 1, "batch_size": 4}


@pytest.fixture(scope="module")
def medmnist_dir(tmp_path_factory):
    """A small npz with MedMNIST's exact layout (keys, uint8 28^3 images, (N, 1) int labels)."""
    folder = tmp_path_factory.mktemp("medmnist")
    rng = np.random.default_rng(0)
    arrays = {}
    for split, count in (("train", 12), ("val", 8), ("test", 8)):
        arrays[f"{split}_images"] = rng.integers(0, 256, (count, 28, 28, 28), dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(count) % 2)[:, None].astype(np.int64)
    np.savez_compressed(medmnist_path(folder, "nodulemnist3d"), **arrays)
    return folder


def test_metadata_and_properties(medmnist_dir, tmp_path):
    verify_metadata(meta_file=str(META), filepath=str(SCHEMA))
    workflow = ConfigWorkflow(
        config_file=bundle_config(BUNDLE, "train"),
        workflow_type="train",
        meta_file=str(META),
        dataset_dir=str(medmnist_dir),
        flag="nodulemnist3d",
        output_dir=str(tmp_path / "train"),
        ckpt_dir=str(tmp_path / "models"),
    )
    workflow.initialize()
    assert not workflow.check_properties()
    assert json.loads(META.read_text())["network_data_format"]["inputs"]["image"]["spatial_shape"] == [32, 32, 32]


def test_train_and_evaluate_a_flag_from_overrides(medmnist_dir, tmp_path):
    run_workflow(
        BUNDLE,
        ("train",),
        dataset_dir=str(medmnist_dir),
        flag="nodulemnist3d",
        ckpt_dir=str(tmp_path / "models"),
        output_dir=str(tmp_path / "train"),
        augment_rotation=True,
        **LIGHT,
    )
    state = torch.load(tmp_path / "models" / "model.pt", weights_only=True)
    assert state["fc.weight"].shape[0] == 2  # the flag decides the number of classes
    run_workflow(
        BUNDLE,
        ("train", "evaluate"),
        dataset_dir=str(medmnist_dir),
        flag="nodulemnist3d",
        ckpt_path=str(tmp_path / "models" / "model.pt"),
        eval_dir=str(tmp_path / "eval"),
        rotation_protocols=["grid48", "paper"],
        **LIGHT,
    )
    grid = json.loads((tmp_path / "eval" / "robustness_grid48.json").read_text())
    assert grid["num_samples"] == 8 and len({round(c["auc"], 9) for c in grid["cases"]}) == 1
    assert (tmp_path / "eval" / "robustness_paper.png").exists()
    # inference.json takes scaling, resize, network and postprocessing from train.json (macros), and its
    # StateDictLoader handler loads the trained weights
    volumes = tmp_path / "volumes"
    subprocess.run(
        [sys.executable, "scripts/export_tissue_patches.py", "--count", "3", "--output", str(volumes)], check=True
    )
    run_workflow(
        BUNDLE,
        ("inference",),
        workflow_type="infer",
        dataset_dir=str(volumes),
        flag="nodulemnist3d",
        model_name="sre_resnet_light",
        ckpt_path=str(tmp_path / "models" / "model.pt"),
        output_dir=str(tmp_path / "out"),
    )
    rows = list(csv.reader((tmp_path / "out" / "predictions.csv").open()))
    assert len(rows) == 3 and all(len(row) == 3 for row in rows)  # file name and 2 class probabilities
    assert_fails_with(
        FileNotFoundError,
        "weights file not found: '.*missing.pt'",
        run_workflow,
        BUNDLE,
        ("train", "evaluate"),
        dataset_dir=str(medmnist_dir),
        flag="nodulemnist3d",
        ckpt_path=str(tmp_path / "missing.pt"),
        eval_dir=str(tmp_path / "eval_missing"),
        **LIGHT,
    )
    assert not (tmp_path / "eval_missing").exists()


def test_missing_data_and_unknown_flag_fail_early(tmp_path, medmnist_dir):
    assert_fails_with(
        FileNotFoundError,
        r"MedMNIST file not found: '.*nodulemnist3d.npz'.*zenodo",
        run_workflow,
        BUNDLE,
        ("train",),
        dataset_dir=str(tmp_path),
        flag="nodulemnist3d",
        **LIGHT,
    )
    assert_fails_with(
        ValueError,
        "nodulemnist2d",
        run_workflow,
        BUNDLE,
        ("train",),
        dataset_dir=str(medmnist_dir),
        flag="nodulemnist2d",
        **LIGHT,
    )

"""The model zoo's own commands on every bundle, each a ``python -m monai.bundle`` subprocess run from a folder that
is not the repository: ``run`` with ``configs/inference.json`` alone on real inputs, ``verify_metadata`` against the
local schema copy, and ``verify_net_in_out`` and ``ckpt_export`` of ``network_def`` from ``inference.json`` alone;
the exported TorchScript module gives the outputs of the network in eval mode."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser

from monai_sre.data import medmnist_path
from monai_sre.networks.weights import load_weights
from tests.bundles.conftest import INFER, REPO, SCHEMA, TRAIN, bundle_config, run_workflow

TIMEOUT = 300  # seconds, for any one command


@dataclass(frozen=True)
class Case:
    """One bundle's model zoo commands: what they are given and what they must give back."""

    bundle: str
    inputs: Path  # a folder of real volumes for inference.json
    ckpt_file: Path  # the weights that inference and the export load
    overrides: dict[str, str] = field(default_factory=dict)  # given to every command (a run folder, a network)
    export: Sequence[str] = ()  # ckpt_export arguments beyond the common ones: none for a scripted export
    check_shape: tuple[int, ...] = (2, 1, 16, 16, 16)  # where the export must match the network (not the traced shape)
    net_in_out: dict[str, str] = field(default_factory=dict)  # verify_net_in_out metadata overrides
    segmentation: bool = False  # a label map per input, else one predictions.csv row per input
    label_postfix: str = "seg"  # a label map's name: the input's, then this

    @property
    def configs(self) -> Path:
        return REPO / "bundles" / self.bundle / "configs"


def _cli(**options: str) -> list[str]:
    return [f"--{key}={value}" for key, value in options.items()]


def _bundle_command(case: Case, verb: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m monai.bundle VERB ARGS`` in ``cwd``; fails the test with the end of its output unless it exits 0."""
    result = subprocess.run(
        [sys.executable, "-m", "monai.bundle", verb, *args],
        capture_output=True, text=True, cwd=cwd, timeout=TIMEOUT,
    )  # fmt: skip
    assert result.returncode == 0, f"{case.bundle}: {verb} exited {result.returncode}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def patches(tmp_path_factory) -> Path:
    """Three test patches of the embedded tissue dataset as NIfTI (2 mm, 0..255), by the export script."""
    folder = tmp_path_factory.mktemp("patches")
    script = REPO / "scripts" / "export_tissue_patches.py"
    subprocess.run([sys.executable, str(script), "--count", "3", "--output", str(folder)], check=True, timeout=TIMEOUT)
    return folder


@pytest.fixture(scope="module")
def sre_resnet3d_tissue(patches) -> Case:
    """The shipped weights; exported scripted, as the docs' command does (the group convolutions script)."""
    root = REPO / "bundles" / "sre_resnet3d_tissue"
    return Case(
        "sre_resnet3d_tissue", patches, root / "models" / "model.pt",
    )  # fmt: skip


@pytest.fixture(scope="module")
def sre_classification(classification_run, classification_example) -> Case:
    """A short training run on the classification example (4 classes, where the metadata describes 2: the model
    zoo's metadata override); inference reads the run's training domain; exported scripted, as the docs' command."""
    return Case(
        "sre_classification", classification_example / "test", classification_run / "models" / "model.pt",
        overrides={"run_dir": str(classification_run)},
        net_in_out={"_meta_#network_data_format#outputs#pred#num_channels": "4"},
    )  # fmt: skip


@pytest.fixture(scope="module")
def sre_resnet3d_medmnist(patches, tmp_path_factory) -> Case:
    """One epoch of the light SRE ResNet on a small file in MedMNIST's layout for the default flag (organmnist3d,
    11 classes), predicting the tissue patches (volumes on MedMNIST's 0..255 scale); exported scripted."""
    data = tmp_path_factory.mktemp("medmnist")
    rng = np.random.default_rng(0)
    arrays = {}
    for split, count in (("train", 12), ("val", 11), ("test", 4)):
        arrays[f"{split}_images"] = rng.integers(0, 256, (count, 28, 28, 28), dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(count) % 11)[:, None].astype(np.int64)
    np.savez_compressed(medmnist_path(data, "organmnist3d"), **arrays)
    run = tmp_path_factory.mktemp("medmnist_run") / "run"
    light = {"model_name": "sre_resnet_light"}
    run_workflow("sre_resnet3d_medmnist", TRAIN, dataset_dir=str(data), run_dir=str(run), max_epochs=1,
                 batch_size=4, **light)  # fmt: skip
    return Case(
        "sre_resnet3d_medmnist", patches, run / "models" / "model.pt", overrides={"run_dir": str(run), **light},
        check_shape=(2, 1, 32, 32, 32),
    )  # fmt: skip


@pytest.fixture(scope="module")
def sre_segmentation(tmp_path_factory) -> Case:
    """The shipped weights (trained on the bundle's tissue example, 4 classes as the metadata describes) on the
    example's whole test slab; exported scripted, as the docs' command does."""
    folder = tmp_path_factory.mktemp("slab")
    example = REPO / "bundles" / "sre_segmentation" / "data" / "tissue_example"
    test = json.loads((example / "datalist.json").read_text())["test"][0]
    shutil.copy(example / test["image"], folder / "slab.nii.gz")
    return Case(
        "sre_segmentation", folder, REPO / "bundles" / "sre_segmentation" / "models" / "model.pt",
        check_shape=(2, 1, 16, 32, 16), segmentation=True,
    )  # fmt: skip


BUNDLES = ["sre_resnet3d_tissue", "sre_classification", "sre_resnet3d_medmnist", "sre_segmentation"]


@pytest.fixture(params=BUNDLES)
def case(request) -> Case:
    return request.getfixturevalue(request.param)


def test_every_bundle_is_covered():
    assert sorted(BUNDLES) == sorted(p.parent.parent.name for p in (REPO / "bundles").glob("*/configs/metadata.json"))


def test_inference_json_runs_alone(case, tmp_path):
    out = tmp_path / "out"
    inference = case.configs / "inference.json"
    options = _cli(config_file=inference, dataset_dir=case.inputs, output_dir=out, **case.overrides)
    _bundle_command(case, "run", *options, cwd=tmp_path)
    volumes = sorted(case.inputs.glob("*.nii.gz"))
    assert volumes
    if case.segmentation:
        for volume in volumes:
            stem = volume.name.removesuffix(".nii.gz")
            label_map = nib.load(out / f"{stem}_{case.label_postfix}.nii.gz")
            assert label_map.shape == nib.load(volume).shape and label_map.get_data_dtype() == np.uint8
        return
    rows = list(csv.DictReader((out / "predictions.csv").open()))
    assert sorted(Path(row["image"]).name for row in rows) == [v.name for v in volumes]
    for row in rows:
        assert not row["refused_reason"] and row["predicted_class"]
        probabilities = [float(v) for k, v in row.items() if k.startswith("prob_")]
        assert sum(probabilities) == pytest.approx(1, abs=1e-5)


def test_verify_metadata_with_the_local_schema(case, tmp_path):
    _bundle_command(case, "verify_metadata", *_cli(meta_file=case.configs / "metadata.json", filepath=SCHEMA),
                    cwd=tmp_path)  # fmt: skip


def test_verify_net_in_out_from_inference_json_alone(case, tmp_path):
    options = _cli(meta_file=case.configs / "metadata.json", config_file=case.configs / "inference.json",
                   device="cpu", **case.overrides, **case.net_in_out)  # fmt: skip
    result = _bundle_command(case, "verify_net_in_out", "network_def", *options, cwd=tmp_path)
    assert "data shape of network is verified with no error" in result.stdout + result.stderr


def test_ckpt_export_from_inference_json_alone_matches_the_network(case, tmp_path):
    exported = tmp_path / "model.ts"
    options = _cli(filepath=exported, meta_file=case.configs / "metadata.json",
                   config_file=case.configs / "inference.json", ckpt_file=case.ckpt_file, **case.overrides)  # fmt: skip
    _bundle_command(case, "ckpt_export", "network_def", *options, *case.export, cwd=tmp_path)
    parser = ConfigParser()
    parser.read_config(bundle_config(case.bundle, *INFER))
    parser.read_meta(str(case.configs / "metadata.json"))
    parser.update(case.overrides)
    network = load_weights(case.ckpt_file, parser.get_parsed_content("network_def")).eval()
    x = torch.randn(case.check_shape)
    with torch.no_grad():
        torch.testing.assert_close(torch.jit.load(str(exported))(x), network(x), rtol=1e-4, atol=1e-4)

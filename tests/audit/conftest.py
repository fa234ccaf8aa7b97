# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""A classification bundle in the MONAI model zoo's layout, written and trained here on real volumes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]

METADATA = {
    "version": "0.1.0",
    "name": "zoo-style tissue classifier",
    "task": "Classification of 3D T1 patches into four tissue types",
    "network_data_format": {
        "inputs": {"image": {"type": "image", "num_channels": 1, "spatial_shape": [16, 16, 16]}},
        "outputs": {"pred": {"type": "probabilities", "format": "classes", "num_channels": 4, "spatial_shape": [4]}},
    },
}
# the model zoo's layout: train.json defines everything, evaluate.json overrides it; inference.json stands alone
NETWORK = {
    "_target_": "ResNet",
    "block": "basic",
    "layers": [1, 1, 1, 1],
    "block_inplanes": [4, 8, 16, 16],
    "spatial_dims": 3,
    "n_input_channels": 1,
    "num_classes": 4,
}
PREPROCESSING = {
    "_target_": "Compose",
    "transforms": [
        {"_target_": "LoadImaged", "keys": "image", "image_only": True, "ensure_channel_first": True},
        {"_target_": "ScaleIntensityRanged", "keys": "image", "a_min": 0, "a_max": 255, "b_min": -1, "b_max": 1},
        {"_target_": "CenterSpatialCropd", "keys": "image", "roi_size": [16, 16, 16]},
        {"_target_": "EnsureTyped", "keys": "image", "track_meta": False},
    ],
}
LOADER = {
    "_target_": "CheckpointLoader",
    "load_path": "$@bundle_root + '/models/model.pt'",
    "load_dict": {"model": "@network"},
}
COMMON = {
    "imports": ["$import json", "$import os", "$import torch"],
    "bundle_root": ".",
    "device": "$torch.device('cpu')",
    "dataset_dir": "$@bundle_root + '/data'",
    "datalist": "$json.load(open(os.path.join(@dataset_dir, 'datalist.json')))",
    "network_def": NETWORK,
    "network": "$@network_def.to(@device)",
    "preprocessing": PREPROCESSING,
}


def _section(items: str) -> dict:
    return {
        "dataset": {"_target_": "Dataset", "data": items, "transform": "@preprocessing"},
        "dataloader": {"_target_": "DataLoader", "dataset": "@validate#dataset", "batch_size": 4, "num_workers": 0},
    }


TRAIN = {
    **COMMON,
    "validate": {
        **_section(
            "$[{'image': os.path.join(@dataset_dir, d['image']), 'label': d['label']} for d in @datalist['validation']]"
        ),
        "evaluator": {
            "_target_": "SupervisedEvaluator",
            "device": "@device",
            "val_data_loader": "@validate#dataloader",
            "network": "@network",
            "inferer": {"_target_": "SimpleInferer"},
        },
    },
}
EVALUATE = {
    "validate#dataset#data": "$[{'image': os.path.join(@dataset_dir, d['image']), 'label': d['label']} for d in @datalist['test']]",
    "validate#handlers": [LOADER, {"_target_": "StatsHandler", "iteration_log": False}],
    "validate#evaluator#val_handlers": "@validate#handlers",
}
INFERENCE = {
    **COMMON,
    "dataset": {
        "_target_": "Dataset",
        "data": "$[{'image': os.path.join(@dataset_dir, d['image'])} for d in @datalist['test']]",
        "transform": "@preprocessing",
    },
    "dataloader": {"_target_": "DataLoader", "dataset": "@dataset", "batch_size": 4, "num_workers": 0},
    "handlers": [LOADER],
    "evaluator": {
        "_target_": "SupervisedEvaluator",
        "device": "@device",
        "val_data_loader": "@dataloader",
        "network": "@network",
        "inferer": {"_target_": "SimpleInferer"},
        "val_handlers": "@handlers",
    },
}


def write_bundle(folder: Path, data: Path, configs: dict[str, dict], metadata: dict = METADATA) -> Path:
    """A bundle folder with ``configs`` (name -> content), ``metadata`` and a link to the data."""
    (folder / "configs").mkdir(parents=True)
    (folder / "models").mkdir()
    (folder / "data").symlink_to(data)
    (folder / "configs" / "metadata.json").write_text(json.dumps(metadata))
    for name, content in configs.items():
        (folder / "configs" / name).write_text(json.dumps(content, indent=1))
    return folder


@pytest.fixture(scope="session")
def zoo_bundle(classification_example, tmp_path_factory) -> Path:
    """The zoo-layout bundle, its MONAI ResNet trained for a few steps on the example's training volumes."""
    from monai.bundle import ConfigParser

    folder = write_bundle(
        tmp_path_factory.mktemp("zoo") / "zoo_classifier",
        classification_example,
        {"train.json": TRAIN, "evaluate.json": EVALUATE, "inference.json": INFERENCE},
    )
    parser = ConfigParser()
    parser.read_config(str(folder / "configs" / "train.json"))
    parser["bundle_root"] = str(folder)
    datalist = parser.get_parsed_content("datalist")
    items = [{"image": str(folder / "data" / d["image"]), "label": d["label"]} for d in datalist["training"]]
    data = [parser.get_parsed_content("preprocessing")(item) for item in items]
    images = torch.stack([torch.as_tensor(d["image"]) for d in data]).float()
    labels = torch.tensor([d["label"] for d in items])
    torch.manual_seed(0)
    network = parser.get_parsed_content("network_def")
    optimizer = torch.optim.Adam(network.parameters(), 1e-2)
    network.train()
    for _ in range(15):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(network(images), labels).backward()
        optimizer.step()
    torch.save(network.state_dict(), folder / "models" / "model.pt")
    return folder

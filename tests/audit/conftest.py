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


# --- bundles in the model zoo's full layout (train / validate sections, trainer, saver), trained by their own
# configs: a DenseNet121 classifier (the classification example's real 30^3 volumes) and a UNet segmenter with a
# sliding-window inferer and Dice (image/label NIfTI patches of the MNI template's tissue labels)


def small_cpu():
    """oneDNN off: on the CPU it spends seconds building kernels for every new convolution shape, which dominates
    the few steps these tests run of networks with many shapes (DenseNet121: 10.9 s of CPU for the first
    training step, 0.65 s for the next; plain convolutions: 2.3 s, then 1.3 s). Same results to round-off."""
    return torch.backends.mkldnn.flags(enabled=False)


@pytest.fixture
def no_onednn():
    """A test run with :func:`small_cpu` (``pytestmark = pytest.mark.usefixtures("no_onednn")``)."""
    with small_cpu():
        yield


def run_workflow(bundle: Path, configs: list[str], workflow_type: str = "train", **override):
    """Run a bundle's own configs in-process, as ``python -m monai.bundle run`` runs them; the workflow."""
    with small_cpu():
        return _run_workflow(bundle, configs, workflow_type, **override)


def _run_workflow(bundle: Path, configs: list[str], workflow_type: str, **override):
    from monai.bundle import ConfigWorkflow

    workflow = ConfigWorkflow(
        config_file=[str(bundle / "configs" / name) for name in configs],
        meta_file=str(bundle / "configs" / "metadata.json"),
        logging_file=False,
        workflow_type=workflow_type,
        bundle_root=str(bundle),
        **override,
    )
    workflow.initialize()
    workflow.run()
    workflow.finalize()
    return workflow


def _imports_and_paths(extra: dict) -> dict:
    return {
        "imports": ["$import json", "$import os", "$import torch", "$import ignite"],
        "bundle_root": ".",
        "ckpt_dir": "$@bundle_root + '/models'",
        "output_dir": "$@bundle_root + '/eval'",
        "dataset_dir": "$@bundle_root + '/data'",
        "datalist": "$json.load(open(os.path.join(@dataset_dir, 'datalist.json')))",
        "device": "$torch.device('cpu')",
        **extra,
        "network": "$@network_def.to(@device)",
    }


def _saver() -> dict:
    return {
        "_target_": "CheckpointSaver",
        "save_dir": "@ckpt_dir",
        "save_dict": {"model": "@network"},
        "save_key_metric": True,
        "key_metric_filename": "model.pt",
    }


def _trainer(extra: dict | None = None) -> dict:
    return {
        "_target_": "SupervisedTrainer",
        "max_epochs": "@max_epochs",
        "device": "@device",
        "train_data_loader": "@train#dataloader",
        "network": "@network",
        "loss_function": "@loss",
        "optimizer": "@optimizer",
        "inferer": "@train#inferer",
        "train_handlers": "@train#handlers",
        **(extra or {}),
    }


def _evaluator(extra: dict | None = None) -> dict:
    return {
        "_target_": "SupervisedEvaluator",
        "device": "@device",
        "val_data_loader": "@validate#dataloader",
        "network": "@network",
        "inferer": "@validate#inferer",
        "key_val_metric": "@validate#key_metric",
        "val_handlers": "@validate#handlers",
        **(extra or {}),
    }


TRAIN_HANDLERS = [
    {"_target_": "ValidationHandler", "validator": "@validate#evaluator", "epoch_level": True, "interval": 1},
    {
        "_target_": "StatsHandler",
        "tag_name": "train_loss",
        "output_transform": "$monai.handlers.from_engine(['loss'], first=True)",
    },
]
EVAL_HANDLERS = [
    {"_target_": "CheckpointLoader", "load_path": "$@ckpt_dir + '/model.pt'", "load_dict": {"model": "@network"}},
    {"_target_": "StatsHandler", "iteration_log": False},
]
ITEMS = "$[{{'image': os.path.join(@dataset_dir, d['image']), 'label': {label}}} for d in @datalist['{split}']]"

DENSENET = {
    "_target_": "DenseNet121",  # narrow: every width a multiple of 3, so convert_to_group keeps it (3 axes)
    "spatial_dims": 3,
    "in_channels": 1,
    "out_channels": 4,
    "init_features": 6,
    "growth_rate": 3,
    "bn_size": 2,
}
DENSENET_METADATA = {
    **METADATA,
    "version": "0.2.1",
    "name": "zoo-style DenseNet121 tissue classifier",
    "changelog": {"0.2.1": "first release"},
    "network_data_format": {
        "inputs": {"image": {"type": "image", "num_channels": 1, "spatial_shape": [30, 30, 30]}},
        "outputs": {"pred": {"type": "probabilities", "format": "classes", "num_channels": 4, "spatial_shape": [4]}},
    },
}


def _classification_transforms() -> list:
    return [
        {"_target_": "LoadImaged", "keys": "image", "image_only": True, "ensure_channel_first": True},
        {"_target_": "ScaleIntensityRanged", "keys": "image", "a_min": 0, "a_max": 255, "b_min": -1, "b_max": 1},
        {"_target_": "CenterSpatialCropd", "keys": "image", "roi_size": [30, 30, 30]},  # the network's input size
        {"_target_": "EnsureTyped", "keys": "image", "track_meta": False},
    ]


DENSENET_TRAIN = {
    **_imports_and_paths({"network_def": DENSENET}),
    "max_epochs": 1,
    "loss": {"_target_": "torch.nn.CrossEntropyLoss"},
    "optimizer": {"_target_": "torch.optim.Adam", "params": "$@network.parameters()", "lr": 0.01},
    "train": {
        "preprocessing": {"_target_": "Compose", "transforms": _classification_transforms()},
        "dataset": {
            "_target_": "Dataset",
            "data": ITEMS.format(label="d['label']", split="training"),
            "transform": "@train#preprocessing",
        },
        "dataloader": {
            "_target_": "DataLoader",
            "dataset": "@train#dataset",
            "batch_size": 8,
            "shuffle": True,
            "num_workers": 0,
        },
        "inferer": {"_target_": "SimpleInferer"},
        "handlers": TRAIN_HANDLERS,
        "trainer": _trainer(),
    },
    "validate": {
        "preprocessing": {"_target_": "Compose", "transforms": _classification_transforms()},
        "dataset": {
            "_target_": "Dataset",
            "data": ITEMS.format(label="d['label']", split="validation"),
            "transform": "@validate#preprocessing",
        },
        "dataloader": {"_target_": "DataLoader", "dataset": "@validate#dataset", "batch_size": 4, "num_workers": 0},
        "inferer": {"_target_": "SimpleInferer"},
        "key_metric": {
            "val_accuracy": {
                "_target_": "ignite.metrics.Accuracy",
                "output_transform": "$monai.handlers.from_engine(['pred', 'label'])",
            }
        },
        "handlers": [{"_target_": "StatsHandler", "iteration_log": False}, _saver()],
        "evaluator": _evaluator({"decollate": False}),
    },
    "initialize": ["$monai.utils.set_determinism(seed=0)"],
    "run": ["$@train#trainer.run()"],
}
DENSENET_EVALUATE = {
    "validate#dataset#data": ITEMS.format(label="d['label']", split="test"),
    "validate#handlers": EVAL_HANDLERS,
    "run": ["$@validate#evaluator.run()"],
}


def trained_bundle(folder: Path, data: Path, train: dict, evaluate: dict, metadata: dict) -> Path:
    """A bundle with ``train.json`` and ``evaluate.json``, trained by its own train.json (its validation's
    CheckpointSaver writes ``models/model.pt``)."""
    write_bundle(folder, data, {"train.json": train, "evaluate.json": evaluate}, metadata)
    run_workflow(folder, ["train.json"])
    assert (folder / "models" / "model.pt").is_file()
    return folder


@pytest.fixture(scope="session")
def densenet_bundle(classification_example, tmp_path_factory) -> Path:
    """The zoo-layout DenseNet121 bundle, trained for one epoch."""
    folder = tmp_path_factory.mktemp("zoo_densenet") / "densenet_classifier"
    return trained_bundle(folder, classification_example, DENSENET_TRAIN, DENSENET_EVALUATE, DENSENET_METADATA)


SEG_CLASSES = 5  # background and the four tissues of monai_sre.data.TISSUE_SEGMENTATION_CLASSES
SEG_METADATA = {
    "version": "0.3.0",
    "name": "zoo-style tissue segmentation",
    "task": "Segmentation of brain tissues in 3D T1 volumes",
    "changelog": {"0.3.0": "first release"},
    "network_data_format": {
        "inputs": {"image": {"type": "image", "num_channels": 1, "spatial_shape": [16, 16, 16]}},
        "outputs": {
            "pred": {
                "type": "image",
                "format": "segmentation",
                "num_channels": SEG_CLASSES,
                "spatial_shape": [16, 16, 16],
                "channel_def": {
                    str(i): name for i, name in enumerate(("background", "cortical GM", "deep GM", "WM", "CSF"))
                },
            }
        },
    },
}
UNET = {
    "_target_": "UNet",
    "spatial_dims": 3,
    "in_channels": 1,
    "out_channels": SEG_CLASSES,
    "channels": [8, 16, 32],
    "strides": [2, 2],
    "num_res_units": 1,
    "norm": "batch",
}
SEG_ITEMS = "$[{'image': os.path.join(@dataset_dir, d['image']), 'label': os.path.join(@dataset_dir, d['label'])} for d in @datalist['%s']]"
SEG_TRAIN = {
    **_imports_and_paths({"network_def": UNET}),
    "max_epochs": 2,
    "loss": {"_target_": "DiceCELoss", "to_onehot_y": True, "softmax": True},
    "optimizer": {"_target_": "torch.optim.Adam", "params": "$@network.parameters()", "lr": 0.01},
    "train": {  # the model zoo's spleen_ct_segmentation layout
        "deterministic_transforms": [
            {"_target_": "LoadImaged", "keys": ["image", "label"], "ensure_channel_first": True},
            {
                "_target_": "ScaleIntensityRanged",
                "keys": "image",
                "a_min": 0,
                "a_max": 255,
                "b_min": 0,
                "b_max": 1,
                "clip": True,
            },
            {"_target_": "EnsureTyped", "keys": ["image", "label"]},
        ],
        "random_transforms": [
            {
                "_target_": "RandCropByPosNegLabeld",
                "keys": ["image", "label"],
                "label_key": "label",
                "spatial_size": [16, 16, 16],
                "pos": 1,
                "neg": 1,
                "num_samples": 2,
                "image_key": "image",
                "image_threshold": 0,
            }
        ],
        "preprocessing": {
            "_target_": "Compose",
            "transforms": "$@train#deterministic_transforms + @train#random_transforms",
        },
        "dataset": {
            "_target_": "CacheDataset",
            "data": SEG_ITEMS % "training",
            "transform": "@train#preprocessing",
            "cache_rate": 1.0,
            "num_workers": 0,
            "progress": False,
        },
        "dataloader": {
            "_target_": "DataLoader",
            "dataset": "@train#dataset",
            "batch_size": 2,
            "shuffle": True,
            "num_workers": 0,
        },
        "inferer": {"_target_": "SimpleInferer"},
        "handlers": TRAIN_HANDLERS,
        "trainer": _trainer(),
    },
    "validate": {
        "preprocessing": {"_target_": "Compose", "transforms": "%train#deterministic_transforms"},
        "dataset": {
            "_target_": "CacheDataset",
            "data": SEG_ITEMS % "validation",
            "transform": "@validate#preprocessing",
            "cache_rate": 1.0,
            "num_workers": 0,
            "progress": False,
        },
        "dataloader": {
            "_target_": "DataLoader",
            "dataset": "@validate#dataset",
            "batch_size": 1,
            "shuffle": False,
            "num_workers": 0,
        },
        "inferer": {"_target_": "SlidingWindowInferer", "roi_size": [16, 16, 16], "sw_batch_size": 4, "overlap": 0.25},
        "postprocessing": {
            "_target_": "Compose",
            "transforms": [
                {"_target_": "Activationsd", "keys": "pred", "softmax": True},
                {
                    "_target_": "AsDiscreted",
                    "keys": ["pred", "label"],
                    "argmax": [True, False],
                    "to_onehot": SEG_CLASSES,
                },
            ],
        },
        "key_metric": {
            "val_mean_dice": {
                "_target_": "MeanDice",
                "include_background": False,
                "output_transform": "$monai.handlers.from_engine(['pred', 'label'])",
            }
        },
        "handlers": [{"_target_": "StatsHandler", "iteration_log": False}, _saver()],
        "evaluator": _evaluator({"postprocessing": "@validate#postprocessing"}),
    },
    "initialize": ["$monai.utils.set_determinism(seed=0)"],
    "run": ["$@train#trainer.run()"],
}
SEG_EVALUATE = {
    "validate#dataset#data": SEG_ITEMS % "test",
    "validate#handlers": EVAL_HANDLERS,
    "run": ["$@validate#evaluator.run()"],
}


@pytest.fixture(scope="session")
def segmentation_example(tmp_path_factory) -> Path:
    """Image and label NIfTI volumes (28^3, 2 mm) of real anatomy: patches of the MNI ICBM152 2009 T1 template
    with its voxel-wise tissue labels (the package's segmentation asset, built from the template's GM/WM maps),
    8 / 2 / 2 from its train / validation / test slabs, and a decathlon-style ``datalist.json``."""
    import nibabel as nib
    import numpy as np

    from monai_sre.data import load_tissue_segmentation_arrays

    arrays = load_tissue_segmentation_arrays()
    folder = tmp_path_factory.mktemp("segmentation_example")
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    datalist = {}
    for split, key, count in (("training", "train", 8), ("validation", "val", 2), ("test", "test", 2)):
        datalist[split] = []
        (folder / split).mkdir()
        for index in range(count):
            item = {}
            for kind in ("image", "label"):
                path = f"{split}/{kind}_{index:02d}.nii.gz"
                nib.save(nib.Nifti1Image(arrays[f"{key}_{kind}s"][index], affine), folder / path)
                item[kind] = path
            datalist[split].append(item)
    (folder / "datalist.json").write_text(json.dumps(datalist, indent=1))
    return folder


@pytest.fixture(scope="session")
def segmentation_bundle(segmentation_example, tmp_path_factory) -> Path:
    """The zoo-layout UNet bundle (sliding window, Dice), trained for two epochs."""
    folder = tmp_path_factory.mktemp("zoo_unet") / "unet_segmenter"
    return trained_bundle(folder, segmentation_example, SEG_TRAIN, SEG_EVALUATE, SEG_METADATA)

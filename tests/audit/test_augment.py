# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Where ``--augment so3`` puts the random rotation in training preprocessings of the layouts bundles use, and
that no other pipeline changes (configs parsed by MONAI after the edit; nothing trained)."""

from __future__ import annotations

import copy
import json

import pytest
from monai.bundle import ConfigParser

from monai_sre.audit.augment import apply_rotation, plan_rotation
from monai_sre.audit.configs import RawConfigs, locate
from tests.audit.conftest import PREPROCESSING, SEG_TRAIN, TRAIN

LOAD = {"_target_": "LoadImaged", "keys": ["image", "label"], "ensure_channel_first": True}
TYPED = {"_target_": "EnsureTyped", "keys": ["image", "label"]}


def _bundle(tmp_path, configs: dict) -> tuple[ConfigParser, RawConfigs, list[str]]:
    (tmp_path / "configs").mkdir(parents=True, exist_ok=True)
    for name, content in configs.items():
        (tmp_path / "configs" / name).write_text(json.dumps(content))
    names = list(configs)
    parser = ConfigParser()
    parser.read_config([str(tmp_path / "configs" / n) for n in names])
    return parser, RawConfigs(tmp_path / "configs"), names


def _edited(tmp_path, configs: dict, **kwargs):
    """Plan, apply and save; the plan, and the transforms (class names) of the training and validation pipelines
    as MONAI builds them from the saved configs."""
    parser, raw, names = _bundle(tmp_path, configs)
    plan = plan_rotation(parser, raw, names, **kwargs)
    apply_rotation(plan, parser, raw)
    raw.save()
    edited = ConfigParser()
    edited.read_config([str(tmp_path / "configs" / n) for n in names])
    pipelines = {}
    for section in ("train", "validate"):
        if f"{section}#dataset#transform" in edited:
            compose = edited.get_parsed_content(f"{section}#dataset#transform")
            pipelines[section] = [type(t).__name__ for t in compose.transforms]
    return plan, pipelines, raw


def test_model_zoo_segmentation_layout(tmp_path):
    """spleen_ct_segmentation: the rotation goes before RandCropByPosNegLabeld in train#random_transforms (edited
    in place); validation reuses %train#deterministic_transforms and is unchanged."""
    plan, pipelines, raw = _edited(tmp_path, {"train.json": SEG_TRAIN})
    assert plan.mode == "in place" and plan.list_id == "train#random_transforms" and plan.index == 0
    assert plan.transform == {
        "_target_": "monai_sre.transforms.RandSO3Rotated",
        "keys": ["image", "label"],
        "prob": 1.0,
        "mode": ["bilinear", "nearest"],
        "padding_mode": "zeros",
    }
    assert pipelines["train"] == [
        "LoadImaged", "ScaleIntensityRanged", "EnsureTyped", "RandSO3Rotated", "RandCropByPosNegLabeld"
    ]  # fmt: skip
    assert pipelines["validate"] == ["LoadImaged", "ScaleIntensityRanged", "EnsureTyped"]
    assert (
        raw.files["train.json"]["train"]["deterministic_transforms"] == SEG_TRAIN["train"]["deterministic_transforms"]
    )
    assert "inserted before the RandCropByPosNegLabeld at 'train#random_transforms#0'" in plan.describe()


def test_shared_list_is_not_edited(tmp_path):
    """No crop, no random transform: the rotation goes before the trailing EnsureTyped, in a list validation
    shares; the training Compose is rewritten around it instead."""
    train = copy.deepcopy(SEG_TRAIN)
    train["train"]["random_transforms"] = []
    plan, pipelines, raw = _edited(tmp_path, {"train.json": train})
    assert plan.mode == "compose" and plan.list_id == "train#deterministic_transforms" and plan.index == 2
    assert any("validate#preprocessing#transforms -> train#deterministic_transforms" in s for s in plan.shared_by)
    written = raw.files["train.json"]["train"]
    assert written["preprocessing"]["transforms"] == (
        "$@train#deterministic_transforms[:2] + [@train#so3_rotation] + @train#deterministic_transforms[2:] "
        "+ @train#random_transforms"
    )
    assert written["so3_rotation"]["_target_"] == "monai_sre.transforms.RandSO3Rotated"
    assert pipelines["train"] == ["LoadImaged", "ScaleIntensityRanged", "RandSO3Rotated", "EnsureTyped"]
    assert pipelines["validate"] == ["LoadImaged", "ScaleIntensityRanged", "EnsureTyped"]


def test_shared_compose_gets_a_training_copy(tmp_path):
    """One top-level preprocessing for training and validation (the audit tests' bundle): the training dataset
    gets its own Compose around the fused rotate + crop; validation keeps its centre crop."""
    train = {
        **TRAIN,
        "train": {
            "dataset": {"_target_": "Dataset", "data": [], "transform": "@preprocessing"},
            "dataloader": {"_target_": "DataLoader", "dataset": "@train#dataset"},
            "trainer": {"_target_": "SupervisedTrainer", "train_data_loader": "@train#dataloader"},
        },
    }
    train["validate"] = {**TRAIN["validate"], "dataset": {**TRAIN["validate"]["dataset"], "data": []}}
    plan, pipelines, raw = _edited(tmp_path, {"train.json": train})
    assert plan.mode == "dataset" and plan.replace and plan.list_id == "preprocessing#transforms"
    assert raw.files["train.json"]["train"]["dataset"]["transform"] == {
        "_target_": "Compose",
        "transforms": "$@preprocessing#transforms[:2] + [@train#so3_rotation] + @preprocessing#transforms[3:]",
    }
    assert raw.files["train.json"]["preprocessing"] == PREPROCESSING  # as written
    assert pipelines["train"] == ["LoadImaged", "ScaleIntensityRanged", "RandSO3RotateCropd", "EnsureTyped"]
    assert pipelines["validate"] == ["LoadImaged", "ScaleIntensityRanged", "CenterSpatialCropd", "EnsureTyped"]
    assert plan.transform["roi_size"] == [16, 16, 16] and plan.transform["keys"] == ["image"]


def _classification(transforms: list) -> dict:
    return {
        "train": {
            "preprocessing": {"_target_": "Compose", "transforms": transforms},
            "dataset": {"_target_": "Dataset", "data": [], "transform": "@train#preprocessing"},
        }
    }


def test_crops_that_are_not_fused(tmp_path):
    """ResizeWithPadOrCropd may pad (the fused transform only crops): a rotation is inserted before it. With
    fuse=False a CenterSpatialCropd keeps its place too. Label keys (by name) are resampled with nearest."""
    pad_or_crop = {"_target_": "ResizeWithPadOrCropd", "keys": ["image", "seg"], "spatial_size": [16, 16, 16]}
    plan, pipelines, _ = _edited(tmp_path / "a", {"train.json": _classification([LOAD, pad_or_crop, TYPED])})
    assert not plan.replace and plan.index == 1
    assert pipelines["train"] == ["LoadImaged", "RandSO3Rotated", "ResizeWithPadOrCropd", "EnsureTyped"]
    assert plan.transform["mode"] == ["bilinear", "nearest"]  # "seg" is a label key
    crop = {"_target_": "CenterSpatialCropd", "keys": "image", "roi_size": "@patch"}
    configs = {"train.json": {"patch": [8, 8, 8], **_classification([LOAD, crop])}}
    plan, pipelines, _ = _edited(tmp_path / "b", configs, fuse=False)
    assert pipelines["train"] == ["LoadImaged", "RandSO3Rotated", "CenterSpatialCropd"]
    plan, pipelines, _ = _edited(tmp_path / "c", configs)
    assert pipelines["train"] == ["LoadImaged", "RandSO3RotateCropd"] and plan.transform["roi_size"] == "@patch"


def test_before_the_first_random_transform(tmp_path):
    flip = {"_target_": "RandFlipd", "keys": ["image", "label"], "prob": 0.5}
    plan, pipelines, _ = _edited(tmp_path, {"train.json": _classification([LOAD, TYPED, flip])})
    assert pipelines["train"] == ["LoadImaged", "EnsureTyped", "RandSO3Rotated", "RandFlipd"]
    assert plan.anchor == "RandFlipd"


def test_keys_and_label_keys_given(tmp_path):
    configs = {"train.json": _classification([{"_target_": "EnsureTyped", "keys": ["a", "b"]}])}
    plan, pipelines, _ = _edited(tmp_path, configs, keys=["a", "b"], label_keys=["a"])
    assert plan.transform["keys"] == ["a", "b"] and plan.transform["mode"] == ["nearest", "bilinear"]
    assert pipelines["train"] == ["RandSO3Rotated", "EnsureTyped"]


def test_refused_layouts(tmp_path):
    expression = {"train": {"preprocessing": "$monai_sre.data.classification_preprocessing(spatial_size=16)"}}
    parser, raw, names = _bundle(tmp_path / "a", {"train.json": expression})
    with pytest.raises(ValueError, match="'train#preprocessing' is .* not a Compose of transforms written"):
        plan_rotation(parser, raw, names)
    opaque = {"train": {"preprocessing": {"_target_": "Compose", "transforms": "$[monai.transforms.Identity()]"}}}
    parser, raw, names = _bundle(tmp_path / "b", {"train.json": opaque})
    with pytest.raises(ValueError, match="not a list of transforms written in the config nor a sum of references"):
        plan_rotation(parser, raw, names)
    parser, raw, names = _bundle(tmp_path / "c", {"train.json": {"validate": {}}})
    with pytest.raises(KeyError, match="define no training preprocessing"):
        plan_rotation(parser, raw, names)
    keyless = _classification([{"_target_": "Identityd", "keys": []}])
    parser, raw, names = _bundle(tmp_path / "d", {"train.json": keyless})
    with pytest.raises(ValueError, match="cannot tell which keys to rotate.*--keys"):
        plan_rotation(parser, raw, names)


def test_locate_flat_and_nested_ids():
    config = {"a": {"b": [1, {"c": 2}]}, "a#b#1#c": 3}
    container, key = locate(config, "a#b#1#c")
    assert key == "a#b#1#c" and container[key] == 3  # the flat override, as MONAI applies it last
    container, key = locate(config, "a#b#0")
    assert container[key] == 1
    assert locate(config, "a#x") is None and locate(config, "a#b#7") is None

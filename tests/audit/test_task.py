# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
from __future__ import annotations

import json

import pytest

from monai_sre.audit import bundle_task
from tests.audit.conftest import REPO


def _pred(**pred) -> dict:
    return {"network_data_format": {"outputs": {"pred": pred}}}


TEST_CASE_1 = [_pred(type="probabilities", format="classes", num_channels=4, spatial_shape=[4]), "classification"]
TEST_CASE_2 = [_pred(type="image", format="segmentation", num_channels=2, spatial_shape=[96, 96, 96]), "segmentation"]
TEST_CASE_3 = [{"task": "Brain tumour segmentation"}, "segmentation"]  # words alone
TEST_CASE_4 = [{"name": "breast density classification", **_pred(type="probabilities")}, "classification"]


@pytest.mark.parametrize("metadata, expected", [TEST_CASE_1, TEST_CASE_2, TEST_CASE_3, TEST_CASE_4])
def test_bundle_task(metadata, expected):
    assert bundle_task(metadata) == expected


@pytest.mark.parametrize(
    "bundle, expected", [("sre_resnet3d_tissue", "classification"), ("sre_segmentation", "segmentation")]
)
def test_shipped_bundles(bundle, expected):
    metadata = json.loads((REPO / "bundles" / bundle / "configs" / "metadata.json").read_text())
    assert bundle_task(metadata) == expected


def test_override_and_errors():
    assert bundle_task({}, task="segmentation") == "segmentation"
    with pytest.raises(ValueError, match="names no task.*--task"):
        bundle_task({"name": "a model"}, "x/configs/metadata.json")
    with pytest.raises(ValueError, match="more than one task"):
        bundle_task({"task": "segmentation", **_pred(format="classes")})
    with pytest.raises(ValueError, match="classification"):
        bundle_task({}, task="detection")

"""Every classification bundle offers weight averaging the same way, off by default, without moving the handlers that
``multi_gpu_train.json`` addresses by position (each bundle's own tests train with it on; the tissue bundle's also
resume and run two-node DDP with it)."""

from __future__ import annotations

import json

import pytest

from tests.bundles.conftest import REPO

CLASSIFICATION_BUNDLES = ("sre_resnet3d_tissue", "sre_classification", "sre_resnet3d_medmnist")


@pytest.mark.parametrize("bundle", CLASSIFICATION_BUNDLES)
def test_weight_averaging_is_declared_once_off_by_default_and_reaches_the_checkpoint(bundle):
    train = json.loads((REPO / "bundles" / bundle / "configs" / "train.json").read_text())
    assert train["weight_averaging_decay"] is None
    handlers = train["train"]["handlers"]
    assert all(isinstance(handler, dict) for handler in handlers)  # MONAI's check_properties reads each "_target_"
    assert handlers[6] == {
        "_target_": "monai_sre.handlers.WeightAveraging", "network": "@network", "validator": "@validate#evaluator",
        "decay": "@weight_averaging_decay",
    }  # fmt: skip
    assert len(handlers) == 7 and handlers[2]["_target_"] == "monai_sre.handlers.TrainingCheckpoint"
    assert handlers[2]["weight_averaging"] == "@train#handlers#6"
    multi_gpu = json.loads((REPO / "bundles" / bundle / "configs" / "multi_gpu_train.json").read_text())
    positions = {int(key.split("#")[2]) for key in multi_gpu if key.startswith("train#handlers#")}
    assert positions == {2, 3, 4, 5}  # the checkpoint (save on rank 0) and the three logging handlers
    assert [handlers[i]["_target_"] for i in (3, 4, 5)] == [
        "StatsHandler", "TensorBoardStatsHandler", "ignite.handlers.ProgressBar"
    ]  # fmt: skip

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
from __future__ import annotations

import torch

from monai_sre.handlers import pred_and_label, pred_and_onehot_label


def decollated(pred: torch.Tensor, labels: list[int]) -> list[dict]:
    return [{"pred": p, "label": torch.tensor([label])} for p, label in zip(pred, labels)]


def test_pred_and_label_stacks_a_decollated_batch():
    pred = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1]])
    stacked, label = pred_and_label(decollated(pred, [0, 2]))
    assert torch.equal(stacked, pred)
    assert label.dtype == torch.long and label.tolist() == [0, 2]


def test_pred_and_onehot_label():
    pred = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1]])
    _, onehot = pred_and_onehot_label(decollated(pred, [0, 2]))
    assert onehot.tolist() == [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]


def test_label_follows_the_prediction_device():
    # a GPU trainer's decollated labels can stay on the CPU while predictions are on the GPU: ignite's Accuracy
    # then failed with "Expected all tensors to be on the same device" (seen on an H200); "meta" stands in here
    pred = torch.empty(2, 3, device="meta")
    _, label = pred_and_label(decollated(pred, [0, 2]))
    assert label.device.type == "meta"
    _, onehot = pred_and_onehot_label(decollated(pred, [0, 2]))
    assert onehot.device.type == "meta"

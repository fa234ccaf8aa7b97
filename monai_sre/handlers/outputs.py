# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Output transforms that turn a MONAI engine's decollated output into batched tensors for ignite metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

__all__ = ["pred_and_label", "pred_and_onehot_label"]


def _stack(output: Sequence[Mapping] | Mapping, key: str) -> torch.Tensor:
    if isinstance(output, Mapping):
        return torch.as_tensor(output[key])
    return torch.stack([torch.as_tensor(item[key]) for item in output])


def pred_and_label(output: Sequence[Mapping] | Mapping) -> tuple[torch.Tensor, torch.Tensor]:
    """``(pred (B, classes), label (B,))`` for ``ignite.metrics.Accuracy`` in multi-class mode.

    The label is moved to the prediction's device (a GPU trainer's decollated labels can stay on the CPU).
    """
    pred = _stack(output, "pred")
    return pred, _stack(output, "label").reshape(-1).long().to(pred.device)


def pred_and_onehot_label(output: Sequence[Mapping] | Mapping) -> tuple[torch.Tensor, torch.Tensor]:
    """``(pred (B, classes), one-hot label (B, classes))`` for ``monai.handlers.ROCAUC``."""
    pred, label = pred_and_label(output)
    return pred, torch.nn.functional.one_hot(label, pred.shape[1]).to(pred.dtype)

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Classification metrics as MedMNIST's evaluator defines them: accuracy, and AUC (binary: the last class's
score; multi-class: mean one-vs-rest AUC, which for two classes equals the binary AUC)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from monai.metrics import compute_roc_auc
from monai.utils import look_up_option

__all__ = ["METRICS", "classification_metrics"]

METRICS = ("accuracy", "auc")


def classification_metrics(logits: torch.Tensor, labels: torch.Tensor, metrics: Sequence[str] = METRICS) -> dict:
    """Compute ``metrics`` from logits ``(N, classes)`` and integer labels ``(N,)`` or ``(N, 1)``.

    AUC is ``nan`` when the labels hold a single class (it is undefined there).

    Raises:
        ValueError: on an unknown metric, mismatched lengths, or labels outside ``0..classes-1``.
    """
    labels = labels.reshape(-1).long()
    if logits.dim() != 2 or logits.shape[0] != labels.shape[0]:
        raise ValueError(f"expected logits (N, classes) and N labels, got {tuple(logits.shape)} and {labels.shape[0]}.")
    classes = logits.shape[1]
    if labels.numel() and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(
            f"labels must lie in 0..{classes - 1}, got values from {int(labels.min())} to {int(labels.max())}."
        )
    out = {}
    for name in metrics:
        look_up_option(name, METRICS)
        if name == "accuracy":
            out[name] = float((logits.argmax(1) == labels).float().mean()) if labels.numel() else float("nan")
        elif labels.unique().numel() < 2:
            out[name] = float("nan")
        else:
            probabilities = torch.softmax(logits.float(), dim=1)
            one_hot = torch.nn.functional.one_hot(labels, classes)
            with warnings.catch_warnings():  # MONAI warns per class absent from the labels; those classes are skipped
                warnings.simplefilter("ignore")
                out[name] = float(compute_roc_auc(probabilities, one_hot, average="macro"))
    return out

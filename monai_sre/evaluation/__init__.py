# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
from __future__ import annotations

from monai_sre.transforms.functional import centre_crop

from .batches import collect_batches
from .equivariance import (
    assert_equivariant,
    equivariance_error,
    equivariance_tolerance,
    invariance_error,
    label_agreement,
)
from .metrics import METRICS, classification_metrics
from .plot import plot_robustness
from .report import RobustnessReport
from .robustness import evaluate_rotation_robustness, prediction_consistency
from .segmentation import (
    LABEL_MODES,
    evaluate_segmentation_robustness,
    label_map,
    predicted_labels,
    segmentation_metrics,
)
from .sweep import PROTOCOLS, RotationCase, RotationSweep

__all__ = [
    "LABEL_MODES",
    "METRICS",
    "PROTOCOLS",
    "RobustnessReport",
    "RotationCase",
    "RotationSweep",
    "assert_equivariant",
    "centre_crop",
    "classification_metrics",
    "collect_batches",
    "equivariance_error",
    "equivariance_tolerance",
    "evaluate_rotation_robustness",
    "prediction_consistency",
    "evaluate_segmentation_robustness",
    "invariance_error",
    "label_agreement",
    "label_map",
    "plot_robustness",
    "predicted_labels",
    "segmentation_metrics",
]

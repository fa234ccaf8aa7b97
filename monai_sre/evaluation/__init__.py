# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
from __future__ import annotations

from .equivariance import equivariance_error, invariance_error
from .metrics import METRICS, classification_metrics
from .robustness import RobustnessReport, centre_crop, collect_batches, evaluate_rotation_robustness

__all__ = [
    "METRICS",
    "RobustnessReport",
    "centre_crop",
    "classification_metrics",
    "collect_batches",
    "equivariance_error",
    "evaluate_rotation_robustness",
    "invariance_error",
]

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
from __future__ import annotations

from .outputs import pred_and_label, pred_and_onehot_label
from .prediction_writer import PredictionWriter
from .rotation_robustness import RotationRobustnessHandler, SegmentationRobustnessHandler
from .state_dict_loader import StateDictLoader
from .training_checkpoint import TrainingCheckpoint
from .weight_averaging import WeightAveraging

__all__ = [
    "PredictionWriter",
    "RotationRobustnessHandler",
    "SegmentationRobustnessHandler",
    "StateDictLoader",
    "TrainingCheckpoint",
    "WeightAveraging",
    "pred_and_label",
    "pred_and_onehot_label",
]

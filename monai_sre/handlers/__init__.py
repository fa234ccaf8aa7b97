# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
from __future__ import annotations

from .outputs import pred_and_label, pred_and_onehot_label
from .rotation_robustness import RotationRobustnessHandler
from .state_dict_loader import StateDictLoader

__all__ = ["RotationRobustnessHandler", "StateDictLoader", "pred_and_label", "pred_and_onehot_label"]

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
from __future__ import annotations

from .rotation_robustness import RotationRobustnessHandler

__all__ = ["RotationRobustnessHandler"]

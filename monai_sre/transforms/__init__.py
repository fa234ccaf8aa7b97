# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
from __future__ import annotations

from .functional import GridSymmetryElement, apply_grid_symmetry, grid_symmetries

__all__ = ["GridSymmetryElement", "apply_grid_symmetry", "grid_symmetries"]

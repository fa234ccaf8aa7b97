# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
from __future__ import annotations

from .sre_residual import SREBasicBlock, SREBottleneckBlock
from .symmetric_pool import SymmetricPool

__all__ = ["SREBasicBlock", "SREBottleneckBlock", "SymmetricPool"]

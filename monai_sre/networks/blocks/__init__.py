# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
from __future__ import annotations

from .activation_checkpointing import checkpointed, frozen_batch_norm_statistics
from .group_residual import GroupBasicBlock
from .sre_residual import SREBasicBlock, SREBottleneckBlock

__all__ = ["GroupBasicBlock", "SREBasicBlock", "SREBottleneckBlock", "checkpointed", "frozen_batch_norm_statistics"]

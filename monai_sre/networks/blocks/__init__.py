# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
from __future__ import annotations

from monai_sre.deprecation import deprecated_names

from .group_residual import GroupBasicBlock
from .sre_residual import SREBasicBlock, SREBottleneckBlock

__all__ = ["GroupBasicBlock", "SREBasicBlock", "SREBottleneckBlock"]

# moved to monai_sre.networks.activation_checkpointing (helpers, not blocks): the old names warn once
__getattr__ = deprecated_names(
    __name__,
    {
        "checkpointed": "monai_sre.networks.activation_checkpointing:checkpointed",
        "frozen_batch_norm_statistics": "monai_sre.networks.activation_checkpointing:frozen_batch_norm_statistics",
    },
)

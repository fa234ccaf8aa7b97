# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
from __future__ import annotations

from . import blocks, layers, nets, weights
from .activation_checkpointing import checkpointed, frozen_batch_norm_statistics
from .convert import ConversionReport, convert_to_sre
from .convert_group import convert_to_group

__all__ = [
    "ConversionReport",
    "blocks",
    "checkpointed",
    "convert_to_group",
    "convert_to_sre",
    "frozen_batch_norm_statistics",
    "layers",
    "nets",
    "weights",
]

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Helpers for MONAI's engines (trainers and evaluators), as MONAI keeps them in ``monai.engines.utils``."""

from __future__ import annotations

from .prepare_batch import PrepareBatchRandSO3Rotate

__all__ = ["PrepareBatchRandSO3Rotate"]

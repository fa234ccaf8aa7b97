# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Inferers: dense maps from patch classifiers, and sliding windows that keep a network's equivariance."""

from __future__ import annotations

from .patch_centre import PatchCentreInferer
from .symmetric_sliding_window import SymmetricSlidingWindowInferer, symmetric_window_starts

__all__ = ["PatchCentreInferer", "SymmetricSlidingWindowInferer", "symmetric_window_starts"]

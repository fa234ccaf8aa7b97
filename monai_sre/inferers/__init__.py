# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Inferers: dense maps from patch classifiers."""

from __future__ import annotations

from .patch_centre import PatchCentreInferer

__all__ = ["PatchCentreInferer"]

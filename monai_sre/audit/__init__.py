# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Rotation audits of MONAI bundles: ``python -m monai_sre audit BUNDLE_DIR`` (see ``docs/audit.md``)."""

from __future__ import annotations

from .audit import audit, audit_bundle, audit_pipeline
from .bundle import EVALUATOR_IDS, BundlePipeline, default_configs, read_bundle
from .task import TASKS, bundle_task

__all__ = [
    "EVALUATOR_IDS",
    "TASKS",
    "BundlePipeline",
    "audit",
    "audit_bundle",
    "audit_pipeline",
    "bundle_task",
    "default_configs",
    "read_bundle",
]

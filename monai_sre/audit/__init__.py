# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Bundle tooling: rotation audits of MONAI bundles (``python -m monai_sre audit BUNDLE_DIR``, ``docs/audit.md``)
and their conversion to SRE or group-equivariant networks (``python -m monai_sre convert-bundle BUNDLE_DIR``,
``docs/convert_bundle.md``)."""

from __future__ import annotations

from .audit import audit, audit_bundle, audit_pipeline
from .augment import RotationPlan, plan_rotation
from .bundle import EVALUATOR_IDS, BundlePipeline, default_configs, read_bundle
from .configs import RawConfigs
from .convert_bundle import (
    CONVERTERS,
    ConvertedBundle,
    convert_bundle,
    converted_network,
    exactness_limits,
    measure_symmetry,
    train_configs,
)
from .task import TASKS, bundle_task

__all__ = [
    "CONVERTERS",
    "EVALUATOR_IDS",
    "TASKS",
    "BundlePipeline",
    "ConvertedBundle",
    "RawConfigs",
    "RotationPlan",
    "audit",
    "audit_bundle",
    "audit_pipeline",
    "bundle_task",
    "convert_bundle",
    "converted_network",
    "default_configs",
    "exactness_limits",
    "measure_symmetry",
    "plan_rotation",
    "read_bundle",
    "train_configs",
]

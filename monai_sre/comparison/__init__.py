# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Fair comparisons of networks through a bundle: equal optimiser steps at every training fraction, learning rate
chosen on validation, checkpoint by validation, accuracy and consistency under rotations on the test split."""

from __future__ import annotations

from .budget import EqualStepsBudget, RunBudget
from .bundle_runs import (
    TRAIN_CONFIGS,
    TrainedRun,
    bundle_parser,
    bundle_workflow,
    evaluate_checkpoint,
    run_checkpoint,
    train_then_evaluate,
)
from .compare import DEFAULT_FRACTIONS, EVALUATION_PROTOCOLS, ComparedModel, Comparison
from .report import comparison_table, paired_differences, pairs_to_separate, plot_comparison, write_report
from .rule import RuleChoice, choose_by_rule, rule_summary

__all__ = [
    "DEFAULT_FRACTIONS",
    "EVALUATION_PROTOCOLS",
    "TRAIN_CONFIGS",
    "ComparedModel",
    "Comparison",
    "RuleChoice",
    "EqualStepsBudget",
    "RunBudget",
    "TrainedRun",
    "bundle_parser",
    "bundle_workflow",
    "choose_by_rule",
    "comparison_table",
    "evaluate_checkpoint",
    "paired_differences",
    "pairs_to_separate",
    "plot_comparison",
    "rule_summary",
    "run_checkpoint",
    "train_then_evaluate",
    "write_report",
]

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Train and evaluate through a bundle's own configs, in this process, as ``python -m monai.bundle run`` does.

Every comparison and benchmark run goes through the bundle's configs (MONAI's ``ConfigWorkflow``), so that
preprocessing, optimiser, schedule, checkpoint selection and evaluation are the bundle's; a run overrides only what
it varies (the network, the seed, the augmentation switch, the budget, the folders).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "TRAIN_CONFIGS",
    "TrainedRun",
    "bundle_parser",
    "bundle_workflow",
    "evaluate_checkpoint",
    "run_checkpoint",
    "train_then_evaluate",
]

# the configs of a bundle's training command, in merge order (evaluation adds "evaluate" after them and any overlay)
TRAIN_CONFIGS = ("inference", "train")


def _config_files(bundle: Path, names: Sequence[str]) -> list[str]:
    configs = Path(bundle) / "configs"
    files = [configs / f"{name}.json" for name in names]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise ValueError(f"bundle '{bundle}' has no config {', '.join(missing)}.")
    return [str(f) for f in files]


def bundle_workflow(bundle: str | Path, configs: Sequence[str], **overrides: Any):
    """The bundle's configs ``configs`` (names in ``bundle/configs``, merged in order, e.g.
    ``[*TRAIN_CONFIGS, "evaluate"]``) with ``overrides``, parsed and initialised as a ``train`` workflow (a MONAI
    ``ConfigWorkflow``; run it with ``.run()``, then ``.finalize()``)."""
    from monai.bundle import ConfigWorkflow

    bundle = Path(bundle)
    flow = ConfigWorkflow(
        config_file=_config_files(bundle, configs),
        meta_file=str(bundle / "configs" / "metadata.json"),
        logging_file=str(bundle / "configs" / "logging.conf"),
        workflow_type="train",
        bundle_root=str(bundle),
        **overrides,
    )
    flow.initialize()
    return flow


def bundle_parser(bundle: str | Path, configs: Sequence[str], **overrides: Any):
    """The merged configs with ``overrides`` and the bundle's metadata as a MONAI ``ConfigParser``, without
    initialising a workflow (nothing runs, no folder is made): for reading items such as the training dataset."""
    from monai.bundle import ConfigParser

    bundle = Path(bundle)
    parser = ConfigParser()
    parser.read_config(_config_files(bundle, configs))
    parser.read_meta(str(bundle / "configs" / "metadata.json"))
    parser.update({"bundle_root": str(bundle), **overrides})
    return parser


@dataclass
class TrainedRun:
    """A finished train-then-evaluate run: wall time of the training, best validation accuracy, the trainer, the
    finished evaluation workflow (its ``network`` holds the evaluated weights) and the training's validator (the
    evaluator whose best metric selected the checkpoint)."""

    train_seconds: float
    best_validation: float
    trainer: Any
    evaluate: Any
    validator: Any = None


def train_then_evaluate(
    bundle: str | Path,
    overlays: Sequence[str],
    folder: str | Path,
    protocols: Sequence[str],
    num_test: int | None = None,
    train_overrides: dict | None = None,
    **common: Any,
) -> TrainedRun:
    """Train ``bundle`` (:data:`TRAIN_CONFIGS` then the configs ``overlays``) into ``folder/train``, then evaluate its
    best model (``evaluate.json`` after the overlays) into ``folder/eval`` under ``protocols`` on ``num_test`` test
    samples (``None``: all). ``common`` overrides both workflows, ``train_overrides`` the training only (where both
    set a key, ``train_overrides`` wins).

    A rerun replaces the folders of an earlier, unfinished run.
    """
    folder = Path(folder)
    train = bundle_workflow(
        bundle,
        [*TRAIN_CONFIGS, *overlays],
        run_dir=str(folder / "train"),
        overwrite=True,
        **{**common, **(train_overrides or {})},  # the training's own overrides win
    )
    start = time.perf_counter()
    train.run()
    train_seconds = time.perf_counter() - start
    trainer = train.parser.get_parsed_content("train#trainer")
    validator = train.parser.get_parsed_content("validate#evaluator")
    train.finalize()
    evaluate = evaluate_checkpoint(bundle, overlays, folder / "train", folder / "eval", protocols, num_test, **common)
    return TrainedRun(train_seconds, float(validator.state.best_metric), trainer, evaluate, validator)


def run_checkpoint(run_dir: str | Path) -> Path:
    """The best model a bundle's training run writes into ``run_dir`` (``run_dir/models/model.pt``)."""
    return Path(run_dir) / "models" / "model.pt"


def evaluate_checkpoint(
    bundle: str | Path,
    overlays: Sequence[str],
    run_dir: str | Path,
    eval_dir: str | Path,
    protocols: Sequence[str],
    num_test: int | None = None,
    **common: Any,
):
    """Evaluate the best model of the training run ``run_dir`` (``run_dir/models/model.pt``; the run's folder also
    gives its training domain where the bundle records one) with the bundle's ``evaluate.json`` (after
    :data:`TRAIN_CONFIGS` and ``overlays``) into ``eval_dir`` under ``protocols`` on ``num_test`` test samples
    (``None``: all). ``common`` overrides the workflow (e.g. ``grid_average``); nothing is written into ``run_dir``.
    The finished workflow (its ``network`` holds the evaluated weights).

    Raises:
        FileNotFoundError: when the run has no ``models/model.pt`` (naming it).
    """
    checkpoint = run_checkpoint(run_dir)
    if not checkpoint.is_file():
        raise FileNotFoundError(f"checkpoint '{checkpoint}' to evaluate does not exist: is '{run_dir}' a finished run?")
    evaluate = bundle_workflow(
        bundle,
        [*TRAIN_CONFIGS, *overlays, "evaluate"],
        run_dir=str(run_dir),
        ckpt_path=str(checkpoint),
        eval_dir=str(eval_dir),
        overwrite=True,
        rotation_protocols=list(protocols),
        num_test_samples=num_test,
        **common,
    )
    evaluate.run()
    evaluate.finalize()
    return evaluate

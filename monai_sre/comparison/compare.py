# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""A fair comparison of networks through a classification bundle: equal optimiser steps at every training fraction.

For each model, training fraction ``f`` and seed, one run of the bundle's own configs:

- a class-balanced subsample of ``f`` of the training split, drawn with the seed
  (:func:`~monai_sre.data.balanced_subset`);
- the same optimiser steps at every fraction (:class:`~monai_sre.comparison.budget.EqualStepsBudget`: epochs scaled
  by about ``1/f``, the learning-rate schedule over the whole run, a fixed number of validations);
- the checkpoint with the best validation accuracy, evaluated on the test split upright and under ``haar-64``,
  ``grid48`` and ``grid24`` (accuracy mean and worst, and the consistency of the predicted class across rotations);
- the learning rate chosen per model on the validation split from a small grid at 100 % (first seed), kept for all
  fractions and seeds; the test split is never looked at to choose.

Rows are saved one by one into ``output/results.json`` (with the learning-rate grid), so an interrupted comparison
resumes where it stopped; ``table.md`` and ``comparison.png`` (:mod:`~monai_sre.comparison.report`) are rewritten
after every row.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monai_sre.comparison.budget import EqualStepsBudget
from monai_sre.comparison.bundle_runs import (
    TRAIN_CONFIGS,
    bundle_parser,
    evaluate_checkpoint,
    run_checkpoint,
    train_then_evaluate,
)
from monai_sre.comparison.report import write_report
from monai_sre.data.subsets import balanced_indices, check_fraction, dataset_labels
from monai_sre.run_settings import as_recorded, save_json

__all__ = ["DEFAULT_FRACTIONS", "EVALUATION_PROTOCOLS", "ComparedModel", "Comparison"]

DEFAULT_FRACTIONS = (0.02, 0.05, 0.1, 0.25, 0.5, 1.0)
EVALUATION_PROTOCOLS = ("haar-64", "grid48", "grid24")


@dataclass(frozen=True)
class ComparedModel:
    """A network of a comparison: its ``name`` in the tables, the bundle ``overrides`` that select it (``network_def``
    or ``model_name``; empty for the bundle's own), and whether it trains with random SO(3) rotations.

    The training subsample of a fraction below 1 is drawn with the run's seed; ``{"subset_seed": N}`` in
    ``overrides`` draws every seed's subsample with ``N`` instead (the seed then varies only the initialisation and
    the augmentation: an ablation that separates a hard subsample from an unlucky initialisation).

    ``trained_as`` names another model of the comparison whose training this one shares, for a model that differs
    only at evaluation (grid averaging: ``{"grid_average": True}``): it takes that model's learning rate and
    evaluates that model's checkpoint of the same fraction and seed (training it first if its row is missing), with
    its own ``overrides``; its row repeats that run's training seconds and best validation accuracy.

    ``training_overrides`` change the training run only, not the evaluation of its checkpoint: a recipe change such
    as how the checkpoint is selected (``validate#dataset``), which the test evaluation (``validate#...`` with the
    test split) must not inherit.
    """

    name: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    augment: bool = True
    trained_as: str | None = None
    training_overrides: Mapping[str, Any] = field(default_factory=dict)


# overrides that place a run, not define it: a comparison may resume on another device
PLACEMENT_OVERRIDES = ("device", "num_workers")


def _settings(common: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in common.items() if key not in PLACEMENT_OVERRIDES}


def _recipe(model: ComparedModel) -> dict[str, Any]:
    """What makes a model's rows: its overrides, augmentation, training-only overrides and shared training."""
    return as_recorded({
        "overrides": dict(model.overrides),
        "augment": model.augment,
        "training_overrides": dict(model.training_overrides),
        "trained_as": model.trained_as,
    })  # fmt: skip


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


class Comparison:
    """Run (or resume) a comparison and write its results.

    Args:
        bundle: the classification bundle's folder (``bundles/sre_resnet3d_tissue``, ``bundles/sre_classification``).
        output: the results folder (``results.json``, ``table.md``, ``comparison.png``).
        models: the networks to compare; the first is the reference of the report's paired differences (list the
            candidate default first).
        fractions: training fractions in ``(0, 1]``.
        seeds: seeds (each draws its own subsample, initialisation and augmentation).
        epochs: epochs of the 100 % run (the budget every fraction gets in optimiser steps); ``None``: the bundle's
            ``max_epochs``.
        learning_rates: a fixed learning rate per model name; models not named here get theirs from ``lr_grid``.
        lr_grid: the learning rates tried at 100 % on the first seed, chosen by best validation accuracy.
        validations: validations per run.
        overlays: bundle configs merged after ``inference.json`` and ``train.json`` (e.g. ``["plain_resnet"]``).
        num_test: test samples evaluated (``None``: all).
        protocols: the rotation protocols of the test, a non-empty subset of :data:`EVALUATION_PROTOCOLS` with
            ``haar-64``; the columns of the others stay empty in the rows run now (``--protocols haar-64`` halves
            the test of a grid-averaged model, whose grid rotations leave its answer unchanged by construction).
        work_dir: where the runs' checkpoints and logs go (default: ``output/runs``).
        resume: keep the rows (and learning rates) already in ``output/results.json``; without it an existing
            ``results.json`` is refused.
        common: bundle overrides of every run (``datalist``, ``num_classes``, ``device``, ...).

    Raises:
        ValueError: on an empty or duplicated model list, a ``trained_as`` that names no other model of the list
            (or one that is itself ``trained_as`` another), a bad fraction or protocol list, an existing
            comparison without ``resume`` (naming the file), a ``results.json`` that is not JSON, or a resumed one
            whose rows were made another way
            (another budget, other common overrides than :data:`PLACEMENT_OVERRIDES`, or another recipe under a
            model's name: the saved and the new settings are named).
    """

    def __init__(
        self,
        bundle: str | Path,
        output: str | Path,
        models: Sequence[ComparedModel],
        fractions: Sequence[float] = DEFAULT_FRACTIONS,
        seeds: Sequence[int] = (0, 1, 2, 3, 4),
        epochs: int | None = None,
        learning_rates: Mapping[str, float] | None = None,
        lr_grid: Sequence[float] = (0.001, 0.003, 0.01),
        validations: int = 20,
        overlays: Sequence[str] = (),
        num_test: int | None = None,
        work_dir: str | Path | None = None,
        resume: bool = False,
        protocols: Sequence[str] = EVALUATION_PROTOCOLS,
        **common: Any,
    ) -> None:
        names = [m.name for m in models]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"models must be a non-empty list of distinct names, got {names}.")
        by_name = {m.name: m for m in models}
        for model in models:
            source = by_name.get(model.trained_as) if model.trained_as is not None else None
            if model.trained_as is not None and (source is None or source is model or source.trained_as is not None):
                raise ValueError(
                    f"model '{model.name}': trained_as '{model.trained_as}' must name another model of the "
                    f"comparison that trains itself, one of {[m.name for m in models if m.trained_as is None]}."
                )
        if not protocols or "haar-64" not in protocols or any(p not in EVALUATION_PROTOCOLS for p in protocols):
            raise ValueError(
                f"protocols must be a subset of {list(EVALUATION_PROTOCOLS)} that includes 'haar-64', got "
                f"{list(protocols)}."
            )
        for index, fraction in enumerate(fractions):
            check_fraction(f"fractions[{index}]", fraction)
        if not seeds:
            raise ValueError("seeds must name at least one seed.")
        self.bundle, self.output = Path(bundle), Path(output)
        self.models, self.fractions, self.seeds = list(models), sorted(set(fractions)), list(seeds)
        self.lr_grid, self.validations, self.overlays = list(lr_grid), validations, list(overlays)
        self.num_test, self.common = num_test, dict(common)
        self.protocols = [p for p in EVALUATION_PROTOCOLS if p in protocols]
        self.work_dir = Path(work_dir) if work_dir is not None else self.output / "runs"
        self.results_path = self.output / "results.json"
        if self.results_path.exists() and not resume:
            raise ValueError(
                f"{self.results_path} holds an earlier comparison; pass resume=True (--resume) to continue it, or "
                "choose another output folder."
            )
        saved = self._read_saved()
        self.rows: list[dict] = saved.get("rows", [])
        self.lr_rows: list[dict] = saved.get("learning_rate_grid", [])
        self.fixed_learning_rates = dict(learning_rates or {})
        parser = bundle_parser(self.bundle, [*TRAIN_CONFIGS, *self.overlays], **self.common)
        self.labels = dataset_labels(parser.get_parsed_content("train#dataset"))
        self.budget = EqualStepsBudget(
            len(self.labels), int(parser.get_parsed_content("batch_size")),
            int(epochs if epochs is not None else parser.get_parsed_content("max_epochs")), validations,
        )  # fmt: skip
        self.recipes = {**saved.get("recipes", {}), **{m.name: _recipe(m) for m in self.models}}
        self.saved_learning_rates = dict(saved.get("learning_rates", {}))  # kept for models not run this time
        self._check_resumed(saved)

    def _read_saved(self) -> dict:
        """The saved comparison (empty without one); a file that is not JSON (cut by a crash, or edited) is refused
        by name rather than resumed from nothing."""
        if not self.results_path.exists():
            return {}
        try:
            return json.loads(self.results_path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(
                f"{self.results_path} is not valid JSON ({error}): mend it, or remove it and its rows, or choose "
                "another output folder."
            ) from error

    def _check_resumed(self, saved: Mapping[str, Any]) -> None:
        """Refuse to add rows to a saved comparison whose rows were made another way: another budget, other common
        overrides (placement such as ``device`` aside) or another recipe under a model's name. A file saved before
        recipes were recorded is taken as it is."""
        mismatches = []
        if "budget" in saved and saved["budget"] != self._budget_record():
            mismatches.append(f"the budget {saved['budget']} (now {self._budget_record()})")
        if "common" in saved and _settings(saved["common"]) != _settings(as_recorded(self.common)):
            mismatches.append(f"the common overrides {saved['common']} (now {as_recorded(self.common)})")
        for model in self.models:
            recipe = saved.get("recipes", {}).get(model.name)
            if recipe is not None and recipe != self.recipes[model.name]:
                mismatches.append(f"model '{model.name}' as {recipe} (now {self.recipes[model.name]})")
        if mismatches:
            raise ValueError(
                f"{self.results_path} was made with " + "; ".join(mismatches) + ": resuming would mix rows of "
                "different protocols in one table. Run with the saved settings, or choose another output folder."
            )

    # learning rates --------------------------------------------------------------------------------------------

    def learning_rate(self, model: ComparedModel) -> float:
        """The model's learning rate: fixed, the grid's best on validation at 100 % (training the grid's runs
        that are not in the results yet), or that of the model it is ``trained_as``."""
        if model.trained_as is not None and model.name not in self.fixed_learning_rates:
            return self.learning_rate(self.model(model.trained_as))
        if model.name not in self.fixed_learning_rates:
            for rate in self.lr_grid:
                if not any(r["model"] == model.name and r["learning_rate"] == rate for r in self.lr_rows):
                    self.lr_rows.append(self._grid_run(model, rate))
                    self._save()
        return self.learning_rate_if_known(model)

    def model(self, name: str) -> ComparedModel:
        return next(m for m in self.models if m.name == name)

    def _grid_run(self, model: ComparedModel, rate: float) -> dict:
        seed = self.seeds[0]
        folder = self.work_dir / "lr_grid" / _slug(model.name) / f"lr{rate:g}"
        run = self._train(model, 1.0, seed, rate, folder, protocols=())
        return {"model": model.name, "learning_rate": rate, "seed": seed, "best_val_accuracy": run.best_validation,
                "train_seconds": run.train_seconds}  # fmt: skip

    # runs ------------------------------------------------------------------------------------------------------

    def subset_size(self, fraction: float) -> int:
        return len(balanced_indices(self.labels, fraction, 0))  # per-class counts do not depend on the seed

    def _train(self, model: ComparedModel, fraction: float, seed: int, rate: float, folder: Path, protocols):
        budget = self.budget.for_size(self.subset_size(fraction))
        overrides = {
            **self.common,
            "subset_seed": seed,
            **model.overrides,
            "seed": seed,
            "augment_rotation": model.augment,
            "learning_rate": rate,
            "max_epochs": budget.epochs,
            "val_interval": budget.val_interval,
        }
        train_overrides = dict(model.training_overrides)
        if fraction < 1:
            subset = f"$monai_sre.data.balanced_subset(@train#dataset, {fraction!r}, @subset_seed)"
            train_overrides["train#dataloader#dataset"] = subset
        return train_then_evaluate(
            self.bundle, self.overlays, folder, protocols, self.num_test, train_overrides=train_overrides, **overrides
        )

    def _folder(self, model: ComparedModel, fraction: float, seed: int) -> Path:
        return self.work_dir / _slug(model.name) / f"f{fraction:g}" / f"seed{seed}"

    def run_one(self, model: ComparedModel, fraction: float, seed: int) -> dict:
        """Train, select and evaluate one (model, fraction, seed); the row of its results. A model ``trained_as``
        another evaluates that model's checkpoint (training it first, with its row, if the row is missing)."""
        rate = self.learning_rate(model)
        folder = self._folder(model, fraction, seed)
        if model.trained_as is None:
            run = self._train(model, fraction, seed, rate, folder, self.protocols)
            network = run.evaluate.parser.get_parsed_content("network")
            train_seconds, best_validation = run.train_seconds, run.best_validation
        else:
            source = self.model(model.trained_as)
            if not self.has_row(source.name, fraction, seed):
                self.rows.append(self.run_one(source, fraction, seed))
                self._save()
            trained = self.row(source.name, fraction, seed)
            run_dir = self._folder(source, fraction, seed) / "train"
            if not run_checkpoint(run_dir).is_file():  # the row came from a run whose folder is gone
                raise FileNotFoundError(
                    f"model '{model.name}' evaluates the checkpoint of '{source.name}' (fraction {fraction:g}, seed "
                    f"{seed}), whose row is in {self.results_path} but whose run has no '{run_checkpoint(run_dir)}': "
                    "pass that run's work_dir (--work-dir), or remove the row to train it again."
                )
            overrides = {**self.common, **model.overrides, "seed": seed, "augment_rotation": model.augment}
            evaluate = evaluate_checkpoint(
                self.bundle, self.overlays, run_dir, folder / "eval", self.protocols, self.num_test, **overrides
            )
            network = evaluate.parser.get_parsed_content("network")
            train_seconds, best_validation = trained["train_seconds"], trained["best_val_accuracy"]
        budget = self.budget.for_size(self.subset_size(fraction))
        row = {
            "model": model.name,
            "fraction": fraction,
            "seed": seed,
            "augment": model.augment,
            "num_train": budget.num_train,
            "epochs": budget.epochs,
            "steps": budget.steps,
            "learning_rate": rate,
            "params": sum(p.numel() for p in network.parameters()),
            "train_seconds": train_seconds,
            "best_val_accuracy": best_validation,
        }
        for protocol in self.protocols:
            summary = json.loads((folder / "eval" / f"robustness_{protocol}.json").read_text())["summary"]
            row["accuracy_upright"] = summary["accuracy_upright"]
            row[f"{protocol}_accuracy_mean"] = summary["accuracy_mean"]
            row[f"{protocol}_accuracy_worst"] = summary["accuracy_worst"]
            row[f"{protocol}_consistency"] = summary["consistency"]
        return row

    def run(
        self,
        models: Sequence[str] | None = None,
        fractions: Sequence[float] | None = None,
        seeds: Sequence[int] | None = None,
    ) -> list[dict]:
        """Every missing (model, fraction, seed) row, saved one by one; the rows.

        Seed by seed, smallest fraction first, every model at each (so that a comparison stopped part-way has
        comparable rows). ``models`` (names), ``fractions`` and ``seeds`` restrict this call to a part of the
        comparison (split a long comparison over sittings, then ``resume``).
        """
        chosen = [m for m in self.models if models is None or m.name in models]
        for seed in self.seeds if seeds is None else seeds:
            for fraction in self.fractions if fractions is None else sorted(fractions):
                for model in chosen:
                    if not self.has_row(model.name, fraction, seed):
                        self.rows.append(self.run_one(model, fraction, seed))
                        self._save()
        self._save()
        return self.rows

    def row(self, name: str, fraction: float, seed: int) -> dict | None:
        """The row of (model ``name``, ``fraction``, ``seed``), or ``None``."""
        return next((r for r in self.rows if (r["model"], r["fraction"], r["seed"]) == (name, fraction, seed)), None)

    def has_row(self, name: str, fraction: float, seed: int) -> bool:
        return self.row(name, fraction, seed) is not None

    def _budget_record(self) -> dict[str, int]:
        return {
            "num_train": self.budget.num_train,
            "batch_size": self.budget.batch_size,
            "epochs_at_100": self.budget.epochs,
            "steps": self.budget.total_steps,
            "validations": self.validations,
        }

    def _save(self) -> None:
        self.output.mkdir(parents=True, exist_ok=True)
        chosen = {
            **self.saved_learning_rates,
            **{m.name: self.learning_rate_if_known(m) for m in self.models if m.trained_as is None},
        }
        data = {
            "bundle": str(self.bundle),
            "reference": self.models[0].name,  # the report's paired differences are against it
            "budget": self._budget_record(),
            "common": as_recorded(self.common),
            "recipes": self.recipes,
            "learning_rates": chosen,
            "learning_rate_grid": self.lr_rows,
            "rows": self.rows,
        }
        save_json(self.results_path, data)  # a run stopped mid-write leaves the previous rows intact
        write_report(data, self.output)

    def learning_rate_if_known(self, model: ComparedModel) -> float | None:
        """The model's learning rate if fixed or its grid (or that of the model it is ``trained_as``) is complete,
        else ``None`` (nothing is trained)."""
        if model.name in self.fixed_learning_rates:
            return float(self.fixed_learning_rates[model.name])
        if model.trained_as is not None:
            return self.learning_rate_if_known(self.model(model.trained_as))
        grid = {r["learning_rate"]: r["best_val_accuracy"] for r in self.lr_rows if r["model"] == model.name}
        if not all(rate in grid for rate in self.lr_grid):
            return None
        return max(self.lr_grid, key=lambda rate: (grid[rate], -rate))  # ties: the smaller rate

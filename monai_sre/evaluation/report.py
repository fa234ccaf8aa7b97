# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""The result of a rotation-robustness sweep, its summary, and its files (JSON, CSV, and the plot)."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from monai_sre.evaluation.plot import plot_robustness

__all__ = ["RobustnessReport"]


@dataclass
class RobustnessReport:
    """Metrics of one network (a classifier or a segmentation network) under one rotation protocol.

    Attributes:
        protocol: the protocol name (``"paper"``, ``"haar-64"``, ...).
        metrics: metric names, e.g. ``("accuracy", "auc")``, or ``("dice", "dice_1", ..., "agreement")``.
        upright: metric values on the untransformed data.
        cases: one dict per case: ``name``, ``group``, ``angle`` (degrees or ``None``) and one value per metric.
        num_samples: how many images every case saw.
        task: ``"classification"`` or ``"segmentation"``; reports saved before this field load as classification.
        settings: how the values were computed, as JSON-able values (e.g. ``labels``, ``num_classes``,
            ``include_background`` of a segmentation run); empty for classification.
        consistency: share of the inputs whose predicted class is the same upright and under every case (a
            classification sweep's; ``None`` where it was not measured, as in reports saved before this field).

    Example::

        >>> report = RobustnessReport("flips", ("accuracy",), {"accuracy": 0.9},
        ...     [{"name": "flip-x", "group": "flip", "angle": None, "accuracy": 0.8}])
        >>> round(report.summary()["accuracy_gap"], 6)
        0.1
    """

    protocol: str
    metrics: tuple[str, ...]
    upright: dict[str, float]
    cases: list[dict] = field(default_factory=list)
    num_samples: int = 0
    task: str = "classification"
    settings: dict = field(default_factory=dict)
    consistency: float | None = None

    def values(self, metric: str) -> list[float]:
        return [case[metric] for case in self.cases]

    def mean(self, metric: str) -> float:
        values = [v for v in self.values(metric) if not math.isnan(v)]
        return sum(values) / len(values) if values else float("nan")

    def worst(self, metric: str) -> tuple[str, float]:
        """The case with the lowest value of ``metric`` and that value."""
        candidates = [(case[metric], case["name"]) for case in self.cases if not math.isnan(case[metric])]
        if not candidates:
            return "", float("nan")
        value, name = min(candidates)
        return name, value

    def summary(self) -> dict[str, float | str]:
        """Per metric: upright, mean and worst over the cases, the worst case's name, and upright minus mean."""
        out: dict[str, float | str] = {}
        for metric in self.metrics:
            worst_name, worst_value = self.worst(metric)
            out[f"{metric}_upright"] = self.upright[metric]
            out[f"{metric}_mean"] = self.mean(metric)
            out[f"{metric}_worst"] = worst_value
            out[f"{metric}_worst_case"] = worst_name
            out[f"{metric}_gap"] = self.upright[metric] - self.mean(metric)
        if self.consistency is not None:
            out["consistency"] = self.consistency
        return out

    def to_dict(self) -> dict:
        return {
            "protocol": self.protocol,
            "task": self.task,
            "settings": self.settings,
            "metrics": list(self.metrics),
            "num_samples": self.num_samples,
            "consistency": self.consistency,
            "upright": self.upright,
            "summary": self.summary(),
            "cases": self.cases,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> RobustnessReport:
        return cls(
            protocol=data["protocol"],
            metrics=tuple(data["metrics"]),
            upright=dict(data["upright"]),
            cases=[dict(case) for case in data["cases"]],
            num_samples=int(data.get("num_samples", 0)),
            task=data.get("task", "classification"),
            settings=dict(data.get("settings", {})),
            consistency=data.get("consistency"),
        )

    @classmethod
    def load(cls, path: str | Path) -> RobustnessReport:
        """Read a report written by :meth:`save` (its JSON file)."""
        return cls.from_dict(json.loads(Path(path).read_text()))

    def save(self, folder: str | Path, prefix: str | None = None, plot: bool = True) -> dict[str, Path]:
        """Write ``<prefix>.json``, ``<prefix>.csv`` and, with ``plot``, ``<prefix>.png`` (see :meth:`plot`) into
        ``folder``; ``prefix`` defaults to ``robustness_<protocol>``.

        Returns:
            the written paths by kind (``"json"``, ``"csv"``, ``"png"``).
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        prefix = prefix or f"robustness_{self.protocol}"
        paths = {"json": folder / f"{prefix}.json", "csv": folder / f"{prefix}.csv"}
        paths["json"].write_text(json.dumps(self.to_dict(), indent=2, allow_nan=True))
        with paths["csv"].open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["name", "group", "angle", *self.metrics])
            writer.writeheader()
            writer.writerow({"name": "upright", "group": "upright", "angle": "", **self.upright})
            for case in self.cases:
                writer.writerow({k: ("" if case[k] is None else case[k]) for k in writer.fieldnames})
        if plot:
            paths["png"] = self.plot(folder / f"{prefix}.png")
        return paths

    def plot(self, path: str | Path) -> Path:
        """Draw the metric per case, one line per group (axis), upright dashed (:func:`plot_robustness`)."""
        return plot_robustness(self, path)

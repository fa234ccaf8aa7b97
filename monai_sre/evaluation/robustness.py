# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Rotation-robustness sweeps for any torch classifier, with a report saved as JSON, CSV and a PNG plot."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from monai_sre.evaluation.metrics import METRICS, classification_metrics
from monai_sre.transforms.sweep import RotationCase, RotationSweep

__all__ = ["RobustnessReport", "centre_crop", "collect_batches", "evaluate_rotation_robustness"]


@dataclass
class RobustnessReport:
    """Metrics of one classifier under one rotation protocol.

    Attributes:
        protocol: the protocol name (``"paper"``, ``"haar-64"``, ...).
        metrics: metric names, e.g. ``("accuracy", "auc")``.
        upright: metric values on the untransformed data.
        cases: one dict per case: ``name``, ``group``, ``angle`` (degrees or ``None``) and one value per metric.
        num_samples: how many images every case saw.
    """

    protocol: str
    metrics: tuple[str, ...]
    upright: dict[str, float]
    cases: list[dict] = field(default_factory=list)
    num_samples: int = 0

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
        return out

    def to_dict(self) -> dict:
        return {
            "protocol": self.protocol,
            "metrics": list(self.metrics),
            "num_samples": self.num_samples,
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
        )

    @classmethod
    def load(cls, path: str | Path) -> RobustnessReport:
        """Read a report written by :meth:`save` (its JSON file)."""
        return cls.from_dict(json.loads(Path(path).read_text()))

    def save(self, folder: str | Path, prefix: str | None = None, plot: bool = True) -> dict[str, Path]:
        """Write ``<prefix>.json``, ``<prefix>.csv`` and ``<prefix>.png`` (metric against angle or case, one line
        per axis, upright dashed) into ``folder``; ``prefix`` defaults to ``robustness_<protocol>``.

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
            paths["png"] = folder / f"{prefix}.png"
            self.plot(paths["png"])
        return paths

    def plot(self, path: str | Path) -> None:
        """Draw one panel per metric: the metric per case, one line per group (axis), upright dashed."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, axes = plt.subplots(1, len(self.metrics), figsize=(5 * len(self.metrics), 3.6), squeeze=False)
        groups = list(dict.fromkeys(case["group"] for case in self.cases))
        by_angle = all(case["angle"] is not None for case in self.cases)
        for axis, metric in zip(axes[0], self.metrics):
            for group in groups:
                members = [(i, c) for i, c in enumerate(self.cases) if c["group"] == group]
                xs = [c["angle"] if by_angle else i for i, c in members]
                axis.plot(xs, [c[metric] for _, c in members], marker="o", markersize=3, label=group)
            axis.axhline(self.upright[metric], color="black", linestyle="--", linewidth=1, label="upright")
            axis.set_xlabel("rotation angle (degrees)" if by_angle else "case")
            axis.set_ylabel(metric)
            axis.set_title(f"{metric} under '{self.protocol}'")
            axis.legend(fontsize=8)
            axis.grid(alpha=0.3)
        figure.tight_layout()
        figure.savefig(path, dpi=120)
        plt.close(figure)


def collect_batches(
    data: Iterable, image_key: str = "image", label_key: str = "label"
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Read ``data`` once: ``(images, labels)`` of every batch on CPU, so every case sees the same inputs and
    several protocols can share one pass over a loader."""
    out = []
    for index, batch in enumerate(data):
        if isinstance(batch, Mapping):
            missing = [k for k in (image_key, label_key) if k not in batch]
            if missing:
                raise ValueError(f"batch {index} has no key(s) {missing}; it has {sorted(batch)}.")
            images, labels = batch[image_key], batch[label_key]
        elif isinstance(batch, (tuple, list)) and len(batch) >= 2:
            images, labels = batch[0], batch[1]
        else:
            raise ValueError(
                f"batch {index} must be a dict with '{image_key}' and '{label_key}' or an (image, label) "
                f"pair, got {type(batch).__name__}."
            )
        images, labels = torch.as_tensor(images), torch.as_tensor(labels)
        out.append((images.as_subclass(torch.Tensor).float().cpu(), labels.as_subclass(torch.Tensor).reshape(-1).cpu()))
    if not out:
        raise ValueError("data yielded no batches.")
    return out


def centre_crop(images: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """The central ``size`` region of the spatial axes of ``(N, C, *spatial)``."""
    spatial = images.shape[2:]
    if len(size) != len(spatial) or any(s > n for s, n in zip(size, spatial)):
        raise ValueError(f"crop_size {tuple(size)} does not fit images of spatial shape {tuple(spatial)}.")
    index = [slice(None), slice(None)] + [slice((n - s) // 2, (n - s) // 2 + s) for s, n in zip(size, spatial)]
    return images[tuple(index)]


@torch.no_grad()
def _predict(model, batches, case: RotationCase | None, device: torch.device, crop_size) -> torch.Tensor:
    logits = []
    for images, _ in batches:
        inputs = images.to(device)  # rotate where the model runs: on a GPU, resampling is nearly free
        inputs = inputs if case is None else case.apply(inputs)
        if crop_size is not None:
            inputs = centre_crop(inputs, crop_size)
        logits.append(model(inputs).float().cpu())
    return torch.cat(logits)


def evaluate_rotation_robustness(
    model: nn.Module,
    data: Iterable,
    protocol: str | RotationSweep = "paper",
    metrics: Sequence[str] = METRICS,
    spatial_dims: int | None = None,
    seed: int = 0,
    device: torch.device | str | None = None,
    image_key: str = "image",
    label_key: str = "label",
    progress: bool = True,
    crop_size: Sequence[int] | int | None = None,
) -> RobustnessReport:
    """Evaluate a classifier upright and under every case of a rotation protocol.

    The rotations act on the network input as the data yields it (after the pipeline's normalisation), all
    images of a batch at once; padding is zero. Works on any ``torch`` classifier returning logits
    ``(N, classes)``, so baselines are measured the same way.

    Args:
        model: the classifier; it is put in eval mode.
        data: an iterable of batches (a ``DataLoader``): dicts with ``image_key``/``label_key`` or
            ``(image, label)`` pairs. It is read once and kept in memory.
        protocol: a protocol name (see :class:`~monai_sre.transforms.RotationSweep`) or a sweep.
        metrics: any of ``"accuracy"``, ``"auc"``.
        spatial_dims: spatial dims of the images; inferred from the first batch when ``None``.
        seed: seed of ``"haar-N"`` protocols.
        device: where the model runs and the images are rotated; defaults to the device of its first parameter.
        image_key: image key of dict batches.
        label_key: label key of dict batches.
        progress: show a progress bar over the cases.
        crop_size: centre-crop the (rotated) images to this size before the model. With patches stored with a
            margin, rotations then resample real content instead of filling the corners with padding.

    Returns:
        a :class:`RobustnessReport`.
    """
    batches = collect_batches(data, image_key, label_key)
    labels = torch.cat([b[1] for b in batches])
    spatial_dims = spatial_dims or batches[0][0].dim() - 2
    if isinstance(crop_size, int):
        crop_size = (crop_size,) * spatial_dims
    sweep = protocol if isinstance(protocol, RotationSweep) else RotationSweep(protocol, spatial_dims, seed)
    if device is None:
        device = next(iter(model.parameters()), torch.empty(0)).device
    model.eval()
    upright = classification_metrics(_predict(model, batches, None, torch.device(device), crop_size), labels, metrics)
    cases = sweep.cases
    if progress:
        from tqdm.auto import tqdm

        cases = tqdm(cases, desc=f"rotation sweep '{sweep.protocol}'", leave=False)
    rows = []
    for case in cases:
        values = classification_metrics(
            _predict(model, batches, case, torch.device(device), crop_size), labels, metrics
        )
        rows.append({"name": case.name, "group": case.group, "angle": case.angle, **values})
    return RobustnessReport(sweep.protocol, tuple(metrics), upright, rows, num_samples=int(labels.numel()))

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""An ignite handler that runs rotation-robustness protocols when an engine reaches an event."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from monai.utils import IgniteInfo, min_version, optional_import
from torch import nn

from monai_sre.evaluation.batches import collect_batches
from monai_sre.evaluation.metrics import METRICS
from monai_sre.evaluation.report import RobustnessReport
from monai_sre.evaluation.robustness import evaluate_rotation_robustness

Events, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Events")
if TYPE_CHECKING:
    from ignite.engine import Engine
else:
    Engine, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Engine")

__all__ = ["RotationRobustnessHandler"]


class RotationRobustnessHandler:
    """Evaluate rotation protocols on ``event``; save each report and publish its summary as engine metrics.

    Attach it to a MONAI ``SupervisedEvaluator`` (or trainer) in a bundle config; with ``network`` and
    ``data_loader`` left ``None`` it uses the engine's own. After it runs, ``engine.state.metrics`` holds
    ``"<protocol>_<metric>_mean"``, ``"..._worst"`` and ``"..._gap"`` for every protocol and metric, and
    ``output_dir`` holds ``robustness_<protocol>.{json,csv,png}`` (in ``epoch_<n>/`` for per-epoch events). The
    network's training mode is restored after every protocol, also when one fails.

    Args:
        protocols: protocol names, e.g. ``["paper", "haar-64", "grid48"]``.
        output_dir: where the reports go.
        network: the classifier; defaults to ``engine.network``.
        data_loader: the data; defaults to ``engine.data_loader``.
        metrics: metric names.
        seed: seed of ``"haar-N"`` protocols.
        event: name of the ignite event, ``"COMPLETED"`` or ``"EPOCH_COMPLETED"``.
        interval: with ``"EPOCH_COMPLETED"``, run every ``interval`` epochs.
        image_key: image key of the batches.
        label_key: label key of the batches.
        progress: show progress bars.
        crop_size: centre-crop rotated images to this size before the network (data stored with a margin).
    """

    def __init__(
        self,
        protocols: Sequence[str] = ("paper",),
        output_dir: str | Path = "./robustness",
        network: nn.Module | None = None,
        data_loader: Iterable | None = None,
        metrics: Sequence[str] = METRICS,
        seed: int = 0,
        event: str = "COMPLETED",
        interval: int = 1,
        image_key: str = "image",
        label_key: str = "label",
        progress: bool = False,
        crop_size: Sequence[int] | int | None = None,
    ) -> None:
        if event not in ("COMPLETED", "EPOCH_COMPLETED"):
            raise ValueError(f"event must be 'COMPLETED' or 'EPOCH_COMPLETED', got '{event}'.")
        self.protocols = list(protocols)
        self.output_dir = Path(output_dir)
        self.network = network
        self.data_loader = data_loader
        self.metrics = tuple(metrics)
        self.seed = seed
        self.event = event
        self.interval = interval
        self.image_key = image_key
        self.label_key = label_key
        self.progress = progress
        self.crop_size = crop_size
        self.reports: dict[str, RobustnessReport] = {}

    def attach(self, engine: Engine) -> None:
        event = Events.COMPLETED if self.event == "COMPLETED" else Events.EPOCH_COMPLETED(every=self.interval)
        engine.add_event_handler(event, self)

    def __call__(self, engine: Engine) -> None:
        network = self.network if self.network is not None else getattr(engine, "network", None)
        data = self.data_loader if self.data_loader is not None else getattr(engine, "data_loader", None)
        if network is None or data is None:
            raise ValueError(
                "RotationRobustnessHandler needs a network and data: pass them, or attach it to a MONAI "
                "workflow that has .network and .data_loader."
            )
        folder = self.output_dir if self.event == "COMPLETED" else self.output_dir / f"epoch_{engine.state.epoch}"
        data = collect_batches(data, self.image_key, self.label_key)  # one pass over the loader for all protocols
        for protocol in self.protocols:
            report = evaluate_rotation_robustness(
                network,
                data,
                protocol,
                self.metrics,
                seed=self.seed,
                image_key=self.image_key,
                label_key=self.label_key,
                progress=self.progress,
                crop_size=self.crop_size,
            )
            report.save(folder)
            self.reports[protocol] = report
            for key, value in report.summary().items():
                if not key.endswith(("_worst_case", "_upright")):
                    engine.state.metrics[f"{protocol}_{key}"] = value
            summary = ", ".join(
                f"{m} upright {report.upright[m]:.4f} mean {report.mean(m):.4f} worst {report.worst(m)[1]:.4f}"
                for m in self.metrics
            )
            engine.logger.info(f"rotation protocol '{protocol}' ({report.num_samples} samples): {summary}")

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Ignite handlers that run rotation-robustness protocols when an engine reaches an event: for classifiers
(:class:`RotationRobustnessHandler`) and segmentation networks (:class:`SegmentationRobustnessHandler`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from monai.utils import IgniteInfo, look_up_option, min_version, optional_import
from torch import nn

from monai_sre.evaluation.batches import collect_batches
from monai_sre.evaluation.metrics import METRICS
from monai_sre.evaluation.report import RobustnessReport
from monai_sre.evaluation.robustness import evaluate_rotation_robustness
from monai_sre.evaluation.segmentation import LABEL_MODES, evaluate_segmentation_robustness

Events, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Events")
if TYPE_CHECKING:
    from ignite.engine import Engine
else:
    Engine, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Engine")

__all__ = ["RotationRobustnessHandler", "SegmentationRobustnessHandler"]


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
                f"{type(self).__name__} needs a network and data: pass them, or attach it to a MONAI "
                "workflow that has .network and .data_loader."
            )
        folder = self.output_dir if self.event == "COMPLETED" else self.output_dir / f"epoch_{engine.state.epoch}"
        # one pass over the loader for all protocols
        data = collect_batches(data, self.image_key, self.label_key, flatten_labels=self._flatten_labels)
        for protocol in self.protocols:
            report = self._evaluate(engine, network, data, protocol)
            tag = self._tag(protocol)
            report.save(folder, prefix=f"robustness_{tag}")
            self.reports[protocol] = report
            for key, value in report.summary().items():
                if not key.endswith(("_worst_case", "_upright")):
                    engine.state.metrics[f"{tag}_{key}"] = value
            summary = ", ".join(
                f"{m} upright {report.upright[m]:.4f} mean {report.mean(m):.4f} worst {report.worst(m)[1]:.4f}"
                for m in self._logged_metrics(report)
            )
            engine.logger.info(f"rotation protocol '{tag}' ({report.num_samples} samples): {summary}")

    # what the segmentation sibling changes -------------------------------------------------------------------

    _flatten_labels = True  # class labels (N,); label maps keep their shape

    def _tag(self, protocol: str) -> str:
        """The name of a protocol's files (``robustness_<tag>.*``) and metrics (``<tag>_<metric>_<stat>``)."""
        return protocol

    def _logged_metrics(self, report: RobustnessReport) -> Sequence[str]:
        return report.metrics

    def _evaluate(self, engine: Engine, network: nn.Module, data: list, protocol: str) -> RobustnessReport:
        return evaluate_rotation_robustness(
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


class SegmentationRobustnessHandler(RotationRobustnessHandler):
    """Evaluate rotation protocols on a segmentation network on ``event``: Dice per class under every case.

    The segmentation sibling of :class:`RotationRobustnessHandler` (same events, folders, files and mode
    restoring), running :func:`~monai_sre.evaluation.segmentation.evaluate_segmentation_robustness`. After it runs,
    ``engine.state.metrics`` holds ``"<protocol>_dice_mean"``, ``"<protocol>_dice_worst"``,
    ``"<protocol>_dice_gap"``, the same for every reported class (``"<protocol>_dice_<class>_mean"``, ...) and for
    ``"agreement"``, and ``output_dir`` holds ``robustness_<protocol>.{json,csv,png}``. With
    ``labels="map_back"`` the protocol's tag is ``"<protocol>_map_back"`` in both, so one engine can carry a
    handler of each mode.

    Args:
        protocols: protocol names, e.g. ``["grid48", "haar-16"]``.
        output_dir: where the reports go.
        network: the segmentation network; defaults to ``engine.network``.
        data_loader: the data (images and label maps); defaults to ``engine.data_loader``.
        num_classes: number of classes, background included; inferred from the network's output when ``None``.
        labels: ``"rotate"`` (image and label map rotated together) or ``"map_back"`` (image rotated, prediction
            mapped back).
        include_background: report class 0 too.
        ignore_empty: an image without a class gives ``nan`` for it (left out), instead of 1 or 0.
        class_names: names of all classes, background first (metrics ``dice_<name>``).
        inferer: ``inferer(inputs, network) -> logits``; defaults to ``engine.inferer`` (plain ``network(x)``
            without one).
        seed: seed of ``"haar-N"`` protocols.
        event: name of the ignite event, ``"COMPLETED"`` or ``"EPOCH_COMPLETED"``.
        interval: with ``"EPOCH_COMPLETED"``, run every ``interval`` epochs.
        image_key: image key of the batches.
        label_key: label key of the batches.
        progress: show progress bars.
        crop_size: centre-crop rotated images to this size before the network; only the crop is scored.
        fill_value: the intensity a rotation gives to what comes from outside the image (0: the paper protocol's
            mid-grey; -1: air, for whole volumes normalised to [-1, 1]).
    """

    _flatten_labels = False

    def __init__(
        self,
        protocols: Sequence[str] = ("grid48",),
        output_dir: str | Path = "./robustness",
        network: nn.Module | None = None,
        data_loader: Iterable | None = None,
        num_classes: int | None = None,
        labels: str = "rotate",
        include_background: bool = False,
        ignore_empty: bool = True,
        class_names: Sequence[str] | None = None,
        inferer: Callable[[torch.Tensor, nn.Module], torch.Tensor] | None = None,
        seed: int = 0,
        event: str = "COMPLETED",
        interval: int = 1,
        image_key: str = "image",
        label_key: str = "label",
        progress: bool = False,
        crop_size: Sequence[int] | int | None = None,
        fill_value: float = 0.0,
    ) -> None:
        super().__init__(
            protocols,
            output_dir,
            network,
            data_loader,
            metrics=(),
            seed=seed,
            event=event,
            interval=interval,
            image_key=image_key,
            label_key=label_key,
            progress=progress,
            crop_size=crop_size,
        )
        self.num_classes = num_classes
        self.labels = look_up_option(labels, LABEL_MODES)
        self.include_background = include_background
        self.ignore_empty = ignore_empty
        self.class_names = class_names
        self.inferer = inferer
        self.fill_value = fill_value

    def _tag(self, protocol: str) -> str:
        return protocol if self.labels == "rotate" else f"{protocol}_{self.labels}"

    def _logged_metrics(self, report: RobustnessReport) -> Sequence[str]:
        return ("dice", "agreement")  # the per-class values are in the metrics and the files

    def _evaluate(self, engine: Engine, network: nn.Module, data: list, protocol: str) -> RobustnessReport:
        return evaluate_segmentation_robustness(
            network,
            data,
            protocol,
            num_classes=self.num_classes,
            labels=self.labels,
            include_background=self.include_background,
            ignore_empty=self.ignore_empty,
            class_names=self.class_names,
            seed=self.seed,
            image_key=self.image_key,
            label_key=self.label_key,
            progress=self.progress,
            crop_size=self.crop_size,
            inferer=self.inferer if self.inferer is not None else getattr(engine, "inferer", None),
            fill_value=self.fill_value,
        )

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""``python -m monai_sre audit BUNDLE_DIR``: how a bundle's predictions change when the patient lies differently.

The bundle's own evaluation (or inference) pipeline is read with :func:`~monai_sre.audit.bundle.read_bundle`; its
network input batches (after the bundle's preprocessing) are rotated by every case of each protocol and scored
by this package's evaluation code: :func:`~monai_sre.evaluation.evaluate_rotation_robustness` for classifiers,
:func:`~monai_sre.evaluation.evaluate_segmentation_robustness` (the bundle's inferer on each rotated input, label
maps rotated with nearest neighbour) for segmentation networks.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from monai.inferers import SimpleInferer
from torch import nn

from monai_sre.audit.bundle import BundlePipeline, read_bundle
from monai_sre.evaluation import (
    RobustnessReport,
    RotationSweep,
    centre_crop,
    evaluate_rotation_robustness,
    evaluate_segmentation_robustness,
)
from monai_sre.evaluation.robustness import evaluating, model_device
from monai_sre.runs import as_flag

__all__ = ["audit", "audit_bundle", "audit_pipeline"]


def _protocols(protocol: str | Sequence[str]) -> list[str]:
    """Protocol names from a list, or a string separated by commas or spaces."""
    if isinstance(protocol, str):
        protocol = protocol.strip("[]()").replace(",", " ").split()
    names = [str(name).strip("'\" ") for name in protocol]
    if not names:
        raise ValueError("protocol names no protocol; expected e.g. 'haar-64' or 'paper,grid48'.")
    return names


def _read_data(
    data_loader: Iterable, image_key: str, label_key: str, task: str = "classification"
) -> tuple[list[dict], bool, bool]:
    """The loader's batches, read once (``{image_key, label_key}`` dicts on the CPU), whether they hold labels, and
    whether the labels were one-hot (then turned into class indices: ``(N, C)`` class vectors, or ``(N, C, *spatial)``
    label maps).

    Raises:
        ValueError: a batch without ``image_key`` (the keys it has named), labels in some batches only, or
            multi-hot class vectors (several classes per input: the audit scores single-label classifiers).
    """
    batches, with_labels, one_hot = [], None, False
    for index, batch in enumerate(data_loader):
        if not isinstance(batch, Mapping) or image_key not in batch:
            keys = sorted(batch) if isinstance(batch, Mapping) else type(batch).__name__
            raise ValueError(
                f"batch {index} of the bundle's data loader has no '{image_key}' (it has {keys}); pass --image_key."
            )
        has = label_key in batch
        if with_labels is not None and has != with_labels:
            raise ValueError(f"batch {index} {'has' if has else 'lacks'} '{label_key}' unlike the batches before it.")
        with_labels = has
        if torch.as_tensor(batch[image_key]).dim() not in (4, 5):
            raise ValueError(
                f"batch {index}: '{image_key}' has shape {tuple(batch[image_key].shape)}; the audit expects the "
                "network input (N, C, H, W) or (N, C, H, W, D) after the bundle's preprocessing."
            )
        item = {image_key: torch.as_tensor(batch[image_key]).as_subclass(torch.Tensor).float().cpu()}
        if has:
            labels, converted = _class_indices(torch.as_tensor(batch[label_key]).as_subclass(torch.Tensor), task, index)
            item[label_key] = labels.cpu()
            one_hot = one_hot or converted
        batches.append(item)
    if not batches:
        raise ValueError("the bundle's data loader yielded no batches (an empty dataset or datalist?).")
    return batches, bool(with_labels), one_hot


def _class_indices(labels: torch.Tensor, task: str, index: int) -> tuple[torch.Tensor, bool]:
    """Class indices from one-hot labels (``(N, C)`` for classifiers, ``(N, C, *spatial)`` label maps with
    ``C > 1``), and whether they were one-hot; other labels as they are."""
    axis_ok = labels.dim() == 2 if task == "classification" else labels.dim() >= 4
    if not axis_ok or labels.shape[1] < 2:
        return labels, False
    binary = bool(((labels == 0) | (labels == 1)).all())
    if binary and not bool((labels.sum(1) == 1).all()):
        raise ValueError(
            f"batch {index}: the labels are {tuple(labels.shape)} vectors of 0/1 that are not one-hot (several or no "
            "classes per input); the audit scores single-label predictions."
        )
    return labels.argmax(1, keepdim=task != "classification"), True


class _ThroughInferer(nn.Module):
    """A classifier called through the bundle's inferer, as the bundle's evaluator calls it."""

    def __init__(self, network: nn.Module, inferer: Any) -> None:
        super().__init__()
        self.network = network
        self.inferer = inferer

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.inferer(inputs, self.network)


@torch.no_grad()
def _upright_classes(
    pipeline: BundlePipeline, network: nn.Module, batches: list[dict], image_key: str, label_key: str
) -> list[dict]:
    """Batches labelled with the network's own upright predictions: scored against them, a rotation's accuracy
    is the share of inputs whose predicted class it keeps."""
    device = model_device(network, None)
    out = []
    with evaluating(network):
        for batch in batches:
            inputs = batch[image_key].to(device)
            if pipeline.crop_size is not None:
                inputs = centre_crop(inputs, pipeline.crop_size)
            out.append({image_key: batch[image_key], label_key: network(inputs).argmax(1).cpu()})
    return out


def _rename(report: RobustnessReport, names: Mapping[str, str], keep: Sequence[str]) -> RobustnessReport:
    """The report with only the metrics ``keep``, renamed by ``names``."""
    data = report.to_dict()
    data["metrics"] = [names.get(m, m) for m in keep]
    data["upright"] = {names.get(m, m): report.upright[m] for m in keep}
    data["cases"] = [
        {**{k: case[k] for k in ("name", "group", "angle")}, **{names.get(m, m): case[m] for m in keep}}
        for case in report.cases
    ]
    return RobustnessReport.from_dict(data)


def _class_names(metadata: Mapping) -> list[str] | None:
    pred = metadata.get("network_data_format", {}).get("outputs", {}).get("pred", {})
    names = [str(v) for _, v in sorted(pred.get("channel_def", {}).items(), key=lambda kv: int(kv[0]))]
    return names if len(names) == pred.get("num_channels") and len(set(names)) == len(names) >= 2 else None


def audit_pipeline(
    pipeline: BundlePipeline,
    protocols: Sequence[str],
    image_key: str = "image",
    label_key: str = "label",
    seed: int | None = None,
    progress: bool = False,
) -> dict[str, RobustnessReport]:
    """Run every protocol on a read bundle; the reports by protocol (not saved).

    Classifiers are scored by accuracy and AUC with labels, with the report's ``consistency`` (same class under
    every case); without labels by ``agreement`` (the share of inputs keeping their upright class, per case) and
    ``consistency``. Segmentation networks by Dice per class and ``agreement`` (voxels keeping their upright
    label), ``agreement`` only without labels.
    """
    batches, with_labels, one_hot = _read_data(pipeline.data_loader, image_key, label_key, pipeline.task)
    seed = pipeline.seed if seed is None else seed
    for index, batch in enumerate(batches):
        shape = tuple(batch[image_key].shape[2:])
        if pipeline.crop_size is not None and any(s > n for s, n in zip(pipeline.crop_size, shape)):
            raise ValueError(
                f"the bundle's final crop to {list(pipeline.crop_size)} does not fit inside batch {index} of spatial "
                f"shape {list(shape)} (it pads), so it cannot follow the rotation; pass --crop_after_rotation false."
            )
    spatial_dims = batches[0][image_key].dim() - 2
    reports = {}
    notes = list(pipeline.notes)
    if not with_labels:
        notes.append(f"the batches hold no '{label_key}': agreement and consistency only (pass --label_key?)")
    if one_hot:
        notes.append(f"the '{label_key}' labels are one-hot: their argmax (class index) is scored")
    network = pipeline.network
    if pipeline.task == "classification" and not isinstance(pipeline.inferer, (SimpleInferer, type(None))):
        network = _ThroughInferer(pipeline.network, pipeline.inferer)  # as the bundle's evaluator calls it
        notes.append(f"the classifier is called through the evaluator's {type(pipeline.inferer).__name__}")
    if pipeline.task == "classification" and not with_labels:
        batches = _upright_classes(pipeline, network, batches, image_key, label_key)
    for protocol in protocols:
        sweep = RotationSweep(protocol, spatial_dims, seed)
        if pipeline.task == "classification":
            report = evaluate_rotation_robustness(
                network,
                batches,
                sweep,
                ("accuracy", "auc") if with_labels else ("accuracy",),
                image_key=image_key,
                label_key=label_key,
                progress=progress,
                crop_size=pipeline.crop_size,
            )
            if not with_labels:
                report = _rename(report, {"accuracy": "agreement"}, ["accuracy"])
        else:
            data = batches
            if not with_labels:
                data = [{**b, label_key: torch.zeros_like(b[image_key][:, :1], dtype=torch.long)} for b in batches]
            inferer = None if isinstance(pipeline.inferer, (SimpleInferer, type(None))) else pipeline.inferer
            report = evaluate_segmentation_robustness(
                pipeline.network,
                data,
                sweep,
                class_names=pipeline.class_names or _class_names(pipeline.metadata),
                image_key=image_key,
                label_key=label_key,
                progress=progress,
                crop_size=pipeline.crop_size,
                inferer=inferer,
            )
            if not with_labels:
                report = _rename(report, {}, ["agreement"])
        report.settings.update(
            bundle=str(pipeline.bundle_dir),
            configs=pipeline.configs,
            evaluator_id=pipeline.evaluator_id,
            weights=pipeline.weights,
            seed=seed,
            labels_found=with_labels,
            crop_after_rotation=None if pipeline.crop_size is None else list(pipeline.crop_size),
            key_metric=pipeline.key_metric,
            notes=notes,
        )
        reports[protocol] = report
    return reports


def _key_metric(report: RobustnessReport) -> str:
    return report.metrics[0]  # accuracy, dice, or agreement without labels


def _summary(report: RobustnessReport) -> dict[str, Any]:
    metric = _key_metric(report)
    worst_case, worst = report.worst(metric)
    upright, mean = report.upright[metric], report.mean(metric)
    out = {
        "task": report.task,
        "metric": metric,
        "upright": upright,
        "mean": mean,
        "worst": worst,
        "worst_case": worst_case,
        "gap": upright - mean,
        "worst_gap": upright - worst,
        "num_samples": report.num_samples,
        "labels_found": report.settings.get("labels_found"),
        "bundle_key_metric": report.settings.get("key_metric"),
        "notes": report.settings.get("notes", []),
    }
    if report.task == "classification":
        out["consistency"] = report.consistency
    else:
        out["consistency"] = report.worst("agreement")[1]  # the worst case's label agreement
        out["agreement_mean"] = report.mean("agreement")
    return out


def audit_bundle(
    bundle_dir: str | Path,
    config: str | Sequence[str] | None = None,
    protocol: str | Sequence[str] = "haar-64",
    ckpt: str | Path | None = None,
    output: str | Path | None = None,
    task: str | None = None,
    evaluator_id: str | None = None,
    image_key: str = "image",
    label_key: str = "label",
    seed: int | None = None,
    crop_after_rotation: bool = True,
    progress: bool = True,
    **override: Any,
) -> dict[str, RobustnessReport]:
    """Audit a bundle's predictions under rotations of its inputs; write and return the reports.

    Args:
        bundle_dir: the bundle folder.
        config: a config name or a list merged in order (``inference.json``, ``"[train.json,evaluate.json]"``);
            default the bundle's evaluation configs (see :func:`~monai_sre.audit.bundle.default_configs`).
        protocol: protocol names (``paper``, ``haar-64``, ``grid48``, ``grid24``, ``flips``), a list or a string
            separated by commas or spaces.
        ckpt: weights to load instead of the file the config's checkpoint loader names.
        output: the folder of the files; default ``<bundle_dir>/runs/audit``.
        task: ``classification`` or ``segmentation``; default what ``configs/metadata.json`` says.
        evaluator_id: the evaluator's id; default ``validate#evaluator`` or ``evaluator``.
        image_key: image key of the bundle's batches.
        label_key: label key of the bundle's batches; batches without it are audited for consistency only.
        seed: seed of ``haar-N`` protocols; default the bundle's ``seed`` (0 without one).
        crop_after_rotation: where the bundle's preprocessing ends with a fixed centre crop, crop after rotating.
        progress: show progress bars.
        override: config values to set, e.g. ``num_test_samples=64``.

    Returns:
        the reports by protocol. ``output`` holds ``audit_<protocol>.{json,csv,png}`` per protocol and
        ``audit_summary.json`` (per protocol: the key metric upright, mean, worst, gap, and consistency).

    Example::

        python -m monai_sre audit bundles/sre_resnet3d_tissue --protocol haar-64,grid48 --num_test_samples 64
    """
    crop_after_rotation, progress = as_flag(crop_after_rotation, "crop_after_rotation"), as_flag(progress, "progress")
    pipeline = read_bundle(bundle_dir, config, ckpt, task, evaluator_id, crop_after_rotation, override)
    reports = audit_pipeline(pipeline, _protocols(protocol), image_key, label_key, seed, progress)
    folder = Path(output) if output is not None else pipeline.bundle_dir / "runs" / "audit"
    summary = {}
    for name, report in reports.items():
        report.save(folder, prefix=f"audit_{name}")
        summary[name] = _summary(report)
    (folder / "audit_summary.json").write_text(json.dumps(summary, indent=2, allow_nan=True))
    for name, values in summary.items():
        print(_line(name, values))
    print(f"audit written to '{folder}'")
    return reports


def _line(protocol: str, values: Mapping[str, Any]) -> str:
    def fmt(v: Any) -> str:
        return "nan" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4f}"

    name = "consistency" if values["task"] == "classification" else "worst agreement"
    return (
        f"{protocol}: {values['metric']} upright {fmt(values['upright'])} mean {fmt(values['mean'])} "
        f"worst {fmt(values['worst'])} ({values['worst_case']}) gap {fmt(values['gap'])}; "
        f"{name} {fmt(values['consistency'])} ({values['num_samples']} samples"
        f"{'' if values['labels_found'] else ', no labels'})"
    )


def audit(bundle_dir: str, *protocols: str, **kwargs: Any) -> None:
    """The command line: ``python -m monai_sre audit BUNDLE_DIR [--protocol haar-64,grid48] [--config ...]
    [--ckpt PATH] [--output DIR] [--task classification|segmentation] [--<config id> VALUE ...]``.

    Protocols may also follow the folder (``audit BUNDLE paper haar-64``). Prints one line per protocol and
    returns nothing (so that the command line shows no object).
    """
    if protocols:
        kwargs["protocol"] = (
            [*_protocols(kwargs.get("protocol", [])), *protocols] if "protocol" in kwargs else list(protocols)
        )
    audit_bundle(bundle_dir, **kwargs)

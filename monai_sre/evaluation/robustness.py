# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""The rotation-robustness run: a classifier evaluated upright and under every case of a rotation protocol.

The pieces it uses each live in their own module: :mod:`~monai_sre.evaluation.batches` reads the data once,
:mod:`~monai_sre.evaluation.sweep` defines the protocols, :mod:`~monai_sre.evaluation.metrics` scores the logits,
:mod:`~monai_sre.evaluation.report` holds and saves the result, :mod:`~monai_sre.evaluation.plot` draws it.
:func:`run_sweep` (eval mode, upright then every case, modes restored) is shared with the segmentation run of
:mod:`~monai_sre.evaluation.segmentation`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn

from monai_sre.evaluation.batches import collect_batches
from monai_sre.evaluation.metrics import METRICS, classification_metrics
from monai_sre.evaluation.report import RobustnessReport
from monai_sre.evaluation.sweep import RotationCase, RotationSweep
from monai_sre.transforms.functional import centre_crop

__all__ = ["evaluate_rotation_robustness"]


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode; on exit, restore every module's training flag (also when the body raises)."""
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        yield model
    finally:
        model.train(modes[model])
        for module, training in modes.items():  # submodules that were in another mode than the whole model
            module.training = training


def model_device(model: nn.Module, device: torch.device | str | None) -> torch.device:
    """``device``, or the device of the model's first parameter (the CPU for a model without parameters)."""
    return torch.device(device if device is not None else next(iter(model.parameters()), torch.empty(0)).device)


def resolve_sweep(protocol: str | RotationSweep, spatial_dims: int, seed: int) -> RotationSweep:
    """A sweep given as itself or as a protocol name."""
    return protocol if isinstance(protocol, RotationSweep) else RotationSweep(protocol, spatial_dims, seed)


def run_sweep(
    model: nn.Module,
    sweep: RotationSweep,
    score: Callable[[RotationCase | None], dict[str, float]],
    progress: bool = True,
) -> tuple[dict[str, float], list[dict]]:
    """Score ``model`` upright (``score(None)``) and under every case of ``sweep``, in eval mode.

    Returns:
        the upright values, and one row per case: ``name``, ``group``, ``angle`` and the case's values, as
        :class:`~monai_sre.evaluation.report.RobustnessReport` holds them.
    """
    with evaluating(model):
        upright = score(None)
        cases = sweep.cases
        if progress:
            from tqdm.auto import tqdm

            cases = tqdm(cases, desc=f"rotation sweep '{sweep.protocol}'", leave=False)
        rows = [{"name": case.name, "group": case.group, "angle": case.angle, **score(case)} for case in cases]
    return upright, rows


@torch.no_grad()
def _predict(
    model: nn.Module,
    batches: list[tuple[torch.Tensor, torch.Tensor]],
    case: RotationCase | None,
    device: torch.device,
    crop_size: Sequence[int] | int | None,
) -> torch.Tensor:
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
    ``(N, classes)``, so baselines are measured the same way. Segmentation networks: see
    :func:`~monai_sre.evaluation.segmentation.evaluate_segmentation_robustness`.

    Args:
        model: the classifier; it runs in eval mode, and every module's training flag is restored afterwards
            (also when the evaluation raises).
        data: an iterable of batches (a ``DataLoader``): dicts with ``image_key``/``label_key`` or
            ``(image, label)`` pairs. It is read once and kept in memory (:func:`collect_batches`).
        protocol: a protocol name (see :class:`~monai_sre.evaluation.sweep.RotationSweep`) or a sweep.
        metrics: any of ``"accuracy"``, ``"auc"``.
        spatial_dims: spatial dims of the images; inferred from the first batch when ``None``.
        seed: seed of ``"haar-N"`` protocols.
        device: where the model runs and the images are rotated; defaults to the device of its first parameter.
        image_key: image key of dict batches.
        label_key: label key of dict batches.
        progress: show a progress bar over the cases.
        crop_size: centre-crop the (rotated) images to this size (an int for every axis, or one per axis) before
            the model, as MONAI's ``CenterSpatialCrop`` does. With patches stored with a margin, rotations then
            resample real content instead of filling the corners with padding.

    Returns:
        a :class:`~monai_sre.evaluation.report.RobustnessReport`, with the :func:`prediction_consistency` of the
        predicted classes upright and under every case.

    Example::

        report = evaluate_rotation_robustness(model, loader, "grid48", crop_size=16)
        report.save("runs/robustness")  # robustness_grid48.json, .csv, .png
    """
    batches = collect_batches(data, image_key, label_key)
    labels = torch.cat([b[1] for b in batches])
    sweep = resolve_sweep(protocol, spatial_dims or batches[0][0].dim() - 2, seed)
    device = model_device(model, device)

    predictions: list[torch.Tensor] = []  # the predicted class of every input, upright first, then per case

    def score(case: RotationCase | None) -> dict[str, float]:
        logits = _predict(model, batches, case, device, crop_size)
        predictions.append(logits.argmax(1))
        return classification_metrics(logits, labels, metrics)

    upright, rows = run_sweep(model, sweep, score, progress)
    return RobustnessReport(
        sweep.protocol,
        tuple(metrics),
        upright,
        rows,
        num_samples=int(labels.numel()),
        consistency=prediction_consistency(torch.stack(predictions)),
    )


def prediction_consistency(predictions: torch.Tensor) -> float:
    """Share of inputs whose predicted class is the same in every row of ``predictions`` ``(cases, N)``.

    With the upright predictions as one row and those under every rotation of a protocol as the others, this is
    what an exactly invariant model scores 1.0 on by construction (for the protocol's group) and what a clinician
    sees: the same answer for the same anatomy however the patient lay. ``nan`` for no inputs.
    """
    if predictions.dim() != 2:
        raise ValueError(f"predictions must be (cases, inputs), got shape {tuple(predictions.shape)}.")
    if predictions.shape[1] == 0:
        return float("nan")
    return (predictions == predictions[:1]).all(0).double().mean().item()

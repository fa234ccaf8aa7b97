# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""The rotation-robustness run of a segmentation network: Dice per class upright and under every case of a protocol.

Two ways to compare a prediction with the labels (``labels=``):

- ``"rotate"``: the image and its label map are rotated together (the image with the case's interpolation, the
  label map with nearest neighbour, so labels never mix); the prediction on the rotated image is scored against
  the rotated label map.
- ``"map_back"``: only the image is rotated; the prediction is mapped back by the inverse rotation (nearest
  neighbour) and scored against the unrotated label map.

Only voxels the network saw with content are scored: the corners a keep-size rotation cuts (filled, not
labelled) and whatever lies outside ``crop_size`` are left out. Grid symmetries (``"grid48"``, ``"flips"``) are
exact permutations, so every voxel counts and an exactly equivariant network scores the same under all of them.

Metrics per case (and upright), as a :class:`~monai_sre.evaluation.report.RobustnessReport` holds them:

- ``"dice_<class>"`` for every reported class (the foreground classes ``1..C-1``, also ``0`` with
  ``include_background``): MONAI's :func:`~monai.metrics.compute_dice` per image, averaged over the images where
  it is defined. With ``ignore_empty`` (MONAI's default) an image whose (scored) labels lack the class gives
  ``nan`` and is left out; a class absent from every image is ``nan``. With ``ignore_empty=False`` an absent
  class gives 1 when the prediction lacks it too, else 0.
- ``"dice"``: the mean of the reported classes' Dice, ``nan`` classes left out (``nan`` when all are).
- ``"agreement"``: the fraction of scored voxels where the prediction under the case equals the transformed
  upright prediction (``"rotate"``: ``seg(g x) == g seg(x)``; ``"map_back"``: ``g^-1 seg(g x) == seg(x)``), which
  needs no labels; 1 upright and, under grid symmetries, for an exactly equivariant network.

The report's ``mean``/``worst``/``summary`` skip ``nan`` values, and ``nan`` is written to its JSON and CSV files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch
from monai.metrics import compute_dice
from monai.utils import ensure_tuple_rep, look_up_option
from torch import nn

from monai_sre.evaluation.batches import collect_batches
from monai_sre.evaluation.report import RobustnessReport
from monai_sre.evaluation.robustness import model_device, resolve_sweep, run_sweep
from monai_sre.evaluation.sweep import RotationCase, RotationSweep
from monai_sre.transforms.functional import centre_crop

__all__ = [
    "LABEL_MODES",
    "evaluate_segmentation_robustness",
    "label_map",
    "predicted_labels",
    "segmentation_metrics",
]

LABEL_MODES = ("rotate", "map_back")
_IGNORE = -1  # the label of voxels left out of Dice (MONAI's ignore_index on label-encoded targets)


def predicted_labels(logits: torch.Tensor) -> torch.Tensor:
    """The label map ``(N, 1, *spatial)`` (``long``) of logits ``(N, C, *spatial)``: the argmax over ``C``; a single
    channel is read as a binary foreground logit (label 1 where it is positive)."""
    logits = logits.as_subclass(torch.Tensor)
    if logits.shape[1] == 1:
        return (logits > 0).long()
    return logits.argmax(1, keepdim=True)


def label_map(labels: torch.Tensor, spatial_dims: int) -> torch.Tensor:
    """Labels as an index map ``(N, 1, *spatial)`` (``long``): from ``(N, *spatial)``, ``(N, 1, *spatial)`` or
    one-hot ``(N, C, *spatial)``.

    Raises:
        ValueError: the labels have another number of dimensions, or do not hold integers.
    """
    labels = torch.as_tensor(labels).as_subclass(torch.Tensor)
    if labels.dim() == spatial_dims + 1:
        labels = labels.unsqueeze(1)
    if labels.dim() != spatial_dims + 2:
        raise ValueError(
            f"label maps must be (N, *spatial), (N, 1, *spatial) or one-hot (N, C, *spatial) with {spatial_dims} "
            f"spatial dims, got shape {tuple(labels.shape)}."
        )
    if labels.shape[1] > 1:
        return labels.argmax(1, keepdim=True)
    if labels.is_floating_point() and not torch.equal(labels, labels.round()):
        raise ValueError("label maps must hold integer class indices; these hold fractions (interpolated labels?).")
    return labels.long()


def _check_range(labels: torch.Tensor, num_classes: int) -> None:
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"labels must lie in 0..{num_classes - 1}, got values from {int(labels.min())} to {int(labels.max())}."
        )


def _class_names(num_classes: int, include_background: bool, class_names: Sequence[str] | None) -> list[str]:
    """Metric names of the reported classes: ``dice_<name>``."""
    if class_names is None:
        class_names = [str(c) for c in range(num_classes)]
    elif len(class_names) != num_classes or len(set(class_names)) != num_classes:
        raise ValueError(
            f"class_names must be {num_classes} distinct names (background included), got {list(class_names)}."
        )
    return [f"dice_{name}" for name in class_names[(0 if include_background else 1) :]]


def _dice(
    pred: torch.Tensor,
    labels: torch.Tensor,
    valid: torch.Tensor | None,
    num_classes: int,
    include_background: bool,
    ignore_empty: bool,
) -> torch.Tensor:
    """Dice ``(N, classes reported)`` of index maps, counting only ``valid`` voxels (MONAI's ``ignore_index``)."""
    labels = labels.long()
    if valid is not None:
        labels = labels.masked_fill(~valid, _IGNORE)
    return compute_dice(
        pred.long(),
        labels,
        include_background=include_background,
        ignore_empty=ignore_empty,
        num_classes=num_classes,
        ignore_index=None if valid is None else _IGNORE,
    ).float()


def _summarise(scores: torch.Tensor, names: Sequence[str]) -> dict[str, float]:
    """Per class the mean over the images where Dice is defined, and ``"dice"``: the mean over the classes."""
    per_class = torch.nanmean(scores.double(), dim=0) if scores.numel() else torch.full((len(names),), float("nan"))
    defined = per_class[~torch.isnan(per_class)]
    mean = float(defined.mean()) if defined.numel() else float("nan")
    return {"dice": mean, **{name: float(v) for name, v in zip(names, per_class)}}


def segmentation_metrics(
    pred: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    valid: torch.Tensor | None = None,
    include_background: bool = False,
    ignore_empty: bool = True,
    class_names: Sequence[str] | None = None,
) -> dict[str, float]:
    """Dice per class and their mean, of predicted label maps against label maps (see the module docstring).

    Args:
        pred: predicted index maps ``(N, 1, *spatial)`` (:func:`predicted_labels` of the logits).
        labels: label maps, ``(N, 1, *spatial)`` index maps.
        num_classes: number of classes, background included.
        valid: ``bool``, broadcastable to ``labels``: the voxels to score; all when ``None``.
        include_background: report class 0 too (and count it in the mean).
        ignore_empty: an image without a class in its labels gives ``nan`` for it (left out of the means), instead
            of 1 (class absent from the prediction too) or 0.
        class_names: names of all ``num_classes`` classes, background first; default their indices.

    Returns:
        ``{"dice": mean over the reported classes, "dice_<class>": ...}``.

    Raises:
        ValueError: labels outside ``0..num_classes-1``, or ``class_names`` of the wrong length.

    Example::

        >>> labels = torch.tensor([[[0, 1, 1, 2]]])  # one image, one channel, 4 voxels
        >>> values = segmentation_metrics(torch.tensor([[[0, 1, 1, 1]]]), labels, 3)
        >>> {name: round(value, 4) for name, value in values.items()}
        {'dice': 0.4, 'dice_1': 0.8, 'dice_2': 0.0}
    """
    names = _class_names(num_classes, include_background, class_names)
    _check_range(labels, num_classes)
    return _summarise(_dice(pred, labels, valid, num_classes, include_background, ignore_empty), names)


class _SegmentationSweep:
    """The per-case scoring of :func:`evaluate_segmentation_robustness`, with the upright predictions it keeps."""

    def __init__(
        self,
        forward: Callable[[torch.Tensor], torch.Tensor],
        batches: list[tuple[torch.Tensor, torch.Tensor]],
        num_classes: int | None,
        labels: str,
        include_background: bool,
        ignore_empty: bool,
        class_names: Sequence[str] | None,
        device: torch.device,
        crop_size: Sequence[int] | int | None,
        fill_value: float = 0.0,
    ) -> None:
        self.forward, self.batches, self.num_classes = forward, batches, num_classes  # batches: images, index maps
        self.labels, self.include_background, self.ignore_empty = labels, include_background, ignore_empty
        self.class_names, self.device, self.crop_size = class_names, device, crop_size
        self.fill_value = fill_value
        self.names: list[str] = []
        self.upright: list[torch.Tensor] = []  # the upright prediction of every batch, on the CPU

    def _classes(self, channels: int) -> None:
        classes = max(channels, 2)
        if self.num_classes is not None and self.num_classes != classes:
            raise ValueError(
                f"num_classes is {self.num_classes} but the network returns {channels} channel(s) "
                f"({classes} classes; a single channel is a binary foreground logit)."
            )
        if not self.names:
            self.num_classes = classes
            self.names = _class_names(classes, self.include_background, self.class_names)

    def _window(self, spatial: tuple[int, ...]) -> torch.Tensor:
        """The voxels the network sees, ``bool (1, 1, *spatial)``: the crop, or all."""
        if self.crop_size is None:
            return torch.ones(1, 1, *spatial, dtype=torch.bool, device=self.device)
        window = torch.zeros(1, 1, *spatial, dtype=torch.bool, device=self.device)
        centre_crop(window, self.crop_size).fill_(True)
        return window

    def _masks(self, case: RotationCase | None, spatial: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        """The scored voxels of the prediction and of the upright reference, on the grid where they are compared
        (the rotated grid with ``"rotate"``, the original one with ``"map_back"``); the same for every batch."""
        window = self._window(spatial)
        if case is None:
            return window, window
        case_spatial = case.output_shape(spatial)  # a grid symmetry permutes a non-cubic volume's shape
        content = case.field_of_view(case_spatial, self.device)
        seen = content & self._window(case_spatial)  # on the case's grid
        if self.labels == "rotate":
            return seen, content if self.crop_size is None else case.apply_labels(window)
        return case.inverse().apply_labels(seen), window

    def _predict(self, inputs: torch.Tensor) -> torch.Tensor:
        """The label map of the network on ``inputs`` (cropped first), full size (zero outside the crop)."""
        full = inputs.shape[2:]
        if self.crop_size is not None:
            inputs = centre_crop(inputs, self.crop_size)
        logits = torch.as_tensor(self.forward(inputs)).as_subclass(torch.Tensor)
        if logits.dim() != inputs.dim() or logits.shape[0] != inputs.shape[0] or logits.shape[2:] != inputs.shape[2:]:
            raise ValueError(
                f"a segmentation network must return logits (N, C, *spatial) of its input's size "
                f"{tuple(inputs.shape[2:])} for N={inputs.shape[0]}, got {tuple(logits.shape)}."
            )
        self._classes(logits.shape[1])
        pred = predicted_labels(logits)
        if self.crop_size is None:
            return pred
        out = torch.zeros(pred.shape[0], 1, *full, dtype=pred.dtype, device=pred.device)
        centre_crop(out, self.crop_size).copy_(pred)
        return out

    def _rotate(self, case: RotationCase, inputs: torch.Tensor) -> torch.Tensor:
        """``case`` applied to images; a rotation fills what comes from outside the volume with ``fill_value``
        (grid symmetries move voxels only, and stay exact)."""
        if case.element is not None or self.fill_value == 0:
            return case.apply(inputs)
        return case.apply(inputs - self.fill_value) + self.fill_value

    @torch.no_grad()
    def score(self, case: RotationCase | None) -> dict[str, float]:
        dice, equal, count = [], 0, 0
        masks: dict[tuple[int, ...], tuple[torch.Tensor, torch.Tensor]] = {}
        inverse = None if case is None else case.inverse()
        for index, (images, target) in enumerate(self.batches):
            inputs, target = images.to(self.device), target.to(self.device)
            spatial = tuple(inputs.shape[2:])
            if spatial not in masks:
                masks[spatial] = self._masks(case, spatial)
            seen, reference_seen = masks[spatial]
            pred = self._predict(inputs if case is None else self._rotate(case, inputs))
            if case is None:
                _check_range(target, self.num_classes)
                self.upright.append(pred.cpu())
                reference = pred
            else:
                reference = self.upright[index].to(self.device)
                if self.labels == "rotate":  # labels and the upright prediction in one resampling
                    target, reference = case.apply_labels(torch.cat([target, reference], 1)).split(1, dim=1)
                else:
                    pred = inverse.apply_labels(pred)
            dice.append(_dice(pred, target, seen, self.num_classes, self.include_background, self.ignore_empty).cpu())
            scored = (seen & reference_seen).expand_as(pred)
            equal += int(((pred == reference) & scored).sum())
            count += int(scored.sum())
        return {**_summarise(torch.cat(dice), self.names), "agreement": equal / count if count else float("nan")}


def evaluate_segmentation_robustness(
    network: nn.Module,
    data: Iterable,
    protocol: str | RotationSweep = "paper",
    num_classes: int | None = None,
    labels: str = "rotate",
    include_background: bool = False,
    ignore_empty: bool = True,
    class_names: Sequence[str] | None = None,
    spatial_dims: int | None = None,
    seed: int = 0,
    device: torch.device | str | None = None,
    image_key: str = "image",
    label_key: str = "label",
    progress: bool = True,
    crop_size: Sequence[int] | int | None = None,
    inferer: Callable[[torch.Tensor, nn.Module], torch.Tensor] | None = None,
    fill_value: float = 0.0,
) -> RobustnessReport:
    """Evaluate a segmentation network upright and under every case of a rotation protocol: Dice per class.

    The sibling of :func:`~monai_sre.evaluation.robustness.evaluate_rotation_robustness`: the same protocols,
    data handling, eval mode (every module's training flag restored afterwards, also when it raises) and report.
    See the module docstring for the two label modes, the voxels scored and the metrics (``"dice"``,
    ``"dice_<class>"``, ``"agreement"``).

    Args:
        network: returns logits ``(N, C, *spatial)`` of the input's spatial size (``C = 1``: a binary foreground
            logit); the prediction is their argmax.
        data: an iterable of batches (a ``DataLoader``): dicts with ``image_key``/``label_key`` or
            ``(image, label)`` pairs; label maps ``(N, 1, *spatial)``, ``(N, *spatial)`` or one-hot. It is read
            once and kept in memory.
        protocol: a protocol name (see :class:`~monai_sre.evaluation.sweep.RotationSweep`) or a sweep.
        num_classes: number of classes, background included; inferred from the network's output when ``None``.
        labels: ``"rotate"`` (rotate image and label map together) or ``"map_back"`` (rotate the image only and
            map the prediction back by the inverse rotation).
        include_background: report class 0 too (and count it in the mean Dice).
        ignore_empty: an image without a class gives ``nan`` for it (left out of that class's mean), instead of
            1 (prediction also without it) or 0.
        class_names: names of all classes, background first: metrics ``"dice_<name>"``; default the indices.
        spatial_dims: spatial dims of the images; inferred from the first batch when ``None``.
        seed: seed of ``"haar-N"`` protocols.
        device: where the network runs and the volumes are rotated; defaults to its first parameter's device.
        image_key: image key of dict batches.
        label_key: label key of dict batches.
        progress: show a progress bar over the cases.
        crop_size: centre-crop the (rotated) images to this size before the network; only the crop is scored.
        inferer: ``inferer(inputs, network) -> logits``, e.g. a MONAI ``SlidingWindowInferer``; default
            ``network(inputs)``.
        fill_value: the intensity a rotation gives to what comes from outside the image (the paper protocol's
            0, mid-grey in [-1, 1]; -1, air, for whole volumes normalised to [-1, 1], where outside the scan is air).

    Returns:
        a :class:`~monai_sre.evaluation.report.RobustnessReport` with ``task="segmentation"`` and the settings
        above in ``settings``.

    Raises:
        ValueError: an unknown label mode, labels outside the classes, ``num_classes`` or ``class_names`` that do
            not fit the network's output, or an output of another spatial size than the input.

    Example::

        report = evaluate_segmentation_robustness(unet, loader, "grid48", class_names=["bg", "liver", "tumour"])
        report.summary()["dice_worst"]  # the worst grid symmetry's mean Dice
        report.save("runs/robustness")  # robustness_grid48.json, .csv, .png
    """
    look_up_option(labels, LABEL_MODES)
    batches = collect_batches(data, image_key, label_key, flatten_labels=False)
    spatial_dims = spatial_dims or batches[0][0].dim() - 2
    for index, (images, target) in enumerate(batches):
        target = label_map(target, spatial_dims)
        if target.shape[0] != images.shape[0] or target.shape[2:] != images.shape[2:]:
            raise ValueError(
                f"batch {index}: label maps {tuple(target.shape)} do not fit images {tuple(images.shape)}."
            )
        batches[index] = (images, target)  # the index maps replace the labels as loaded
    sweep = resolve_sweep(protocol, spatial_dims, seed)
    device = model_device(network, device)

    def forward(inputs: torch.Tensor) -> torch.Tensor:
        return network(inputs) if inferer is None else inferer(inputs, network)

    run = _SegmentationSweep(
        forward,
        batches,
        num_classes,
        labels,
        include_background,
        ignore_empty,
        class_names,
        device,
        crop_size,
        fill_value,
    )
    upright, rows = run_sweep(network, sweep, run.score, progress)
    settings = {
        "labels": labels,
        "num_classes": run.num_classes,
        "include_background": include_background,
        "ignore_empty": ignore_empty,
        "class_names": None if class_names is None else list(class_names),
        "crop_size": None if crop_size is None else [int(s) for s in ensure_tuple_rep(crop_size, spatial_dims)],
        "fill_value": float(fill_value),
    }
    return RobustnessReport(
        sweep.protocol,
        ("dice", *run.names, "agreement"),
        upright,
        rows,
        num_samples=sum(int(target.shape[0]) for _, target in batches),
        task="segmentation",
        settings=settings,
    )

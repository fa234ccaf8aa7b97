# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""What a bundle does, classification or segmentation, read from its ``configs/metadata.json``."""

from __future__ import annotations

from collections.abc import Mapping

from monai.utils import look_up_option

__all__ = ["TASKS", "bundle_task"]

TASKS = ("classification", "segmentation")

_CLASSIFICATION_FORMATS = ("classes", "class", "classification", "probabilities", "logits", "labels")
_SEGMENTATION_FORMATS = ("segmentation", "segmentations", "label map", "labelmap", "mask")


def _evidence(metadata: Mapping) -> dict[str, list[str]]:
    """Per task, the metadata facts that point to it."""
    found: dict[str, list[str]] = {task: [] for task in TASKS}
    pred = metadata.get("network_data_format", {}).get("outputs", {}).get("pred", {})
    fmt = str(pred.get("format", "")).lower()
    kind = str(pred.get("type", "")).lower()
    if fmt in _SEGMENTATION_FORMATS:
        found["segmentation"].append(f"outputs.pred.format '{fmt}'")
    elif fmt in _CLASSIFICATION_FORMATS:
        found["classification"].append(f"outputs.pred.format '{fmt}'")
    if kind in ("probabilities", "logits", "classes"):
        found["classification"].append(f"outputs.pred.type '{kind}'")
    shape = pred.get("spatial_shape")
    if isinstance(shape, (list, tuple)) and kind == "image" and len(shape) >= 2:
        found["segmentation"].append(f"outputs.pred.type 'image' of spatial_shape {list(shape)}")
    words = " ".join(str(metadata.get(key, "")) for key in ("task", "name")).lower()
    for task in TASKS:
        if task in words:
            found[task].append(f"the task/name words ('{task}')")
    return found


def bundle_task(metadata: Mapping, source: str = "configs/metadata.json", task: str | None = None) -> str:
    """``"classification"`` or ``"segmentation"``: ``task`` when given, else what ``metadata`` says.

    The output format (``network_data_format.outputs.pred.format``: ``classes``/``segmentation``), its type
    (``probabilities``, or an ``image`` with a spatial shape) and the words of ``task``/``name`` are read; the
    task is decided only when they all point the same way.

    Args:
        metadata: the bundle's metadata.
        source: the metadata file, for the error message.
        task: the user's choice; overrides the metadata.

    Raises:
        ValueError: ``task`` is not a task name, or the metadata names no task or contradicts itself (the facts
            found are quoted; pass ``task`` then).

    Example::

        >>> bundle_task({"network_data_format": {"outputs": {"pred": {"format": "segmentation"}}}})
        'segmentation'
    """
    if task is not None:
        return look_up_option(task, TASKS)
    found = _evidence(metadata)
    tasks = [name for name, facts in found.items() if facts]
    if len(tasks) == 1:
        return tasks[0]
    if not tasks:
        raise ValueError(
            f"{source} names no task: expected network_data_format.outputs.pred.format 'classes' or "
            "'segmentation' (or type 'probabilities'), or the word 'classification'/'segmentation' in 'task'; "
            "pass --task classification or --task segmentation."
        )
    facts = "; ".join(f"{name}: {', '.join(found[name])}" for name in tasks)
    raise ValueError(f"{source} points to more than one task ({facts}); pass --task classification|segmentation.")

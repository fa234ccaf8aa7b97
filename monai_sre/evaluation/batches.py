# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Reading evaluation data once into memory, so every rotation case (and every protocol) sees the same inputs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch

__all__ = ["collect_batches"]


def collect_batches(
    data: Iterable, image_key: str = "image", label_key: str = "label", flatten_labels: bool = True
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Read ``data`` once: ``(images, labels)`` of every batch on CPU, so every case sees the same inputs and
    several protocols can share one pass over a loader.

    Args:
        data: an iterable of batches (a ``DataLoader``, or a list): dicts with ``image_key`` and ``label_key``,
            or ``(image, label)`` pairs.
        image_key: image key of dict batches.
        label_key: label key of dict batches.
        flatten_labels: flatten the labels to ``(N,)`` (class labels); ``False`` keeps their shape and dtype
            (label maps of segmentation data).

    Returns:
        ``(images float32 (N, C, *spatial), labels (N,))`` per batch, plain tensors on the CPU (labels in their
        own shape with ``flatten_labels=False``).

    Raises:
        ValueError: a batch lacks a key or is neither a dict nor a pair (its index named), or there are no batches.
    """
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
        images, labels = torch.as_tensor(images), torch.as_tensor(labels).as_subclass(torch.Tensor)
        labels = labels.reshape(-1) if flatten_labels else labels
        out.append((images.as_subclass(torch.Tensor).float().cpu(), labels.cpu()))
    if not out:
        raise ValueError("data yielded no batches.")
    return out

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Class-balanced subsamples of a training split, drawn per seed (the low-data rows of a model comparison)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch.utils.data import Dataset, Subset

__all__ = ["balanced_indices", "balanced_subset", "check_fraction", "dataset_labels"]


def check_fraction(name: str, value: object) -> float:
    """Return ``value`` if it is a number in ``(0, 1]`` (a share of a training split); otherwise raise naming ``name``.

    Raises:
        ValueError: ``name must be a number in (0, 1], got <value>.``
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise ValueError(f"{name} must be a number in (0, 1], got {value!r}.")
    return value


def balanced_indices(labels: Sequence[int] | np.ndarray, fraction: float, seed: int) -> list[int]:
    """Indices of a class-balanced subsample: ``fraction`` of every class (at least one item each), drawn with ``seed``.

    Each class keeps ``max(1, round(fraction * n_class))`` of its items, so class proportions stay those of the full
    split and no class disappears at small fractions. ``fraction=1`` keeps every item. The indices are sorted; the same
    ``(labels, fraction, seed)`` always gives the same subsample, and another seed another one.

    Raises:
        ValueError: ``fraction`` outside ``(0, 1]``, or no labels.
    """
    check_fraction("fraction", fraction)
    labels = np.asarray(labels).reshape(-1)
    if labels.size == 0:
        raise ValueError("labels is empty: there is nothing to subsample.")
    if fraction == 1:
        return list(range(labels.size))
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        count = max(1, round(fraction * members.size))
        chosen += rng.choice(members, size=count, replace=False).tolist()
    return sorted(chosen)


def dataset_labels(dataset: Dataset) -> list[int]:
    """The class label of every item of ``dataset``: its ``labels`` attribute (the MedMNIST-layout and tissue
    datasets), else the ``"label"`` of every entry of its ``data`` list (MONAI ``Dataset``/``CacheDataset`` over a
    datalist).

    Raises:
        ValueError: when neither is there, naming the dataset's type.
    """
    labels = getattr(dataset, "labels", None)
    if labels is not None:
        return [int(v) for v in np.asarray(labels).reshape(-1)]
    data = getattr(dataset, "data", None)
    if isinstance(data, Sequence) and all(isinstance(item, dict) and "label" in item for item in data):
        return [int(np.asarray(item["label"]).reshape(-1)[0]) for item in data]
    raise ValueError(
        f"cannot read the class labels of a {type(dataset).__name__}: expected a 'labels' attribute or a 'data' "
        "list of dicts with a 'label' key."
    )


def balanced_subset(dataset: Dataset, fraction: float, seed: int) -> Dataset:
    """``dataset`` itself for ``fraction=1``, else a ``torch.utils.data.Subset`` of :func:`balanced_indices`.

    Example (a bundle override)::

        "train#dataloader#dataset": "$monai_sre.data.balanced_subset(@train#dataset, 0.05, @seed)"
    """
    indices = balanced_indices(dataset_labels(dataset), fraction, seed)
    return dataset if len(indices) == len(dataset) else Subset(dataset, indices)

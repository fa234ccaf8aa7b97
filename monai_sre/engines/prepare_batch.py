# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""A trainer's ``prepare_batch`` that rotates the batch on the device, as MONAI's ``monai.engines.utils`` helpers.

:class:`PrepareBatchRandSO3Rotate` puts :class:`~monai_sre.transforms.BatchRandSO3Rotate` in a MONAI workflow:
the trainer's ``prepare_batch`` moves the batch to the device (as MONAI's ``default_prepare_batch``) and rotates
and crops the images there, in one resampling call per batch; labels are left as they are (classification). The
data pipeline then stops before the crop (the stored patches are batched whole).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from monai.engines.utils import PrepareBatch, default_prepare_batch

from monai_sre.transforms.batch_rotation import BatchRandSO3Rotate

__all__ = ["PrepareBatchRandSO3Rotate"]


class PrepareBatchRandSO3Rotate(PrepareBatch):
    """A trainer's ``prepare_batch`` that moves the batch to the device, then randomly rotates and crops the images.

    The batch goes to the device through MONAI's ``default_prepare_batch`` (``(image, label)`` from a dictionary
    with ``"image"`` and ``"label"``, a pair, or a tensor); the images are then transformed there by
    :class:`~monai_sre.transforms.BatchRandSO3Rotate` (one resampling call per batch); the label is returned untouched.

    Args:
        roi_size: the network's input size (the crop); ``None`` keeps the stored size.
        prob: probability of rotating each sample (``0``: crop only, e.g. for ``augment_rotation: false``).
        max_angle: largest rotation angle in radians, ``None`` for all rotations.
        mode: ``"bilinear"`` or ``"nearest"``.
        padding_mode: ``"zeros"``, ``"border"`` or ``"reflection"``.
        align_corners: as for ``torch.nn.functional.grid_sample``.
        seed: seed of the rotations; ``None`` draws one from numpy's global state (see :class:`BatchRandSO3Rotate`).

    Example (a bundle's ``train#trainer``)::

        "prepare_batch": {"_target_": "monai_sre.engines.PrepareBatchRandSO3Rotate", "roi_size": 16}
    """

    def __init__(
        self,
        roi_size: Sequence[int] | int | None = None,
        prob: float = 1.0,
        max_angle: float | None = None,
        mode: str = "bilinear",
        padding_mode: str = "zeros",
        align_corners: bool = False,
        seed: int | None = None,
    ) -> None:
        self.rotate = BatchRandSO3Rotate(roi_size, prob, max_angle, mode, padding_mode, align_corners, seed)

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None):
        """Set the random state of the rotations (see MONAI's ``Randomizable.set_random_state``)."""
        self.rotate.set_random_state(seed, state)
        return self

    def __call__(
        self,
        batchdata: dict[str, torch.Tensor] | torch.Tensor | Sequence[torch.Tensor],
        device: str | torch.device | None = None,
        non_blocking: bool = False,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Args as MONAI's ``default_prepare_batch``; returns ``(rotated and cropped images, label or None)``."""
        prepared = default_prepare_batch(batchdata, device, non_blocking, **kwargs)
        if not isinstance(prepared, tuple):
            raise ValueError("PrepareBatchRandSO3Rotate needs images: a dict with 'image', a pair or a tensor.")
        image, label = prepared
        return self.rotate(image), label

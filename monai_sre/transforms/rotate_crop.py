# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Deprecated: the fused rotation + centre crop now lives in MONAI's transform layout.

- :func:`~monai_sre.transforms.functional.rotate_crop` and :func:`~monai_sre.transforms.functional.inverse_rotate_crop`
  in :mod:`monai_sre.transforms.functional`;
- :class:`~monai_sre.transforms.array.RandSO3RotateCrop` in :mod:`monai_sre.transforms.array`;
- :class:`~monai_sre.transforms.dictionary.RandSO3RotateCropd` (``D``, ``Dict``) in
  :mod:`monai_sre.transforms.dictionary`;
- the index-space geometry it shares with the batched rotation in :mod:`monai_sre.transforms.geometry`.

Every name below still resolves here, with a one-time ``FutureWarning``; import it from
:mod:`monai_sre.transforms` (unchanged) or from its new module.
"""

from __future__ import annotations

from monai_sre.deprecation import deprecated_names

_MOVED = {
    "RandSO3RotateCrop": "monai_sre.transforms.array",
    "RandSO3RotateCropD": "monai_sre.transforms.dictionary",
    "RandSO3RotateCropDict": "monai_sre.transforms.dictionary",
    "RandSO3RotateCropd": "monai_sre.transforms.dictionary",
    "inverse_rotate_crop": "monai_sre.transforms.functional",
    "rotate_crop": "monai_sre.transforms.functional",
    "grid_theta": "monai_sre.transforms.geometry",
    "resample": "monai_sre.transforms.geometry",
    "resolve_roi_size": "monai_sre.transforms.geometry",
    "rotate_crop_index_map": "monai_sre.transforms.geometry",
}

__getattr__ = deprecated_names(__name__, {name: f"{module}:{name}" for name, module in _MOVED.items()})

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Dictionary versions of :mod:`monai_sre.transforms.array`: every key gets the same rotation or symmetry."""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping, Sequence

import numpy as np
import torch
from monai.config import DtypeLike, KeysCollection
from monai.data.meta_obj import get_track_meta
from monai.transforms.inverse import InvertibleTransform
from monai.transforms.transform import LazyTransform, MapTransform, RandomizableTransform
from monai.utils import TraceKeys, convert_to_tensor, ensure_tuple_rep

from monai_sre.transforms.array import GridSymmetry, RandGridSymmetry, RandSO3Rotate, RandSO3RotateCrop
from monai_sre.transforms.functional import inverse_rotate_crop, rotate_crop, spatial_size

__all__ = [
    "GridSymmetryD",
    "GridSymmetryDict",
    "GridSymmetryd",
    "RandGridSymmetryD",
    "RandGridSymmetryDict",
    "RandGridSymmetryd",
    "RandSO3RotateCropD",
    "RandSO3RotateCropDict",
    "RandSO3RotateCropd",
    "RandSO3RotateD",
    "RandSO3RotateDict",
    "RandSO3Rotated",
]


class _SharedDraw(RandomizableTransform, MapTransform, InvertibleTransform, LazyTransform):
    """Draw once per call with ``self.inner`` (prob 1), apply to every key, record per key for inversion."""

    inner: RandSO3Rotate | RandSO3RotateCrop | RandGridSymmetry

    def __init__(self, keys: KeysCollection, prob: float, allow_missing_keys: bool, lazy: bool) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob)
        LazyTransform.__init__(self, lazy=lazy)

    @LazyTransform.lazy.setter  # type: ignore
    def lazy(self, val: bool) -> None:
        self.inner.lazy = val
        self._lazy = val

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None):
        super().set_random_state(seed, state)
        self.inner.set_random_state(seed, state)
        return self

    # per-key resampling options of the rotating subclasses (one entry per key of ``self.keys``)
    resampling_options: tuple[tuple, ...] = ()

    def _set_resampling_options(self, mode, padding_mode, align_corners, dtype) -> None:
        """Keep ``mode``, ``padding_mode``, ``align_corners`` and ``dtype`` as one entry per key."""
        self.mode = ensure_tuple_rep(mode, len(self.keys))
        self.padding_mode = ensure_tuple_rep(padding_mode, len(self.keys))
        self.align_corners = ensure_tuple_rep(align_corners, len(self.keys))
        self.dtype = ensure_tuple_rep(dtype, len(self.keys))
        self.resampling_options = (self.mode, self.padding_mode, self.align_corners, self.dtype)

    def keys_with_options(self, d: Mapping[Hashable, torch.Tensor]) -> Iterator[tuple[Hashable, tuple]]:
        """The present keys of ``d``, each with its own options (``mode``, ``padding_mode``, ``align_corners``,
        ``dtype``, or none): paired through ``key_iterator(d, *options)`` as MONAI pairs them, so that a missing
        key (``allow_missing_keys``) never hands its options to the next one."""
        if not self.resampling_options:
            return ((key, ()) for key in self.key_iterator(d))
        return ((key, tuple(options)) for key, *options in self.key_iterator(d, *self.resampling_options))

    def _apply(self, image: torch.Tensor, options: tuple, lazy: bool) -> torch.Tensor:
        return self.inner(image, randomize=False, lazy=lazy)

    def _draw(self, d: Mapping[Hashable, torch.Tensor]) -> None:
        """Decide whether to transform, and draw ``inner``'s parameters for the first key's spatial dims (whatever
        the decision, so that transforms sharing ``inner``'s class draw the same sequence)."""
        self.randomize(None)
        first = next(self.key_iterator(d), None)
        if first is not None:
            self.inner.randomize(len(spatial_size(d[first])))

    def __call__(self, data: Mapping[Hashable, torch.Tensor], lazy: bool | None = None) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        self._draw(d)
        lazy_ = self.lazy if lazy is None else lazy
        for key, options in self.keys_with_options(d):
            if self._do_transform:
                d[key] = self._apply(d[key], options, lazy_)
            else:
                d[key] = convert_to_tensor(d[key], track_meta=get_track_meta(), dtype=torch.float32)
            self.push_transform(d[key], replace=True, lazy=lazy_)
        return d

    def inverse(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            transform = self.pop_transform(d[key])
            if transform[TraceKeys.DO_TRANSFORM]:
                d[key].applied_operations.append(transform[TraceKeys.EXTRA_INFO])  # type: ignore
                d[key] = self.inner.inverse(d[key])
        return d


class RandSO3Rotated(_SharedDraw):
    """Dictionary :class:`~monai_sre.transforms.array.RandSO3Rotate`: one uniformly random rotation for all keys.

    Args:
        keys: keys of the images to rotate together (e.g. ``["image", "label"]``).
        prob: probability of rotating.
        max_angle: largest rotation angle in radians, ``None`` for all rotations.
        keep_size: keep the spatial size.
        mode: interpolation per key (``"bilinear"`` for images, ``"nearest"`` for labels) or one for all.
        padding_mode: padding per key or one for all.
        align_corners: per key or one for all.
        dtype: resampling dtype per key or one for all.
        allow_missing_keys: do not raise on missing keys.
        lazy: execute lazily.
    """

    backend = RandSO3Rotate.backend

    def __init__(
        self,
        keys: KeysCollection,
        prob: float = 1.0,
        max_angle: float | None = None,
        keep_size: bool = True,
        mode: Sequence[str] | str = "bilinear",
        padding_mode: Sequence[str] | str = "zeros",
        align_corners: Sequence[bool] | bool = False,
        dtype: Sequence[DtypeLike | torch.dtype] | DtypeLike | torch.dtype = np.float32,
        allow_missing_keys: bool = False,
        lazy: bool = False,
    ) -> None:
        self.inner = RandSO3Rotate(prob=1.0, max_angle=max_angle, keep_size=keep_size, lazy=lazy)
        super().__init__(keys, prob, allow_missing_keys, lazy)
        self._set_resampling_options(mode, padding_mode, align_corners, dtype)

    def _apply(self, image: torch.Tensor, options: tuple, lazy: bool) -> torch.Tensor:
        mode, padding_mode, align_corners, dtype = options
        return self.inner(
            image,
            mode=mode,
            padding_mode=padding_mode,
            align_corners=align_corners,
            dtype=dtype,
            randomize=False,
            lazy=lazy,
        )


class RandSO3RotateCropd(_SharedDraw):
    """Dictionary :class:`~monai_sre.transforms.array.RandSO3RotateCrop`: one uniformly random rotation and the
    same crop for every key.

    Draws as :class:`RandSO3Rotated` does (same random state, same rotations), so it replaces
    ``RandSO3Rotated`` + ``ResizeWithPadOrCropd(roi_size)`` in a pipeline.

    Args:
        keys: keys of the images to rotate together (e.g. ``["image", "label"]``).
        roi_size: output spatial size; ``None`` or non-positive entries keep that axis.
        prob: probability of rotating (the crop is always applied).
        max_angle: largest rotation angle in radians, ``None`` for all rotations.
        mode: interpolation per key (``"bilinear"`` for images, ``"nearest"`` for labels) or one for all.
        padding_mode: padding per key or one for all.
        align_corners: per key or one for all.
        dtype: resampling dtype per key or one for all.
        allow_missing_keys: do not raise on missing keys.
        lazy: execute lazily.
    """

    backend = RandSO3RotateCrop.backend

    def __init__(
        self,
        keys: KeysCollection,
        roi_size: Sequence[int] | int | None,
        prob: float = 1.0,
        max_angle: float | None = None,
        mode: Sequence[str] | str = "bilinear",
        padding_mode: Sequence[str] | str = "zeros",
        align_corners: Sequence[bool] | bool = False,
        dtype: Sequence[DtypeLike | torch.dtype] | DtypeLike | torch.dtype = np.float32,
        allow_missing_keys: bool = False,
        lazy: bool = False,
    ) -> None:
        self.inner = RandSO3RotateCrop(roi_size, prob=1.0, max_angle=max_angle, lazy=lazy)
        super().__init__(keys, prob, allow_missing_keys, lazy)
        self._set_resampling_options(mode, padding_mode, align_corners, dtype)

    def __call__(self, data: Mapping[Hashable, torch.Tensor], lazy: bool | None = None) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        self._draw(d)  # as RandSO3Rotated draws, so both give the same rotations from the same state
        lazy_ = self.lazy if lazy is None else lazy
        for key, (mode, padding_mode, align_corners, dtype) in self.keys_with_options(d):
            d[key] = rotate_crop(
                d[key],
                self.inner.matrix if self._do_transform else None,
                self.inner.roi_size,
                mode=mode,
                padding_mode=padding_mode,
                align_corners=align_corners,
                dtype=dtype,
                lazy=lazy_,
                transform_info=self.get_transform_info(),
            )
        return d

    def inverse(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = inverse_rotate_crop(d[key], self.pop_transform(d[key]))
        return d


class RandGridSymmetryd(_SharedDraw):
    """Dictionary :class:`~monai_sre.transforms.array.RandGridSymmetry`: one random grid symmetry for all keys."""

    backend = GridSymmetry.backend

    def __init__(
        self, keys: KeysCollection, prob: float = 1.0, allow_missing_keys: bool = False, lazy: bool = False
    ) -> None:
        self.inner = RandGridSymmetry(prob=1.0, lazy=lazy)
        super().__init__(keys, prob, allow_missing_keys, lazy)


class GridSymmetryd(MapTransform, InvertibleTransform, LazyTransform):
    """Dictionary :class:`~monai_sre.transforms.array.GridSymmetry`: the same grid symmetry for every key."""

    backend = GridSymmetry.backend

    def __init__(self, keys: KeysCollection, index: int, allow_missing_keys: bool = False, lazy: bool = False) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        LazyTransform.__init__(self, lazy=lazy)
        self.symmetry = GridSymmetry(index, lazy=lazy)

    @LazyTransform.lazy.setter  # type: ignore
    def lazy(self, val: bool) -> None:
        self.symmetry.lazy = val
        self._lazy = val

    def __call__(self, data: Mapping[Hashable, torch.Tensor], lazy: bool | None = None) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        lazy_ = self.lazy if lazy is None else lazy
        for key in self.key_iterator(d):
            d[key] = self.symmetry(d[key], lazy=lazy_)
        return d

    def inverse(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.symmetry.inverse(d[key])
        return d


RandSO3RotateD = RandSO3RotateDict = RandSO3Rotated
RandSO3RotateCropD = RandSO3RotateCropDict = RandSO3RotateCropd
RandGridSymmetryD = RandGridSymmetryDict = RandGridSymmetryd
GridSymmetryD = GridSymmetryDict = GridSymmetryd

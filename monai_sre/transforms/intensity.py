# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Intensity mapping of a T1-weighted MR onto a reference scale (the embedded template's), by its white-matter peak.

The tissue bundle was trained on one volume, the MNI ICBM152 template stored as uint8 (0..255, background 0,
white matter near 220, grey near 170, internal CSF near 75). Another T1 arrives on another scale (uint8 with a
white-matter peak at 113 for the Colin27 brain, int16 near 10,000 for a scanner's output). An MR scale has no
physical unit but does have a natural zero (air is dark), so one anchor fixes it: the white-matter peak, the
highest-intensity mode of a T1 histogram, as the WhiteStripe method uses it (Shinohara et al., NeuroImage
Clinical 6, 2014). :class:`ScaleToWhiteMatterPeak` multiplies the image so that its white-matter peak lands on
a ``target``: for the template's scale, :func:`monai_sre.data.template_white_matter_peak`, which the data
package computes from the embedded volume with :func:`white_matter_peak` (transforms read no data assets).

Why not percentiles of the foreground: a skull and scalp move the upper percentiles (the Colin27 brain with and
without skull at 2 mm: 95th percentile of the voxels above 50, about Otsu's threshold, 138.6 and 115.8, a fifth
apart) while the white-matter peak does not move (113.2 and 113.2), because fat and bone add a broad tail, not a
peak.
"""

from __future__ import annotations

import importlib
from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.config import DtypeLike, KeysCollection, NdarrayOrTensor
from monai.transforms.transform import MapTransform, Transform
from monai.utils import TransformBackends, convert_data_type, convert_to_dst_type

from monai_sre.deprecation import deprecated_names, warn_deprecated

__all__ = [
    "ScaleToWhiteMatterPeak",
    "ScaleToWhiteMatterPeakD",
    "ScaleToWhiteMatterPeakDict",
    "ScaleToWhiteMatterPeakd",
    "white_matter_peak",
]


def _smooth(histogram: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing of a 1D histogram (zero outside), with numpy only."""
    radius = int(min(np.ceil(4 * sigma), len(histogram) - 1))
    if radius < 1:
        return histogram.astype(float)
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    return np.convolve(histogram.astype(float), kernel / kernel.sum(), mode="same")


def _check_histogram_args(tail: float, min_height: float, bins: int) -> None:
    if not 0 <= tail < 0.5:
        raise ValueError(f"tail must be in [0, 0.5), got {tail!r}.")
    if not 0 < min_height <= 1:
        raise ValueError(f"min_height must be in (0, 1], got {min_height!r}.")
    if isinstance(bins, bool) or int(bins) != bins or bins < 16:
        raise ValueError(f"bins must be an integer of at least 16, got {bins!r}.")


def white_matter_peak(
    image: NdarrayOrTensor, tail: float = 0.02, min_height: float = 0.2, bins: int = 512, name: str = "image"
) -> float:
    """The white-matter peak of a T1-weighted image: the last (highest-intensity) mode of its smoothed histogram.

    The histogram is taken over the voxels brighter than the image mean (which leaves out air), without the
    brightest ``tail`` fraction (vessels, fat, saturated voxels), and smoothed with a Gaussian of Silverman's
    bandwidth (at least 2 for integer-valued images, so that uint8 data give no comb). The peak is the last
    local maximum at least ``min_height`` times as high as the highest one.

    Args:
        image: the image (any shape; all voxels count).
        tail: the fraction of the brightest voxels left out, in [0, 0.5).
        min_height: relative height a local maximum needs to count, in (0, 1].
        bins: histogram bins (at least 16).
        name: how errors name the image (its file).

    Returns:
        the intensity of the peak, in the image's units.

    Raises:
        ValueError: an argument out of range, or an image with no intensity spread above its mean (for example
            a constant image), named by ``name``.
    """
    _check_histogram_args(tail, min_height, bins)
    values = np.asarray(convert_data_type(image, np.ndarray)[0], dtype=np.float64).reshape(-1)
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise ValueError(f"{name} holds no finite intensity; cannot find its white-matter peak.")
    values = values[values > values.mean()]
    if tail > 0 and values.size:
        values = values[values <= np.quantile(values, 1 - tail)]
    if values.size < 2 or values.max() <= values.min():
        raise ValueError(
            f"{name} has no intensity spread above its mean (a constant or nearly constant image); "
            "expected a T1-weighted MR volume, whose histogram has a white-matter peak."
        )
    q25, q75 = np.quantile(values, (0.25, 0.75))
    spread = min(values.std(), (q75 - q25) / 1.34) or values.std()
    bandwidth = 0.9 * spread * values.size ** (-0.2)
    if np.all(values == np.round(values)):
        bandwidth = max(bandwidth, 2.0)
    histogram, edges = np.histogram(values, bins=int(bins))
    smooth = np.pad(_smooth(histogram, bandwidth / (edges[1] - edges[0])), 1)  # zero beyond both ends
    centre = smooth[1:-1]
    is_peak = (centre > smooth[:-2]) & (centre >= smooth[2:]) & (centre >= min_height * centre.max())
    last = np.flatnonzero(is_peak)[-1]
    return float((edges[last] + edges[last + 1]) / 2)


def _image_name(img: NdarrayOrTensor) -> str:
    meta = getattr(img, "meta", None) or {}
    source = meta.get("filename_or_obj")
    return f"'{source}'" if source else "the image"


class ScaleToWhiteMatterPeak(Transform):
    """Scale a T1-weighted MR so that its white-matter peak lands on ``target``:
    ``out = (img - zero) * target / (peak - zero)``, then clip to ``clip``.

    With ``target=monai_sre.data.template_white_matter_peak()`` and the default ``clip`` it brings any T1 onto
    the embedded template's uint8 scale (clipped to 0..255), ready for the tissue bundle's
    ``ScaleIntensityRanged`` (0..255 to [-1, 1]) as in training. Apply it after resampling to the model's
    spacing: the peak of a 2 mm image is the one the template's is compared with. Checked on the Colin27 brain:
    at 2 mm its peak is 113.2 with skull and skull-stripped alike (the template's: 219.4), and its grey-matter
    mode lands at 169-170 (the template's: 172.5).

    Args:
        target: where the peak goes, in output units (the template's:
            :func:`monai_sre.data.template_white_matter_peak`). ``None`` (deprecated, removed in 0.3.0) takes the
            template's with a ``FutureWarning``.
        zero: the input intensity that maps to 0 (air; 0 for MR).
        clip: ``(low, high)`` range of the output, or ``None`` for no clipping.
        tail: see :func:`white_matter_peak`.
        min_height: see :func:`white_matter_peak`.
        bins: see :func:`white_matter_peak`.
        dtype: output data type.

    Example (a bundle's preprocessing, onto the template's scale)::

        {"_target_": "monai_sre.transforms.intensity.ScaleToWhiteMatterPeakd", "keys": "image",
         "target": "$monai_sre.data.template_white_matter_peak()"}

    Raises:
        ValueError: a missing ``target`` or one not above ``zero``, an argument out of range; on call, an image
            with no white-matter peak above ``zero``, named by its file.
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(
        self,
        target: float | None = None,
        zero: float = 0.0,
        clip: Sequence[float] | None = (0.0, 255.0),
        tail: float = 0.02,
        min_height: float = 0.2,
        bins: int = 512,
        dtype: DtypeLike | torch.dtype = np.float32,
    ) -> None:
        if target is None:  # the old default (the template's peak): deprecated, it made transforms read data
            warn_deprecated(f"{type(self).__name__}(target=None)", "target=monai_sre.data.template_white_matter_peak()")
            target = importlib.import_module("monai_sre.data").template_white_matter_peak()
        if not target > zero:
            raise ValueError(f"target must be above zero ({zero}), got {target!r}.")
        if clip is not None and (len(clip) != 2 or not clip[0] < clip[1]):
            raise ValueError(f"clip must be None or (low, high) with low < high, got {clip!r}.")
        _check_histogram_args(tail, min_height, bins)
        self.target = float(target)
        self.zero = float(zero)
        self.clip = None if clip is None else (float(clip[0]), float(clip[1]))
        self.tail, self.min_height, self.bins = tail, min_height, bins
        self.dtype = dtype

    def __call__(self, img: NdarrayOrTensor) -> NdarrayOrTensor:
        name = _image_name(img)
        peak = white_matter_peak(img, self.tail, self.min_height, self.bins, name=name)
        if not peak > self.zero:
            raise ValueError(
                f"cannot map the intensities of {name} onto the template: its white-matter peak {peak:.4g} is not "
                f"above zero={self.zero:g}; expected a T1-weighted MR whose air is darker than its tissue."
            )
        data = convert_data_type(img, torch.Tensor, dtype=torch.float64)[0]
        out = (data - self.zero) * (self.target / (peak - self.zero))
        if self.clip is not None:
            out = out.clamp(*self.clip)
        return convert_to_dst_type(out, img, dtype=self.dtype)[0]


class ScaleToWhiteMatterPeakd(MapTransform):
    """Dictionary version of :class:`ScaleToWhiteMatterPeak` (each key gets its own peak).

    Args:
        keys: keys of the images to scale.
        target: see :class:`ScaleToWhiteMatterPeak`.
        zero: see :class:`ScaleToWhiteMatterPeak`.
        clip: see :class:`ScaleToWhiteMatterPeak`.
        tail: see :func:`white_matter_peak`.
        min_height: see :func:`white_matter_peak`.
        bins: see :func:`white_matter_peak`.
        dtype: output data type.
        allow_missing_keys: don't raise for a missing key.
    """

    backend = ScaleToWhiteMatterPeak.backend

    def __init__(
        self,
        keys: KeysCollection,
        target: float | None = None,
        zero: float = 0.0,
        clip: Sequence[float] | None = (0.0, 255.0),
        tail: float = 0.02,
        min_height: float = 0.2,
        bins: int = 512,
        dtype: DtypeLike | torch.dtype = np.float32,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.scaler = ScaleToWhiteMatterPeak(target, zero, clip, tail, min_height, bins, dtype)

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.scaler(d[key])
        return d


ScaleToWhiteMatterPeakD = ScaleToWhiteMatterPeakDict = ScaleToWhiteMatterPeakd


# the template's peak is a property of the embedded dataset: the data package computes it (transforms read no assets)
__getattr__ = deprecated_names(
    __name__, {"template_white_matter_peak": "monai_sre.data.tissue:template_white_matter_peak"}
)

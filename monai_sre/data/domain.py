# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""The domain a classifier was trained on, and the inputs it cannot judge.

Inference brings every input into the training domain (orientation, spacing, intensity mapping, size), but
some inputs stay outside it whatever the preprocessing does: a whole brain given to a classifier of 60 mm
patches is cropped to its centre and answered with confidence about a region nobody asked about. Such inputs
are refused, by physical size: :func:`training_extent_mm` measures the training volumes (largest side, in mm,
from the headers), and :func:`refuse_outside_domain` moves every input whose largest side is far outside that
range from the usable to the refused list, with a reason that names both sizes. :func:`raise_if_refused` ends a
run that refused inputs with one error listing them, after the usable ones were predicted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from monai_sre.data.checks import VolumeCheck, check_volume
from monai_sre.data.readers import _sitk

__all__ = ["raise_if_refused", "refuse_outside_domain", "training_extent_mm", "volume_extent_mm"]


def volume_extent_mm(path: str | Path) -> float:
    """The largest side of a volume in millimetres (voxels times spacing), read from its header.

    A folder is a DICOM series: its in-plane size from the first slice, its depth from the slice count and the
    spacing of the first two slices.
    """
    sitk = _sitk()
    path = Path(path)
    if path.is_dir():
        series = sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(path))
        files = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(path), series[0])
        first = sitk.ImageFileReader()
        first.SetFileName(files[0])
        first.ReadImageInformation()
        sides = [n * s for n, s in zip(first.GetSize()[:2], first.GetSpacing()[:2])]
        if len(files) > 1:
            second = sitk.ImageFileReader()
            second.SetFileName(files[1])
            second.ReadImageInformation()
            step = float(np.linalg.norm(np.subtract(second.GetOrigin(), first.GetOrigin())))
            sides.append(step * len(files))
        return float(max(sides))
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    reader.ReadImageInformation()
    return float(max(n * s for n, s in zip(reader.GetSize()[:3], reader.GetSpacing()[:3])))


def training_extent_mm(items: Sequence[Mapping | str | Path], key: str = "image") -> list[float]:
    """``[smallest, largest]`` largest-side extent (mm) over the training volumes ``items`` (paths or dicts)."""
    extents = [volume_extent_mm(item[key] if isinstance(item, Mapping) else item) for item in items]
    if not extents:
        raise ValueError("training_extent_mm needs at least one volume.")
    return [min(extents), max(extents)]


def refuse_outside_domain(
    check: VolumeCheck,
    extent_mm: Sequence[float] | None = None,
    value_range: Sequence[float] | None = None,
    tolerance: float = 2.0,
    hint: str = "",
    key: str = "image",
) -> VolumeCheck:
    """Move the usable inputs that lie outside the training domain to the refused ones, each with its reason.

    Args:
        check: usable and refused inputs (from :func:`~monai_sre.data.split_readable_volumes`).
        extent_mm: ``[smallest, largest]`` side of the training volumes in mm (:func:`training_extent_mm`);
            inputs from ``smallest / tolerance`` to ``largest * tolerance`` are accepted. ``None``: no check.
        value_range: ``[low, high]`` intensities the model was trained on (for inputs on a fixed scale, such as
            the tissue bundle's uint8 template patches); an input with a voxel outside it is refused.
            ``None``: no check.
        tolerance: see ``extent_mm`` (>= 1).
        hint: appended to every reason (e.g. what to run instead for whole volumes).
        key: the dict key of the image path.

    Returns:
        a new :class:`~monai_sre.data.checks.VolumeCheck`.
    """
    if extent_mm is not None and (len(extent_mm) != 2 or not 0 < extent_mm[0] <= extent_mm[1]):
        raise ValueError(f"extent_mm must be [smallest, largest] in mm, got {list(extent_mm)}.")
    if value_range is not None and (len(value_range) != 2 or not value_range[0] < value_range[1]):
        raise ValueError(f"value_range must be [low, high] with low < high, got {list(value_range)}.")
    if tolerance < 1:
        raise ValueError(f"tolerance must be >= 1, got {tolerance}.")
    good, bad = [], list(check.bad)
    for item in check.good:
        path = str(item[key] if isinstance(item, Mapping) else item)
        reasons = []
        if extent_mm is not None:
            reasons += _extent_reason(volume_extent_mm(path), extent_mm, tolerance)
        if value_range is not None:
            info = check_volume(path, channels=None, allow_constant=True)
            if info.minimum < value_range[0] or info.maximum > value_range[1]:
                reasons.append(
                    f"its intensities span {info.minimum:g}..{info.maximum:g}, outside the scale the model was "
                    f"trained on ({value_range[0]:g}..{value_range[1]:g})"
                )
        if reasons:
            bad.append((path, "; ".join(reasons) + f": the model cannot judge it{f' ({hint})' if hint else ''}"))
        else:
            good.append(item)
    return VolumeCheck(good, bad)


def _extent_reason(extent: float, trained: Sequence[float], tolerance: float) -> list[str]:
    if trained[0] / tolerance <= extent <= trained[1] * tolerance:
        return []
    span = f"{trained[0]:.0f}-{trained[1]:.0f} mm" if trained[0] != trained[1] else f"{trained[0]:.0f} mm"
    kind = "larger" if extent > trained[1] * tolerance else "smaller"
    return [f"it spans {extent:.0f} mm, much {kind} than the volumes the model was trained on ({span} across)"]


def raise_if_refused(check: VolumeCheck, where: str = "", exit: bool = False) -> None:
    """End a run that refused inputs, after the usable ones were predicted: one message lists each refused input
    with its reason.

    Args:
        check: the usable and refused inputs.
        where: where the usable inputs' predictions were written (named in the message).
        exit: raise ``SystemExit`` with the message (a bundle's last step: the message is printed as it is,
            without a traceback through the config, and the exit status is 1) instead of ``ValueError``.
    """
    if not check.bad:
        return
    total = len(check.good) + len(check.bad)
    listing = "\n".join(f"  - '{path}': {reason}" for path, reason in check.bad)
    others = "the other one was" if len(check.good) == 1 else f"the other {len(check.good)} were"
    written = f"; {others} predicted{f' ({where})' if where else ''}" if check.good else ""
    message = f"{len(check.bad)} of {total} inputs were refused{written}:\n{listing}"
    if exit:
        raise SystemExit(message)
    raise ValueError(message)

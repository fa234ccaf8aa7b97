# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Segmentation datalists: each image with its label map, checked before anything trains.

The datalist is a decathlon-style JSON (``{"training": [{"image": ..., "label": ...}], ...}``) or a CSV with
``image`` and ``label`` columns (and optionally a ``split`` column), read as
:func:`~monai_sre.data.datalist.load_classification_datalist` reads them; ``label`` is the path of a label map.

:func:`load_segmentation_datalist` reads every image and every label map completely, and one error lists every entry
that cannot be used with every reason: an image or label map that is missing, truncated or not one 3D volume; a
label map on another grid than its image (shape, spacing, origin or direction); label values that are fractions
(interpolated labels) or not class indices; or a label map without any foreground voxel.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from monai.utils import optional_import

from monai_sre.arguments import check_positive_int
from monai_sre.data.checks import _format, _layout, _read, _read_series, _size, _Unusable, check_volumes
from monai_sre.data.datalist import _open_datalist, _raise_for_bad_entries
from monai_sre.data.readers import _sitk

__all__ = ["load_segmentation_datalist"]

_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
_SHOWN = 8  # offending label values named in a message


def _itk_affine(source) -> np.ndarray:
    """The voxel-to-world affine of a SimpleITK image or header (first 3 axes), in RAS as nibabel and MONAI give it."""
    dims = source.GetDimension()
    affine = np.eye(4)
    affine[:3, :3] = np.asarray(source.GetDirection()).reshape(dims, dims)[:3, :3] * source.GetSpacing()[:3]
    affine[:3, 3] = source.GetOrigin()[:3]
    return _LPS_TO_RAS @ affine


def _image_grid(path: Path) -> tuple[tuple[int, ...], np.ndarray]:
    """Spatial shape (x, y, z) and RAS affine of a usable image, from its header (a DICOM folder: its series)."""
    if path.is_file() and _format(path) == "NIfTI":
        nib, _ = optional_import("nibabel")
        image = nib.load(str(path))
        return tuple(int(s) for s in image.shape[:3]), np.asarray(image.affine, dtype=float)
    if path.is_dir():
        source = _read_series(path)
    else:
        source = _sitk().ImageFileReader()
        source.SetFileName(str(path))
        source.ReadImageInformation()
    return tuple(int(s) for s in source.GetSize()[:3]), _itk_affine(source)


def _values(data: np.ndarray, num_classes: int | None, require_foreground: bool) -> list[str]:
    """Problems with the values of a label map: fractions, values that are not class indices, no foreground."""
    if data.dtype.fields is not None or data.dtype.kind not in "biuf":
        return [f"label map voxels of type {data.dtype}; expected integer class indices"]
    problems = []
    foreground = bool(np.any(data > 0))
    if data.dtype.kind == "f":
        fractional = ~(np.isfinite(data) & (data == np.round(data)))
        if fractional.any():
            shown = ", ".join(f"{v:g}" for v in np.unique(data[fractional])[:3])
            problems.append(
                f"label values not integers ({np.count_nonzero(fractional):,} voxels, e.g. {shown}: interpolated "
                "labels?); expected integer class indices (resample label maps with nearest neighbour)"
            )
            data = data[~fractional]
    high = num_classes if num_classes is not None else np.inf
    if data.size and (data.min() < 0 or data.max() >= high):
        outside = np.unique(data[(data < 0) | (data >= high)])
        shown = str([int(v) for v in outside[:_SHOWN]])
        shown = shown if len(outside) <= _SHOWN else f"{shown[:-1]}, ... ({len(outside)} values)]"
        if num_classes is not None:
            problems.append(f"label values {shown} outside 0..{num_classes - 1} (num_classes {num_classes})")
        else:
            problems.append(f"label values {shown} negative; expected class indices >= 0")
    if require_foreground and not foreground:
        problems.append("label map empty: no foreground voxel (none > 0); expected at least one labelled voxel")
    return problems


def _label_map(path: Path, num_classes: int | None, require_foreground: bool):
    """Read every voxel of a label map: the reasons it cannot be used, and its shape and RAS affine if it is one
    3D volume (else ``None``)."""
    try:
        read = _read(path)
    except _Unusable as problem:
        return [f"label map: {problem}"], None
    layout = _layout(read.sizes, read.components, 3, 1)
    if layout:
        return [f"label map: {'; '.join(layout)}"], None
    data = read.data if (read.slope, read.inter) == (1.0, 0.0) else read.data * read.slope + read.inter
    owner = read.owner
    affine = np.asarray(owner.affine, dtype=float) if hasattr(owner, "affine") else _itk_affine(owner)
    return _values(data, num_classes, require_foreground), (tuple(int(s) for s in read.sizes[:3]), affine)


def _vector(values) -> str:
    return "(" + ", ".join(f"{float(v) + 0.0:.6g}" for v in values) + ")"


def _grid_problems(label: tuple, image: tuple, affine_atol: float) -> list[str]:
    """How the grid of a label map differs from its image's: shape, or spacing, origin and direction (RAS)."""
    (label_shape, label_affine), (image_shape, image_affine) = label, image
    if label_shape != image_shape:
        return [f"label map of {_size(label_shape)} voxels, image of {_size(image_shape)}; expected the image's grid"]
    # tolerances are fractions of the image's largest voxel (mm) or, for directions, unitless
    voxel = float(np.linalg.norm(image_affine[:3, :3], axis=0).max())
    if np.allclose(label_affine, image_affine, rtol=0, atol=affine_atol * voxel):
        return []
    parts = []
    for name, unit, scale, part in (
        ("spacing", " mm", voxel, lambda a: np.linalg.norm(a[:3, :3], axis=0)),
        ("origin", " mm (RAS)", voxel, lambda a: a[:3, 3]),
        ("direction", " (RAS)", 1.0, lambda a: (a[:3, :3] / np.linalg.norm(a[:3, :3], axis=0)).T.ravel()),
    ):
        if not np.allclose(part(label_affine), part(image_affine), rtol=0, atol=affine_atol * scale):
            parts.append(f"{name} {_vector(part(label_affine))} vs the image's {_vector(part(image_affine))}{unit}")
    if not parts:
        parts = [f"affine {_vector(label_affine[:3].ravel())} vs the image's {_vector(image_affine[:3].ravel())}"]
    return [f"label map geometry differs from the image's: {', '.join(parts)}; expected the image's grid"]


def load_segmentation_datalist(
    path: str | Path,
    key: str = "training",
    base_dir: str | Path | None = None,
    num_classes: int | None = None,
    check_images: bool = True,
    require_foreground: bool = True,
    affine_atol: float = 1e-3,
) -> list[dict]:
    """Read a segmentation datalist, resolve image and label map paths, and check every pair before anything trains.

    Args:
        path: a ``.json`` (decathlon style) or ``.csv`` datalist (``image``, ``label`` and optionally ``split``).
        key: the split to read (``"training"``, ``"validation"``, ``"test"``); see
            :func:`~monai_sre.data.datalist.load_classification_datalist`.
        base_dir: folder that relative paths start from; defaults to the datalist's folder.
        num_classes: if given, label values must lie in ``0..num_classes-1``.
        check_images: read every image (:func:`~monai_sre.data.checks.check_volumes`, one channel) and every label
            map completely now, and compare their grids and the label values; ``False`` only checks that both exist.
        require_foreground: a label map must have a voxel > 0.
        affine_atol: largest difference allowed between the voxel-to-world affines of a label map and its image
            (both in RAS), as a fraction of the image's largest voxel size (direction cosines: as is).

    Returns:
        dicts with absolute ``image`` and ``label`` paths and any other fields.

    Raises:
        FileNotFoundError: the datalist is missing.
        ValueError: no datalist given, a malformed or empty one; or entries that cannot be used: one message lists
            each with its number, its image and label map, and every reason (missing key or file, truncated or not
            one 3D volume, another grid, fractional or out-of-range label values, no foreground).
    """
    check_positive_int("num_classes", num_classes, allow_none=True)
    path, base, entries = _open_datalist(path, key, base_dir)
    items, problems, names = [], {}, {}
    for index, entry in enumerate(entries):
        if "image" not in entry or "label" not in entry:
            problems[index] = [f"needs 'image' and 'label', got {sorted(entry)}"]
            continue
        image, label = (Path(str(entry[k])) for k in ("image", "label"))
        image, label = (p if p.is_absolute() else base / p for p in (image, label))
        names[index] = f"image '{image}', label '{label}': "
        pair = {"image": image, "label": label}
        problems[index] = [] if check_images else [f"{k} not found" for k, p in pair.items() if not p.exists()]
        items.append((index, {**entry, "image": str(image), "label": str(label)}))
    if check_images:
        reasons = dict(check_volumes([item for _, item in items], channels=1, on_error="return").bad)
        labels, grids = {}, {}
        for index, item in items:
            image, label = item["image"], item["label"]
            if label not in labels:  # each file is read once
                labels[label] = _label_map(Path(label), num_classes, require_foreground)
            label_problems, label_grid = labels[label]
            problems[index] += [f"image: {reasons[image]}"] if image in reasons else []
            problems[index] += label_problems
            if label_grid is not None and image not in reasons:
                grids[image] = grids[image] if image in grids else _image_grid(Path(image))
                problems[index] += _grid_problems(label_grid, grids[image], affine_atol)
    _raise_for_bad_entries(path, key, len(entries), problems, names)
    return [item for _, item in items]

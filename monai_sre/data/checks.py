# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Full checks that image volumes can be used, run before the first training or inference step.

:func:`~monai_sre.data.readers.check_image_readable` reads a header only, so a truncated ``.nii.gz`` whose header
still reads passes it and then stops a run half way with an ``EOFError`` that names no file. :func:`check_volume`
reads every voxel of one image and :func:`check_volumes` of many, and they name each file that cannot be used and
why: missing, empty, text, truncated or damaged, not a volume (2D, a single slice, 4D or multi-component when one
channel is expected), non-finite or constant intensities, or a DICOM series folder with several series, damaged
slices, missing slices or mixed orientations.

NIfTI files are read with nibabel, as MONAI's ``LoadImage`` reads them by default: ITK (SimpleITK's and MONAI's
``ITKReader``) reads a truncated NIfTI file without an error and fills the missing voxels with garbage. Other files
are read with SimpleITK, and a folder as a DICOM series.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from monai.utils import optional_import

from monai_sre.data.readers import IMAGE_SUFFIXES, _sitk

__all__ = ["VolumeCheck", "VolumeInfo", "check_volume", "check_volumes"]

_FORMATS = {
    ".nii.gz": "NIfTI",
    ".nii": "NIfTI",
    ".nrrd": "NRRD",
    ".nhdr": "NRRD",
    ".mha": "MetaImage",
    ".mhd": "MetaImage",
    ".dcm": "DICOM",
}
# formats whose header is text: a text file with one of these names is not necessarily a mistaken one
_TEXT_HEADERS = (b"NRRD", b"ObjectType", b"NDims")
_NOT_FOUND = "not found; expected an image file or a folder holding one DICOM series"
# slices of a series are evenly spaced when every gap is within this fraction of the median gap
_SPACING_TOLERANCE = 0.1


@dataclass(frozen=True)
class VolumeInfo:
    """What :func:`check_volume` found in a usable image.

    Attributes:
        path: the file or DICOM series folder.
        shape: the spatial size, voxel axes in x, y, z order (as ``SimpleITKReader`` and MONAI's readers give them).
        channels: channels (or time points) per voxel: the size of a 4th axis, or components of a vector image.
        spacing: voxel size along each spatial axis (mm).
        dtype: the stored voxel type (NumPy name).
        minimum: the smallest finite intensity.
        maximum: the largest finite intensity.
    """

    path: str
    shape: tuple[int, ...]
    channels: int
    spacing: tuple[float, ...]
    dtype: str
    minimum: float
    maximum: float


class VolumeCheck(NamedTuple):
    """What :func:`check_volumes` found: the usable items (as given, in order) and each unusable one.

    Attributes:
        good: the items whose image can be used, unchanged and in their input order.
        bad: ``(path, reason)`` for each item whose image cannot be used, in input order.
    """

    good: list
    bad: list[tuple[str, str]]


class _Unusable(Exception):
    """Why an image cannot be used (internal: :func:`check_volume` and :func:`check_volumes` turn it into errors)."""


def _format(path: Path) -> str:
    name = path.name.lower()
    for suffix, format_name in _FORMATS.items():
        if name.endswith(suffix):
            return format_name
    return path.suffix.lstrip(".").upper() if name.endswith(IMAGE_SUFFIXES) else ""


def _expected_file(path: Path) -> str:
    format_name = _format(path)
    if format_name:
        return f"a complete {format_name} file"
    return f"an image file ({', '.join(IMAGE_SUFFIXES)}) or a folder holding one DICOM series"


def _text_start(path: Path) -> str | None:
    """The first line of ``path`` if it holds text (not a binary image or a compressed stream), else ``None``."""
    with path.open("rb") as handle:
        head = handle.read(256)
    if not head or b"\x00" in head or head.startswith(_TEXT_HEADERS):
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if sum(c.isprintable() or c.isspace() for c in text) < 0.95 * len(text):
        return None
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:40] + ("..." if len(line) > 40 else "")


def _clean(message: str) -> str:
    """One line from a reader's error message, without ITK's source locations and object addresses."""
    lines = [line.strip() for line in str(message).strip().splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("Exception thrown in SimpleITK")]
    text = " ".join(lines)
    text = re.sub(r"(sitk::ERROR|ITK ERROR):\s*(\w+\(0x[0-9a-f]+\):\s*)?", "", text)
    if "[nrrd]" in text:  # teem nests its messages: the innermost one says what went wrong
        text = re.sub(r"^\s*_?\w+:\s*", "", text.rsplit("[nrrd]", 1)[-1])
    return text.strip()


def _unreadable(path: Path, error: Exception) -> _Unusable:
    """The reason a file that exists could not be read, with what was expected."""
    expected = _expected_file(path)
    if path.stat().st_size == 0:
        return _Unusable(f"empty (0 bytes); expected {expected}")
    text = _text_start(path)
    if text is not None:
        return _Unusable(f"text, not image data (it starts {text!r}); expected {expected}")
    detail = _clean(str(error)) if str(error).strip() else type(error).__name__
    if isinstance(error, EOFError) or re.search(r"expected \d+ bytes|got only \d+", detail, re.IGNORECASE):
        return _Unusable(f"truncated: its image data end early ({detail}); expected {expected}")
    if "Unable to determine ImageIO reader" in detail or "Cannot work out file type" in detail:
        return _Unusable(f"not an image that any reader recognises (damaged, or of another type); expected {expected}")
    if "No such file or directory" in detail or "does not exist" in detail:
        # ITK's MetaImage reader says so when the data cannot be read: truncated, or a missing .raw/.img data file
        return _Unusable(
            f"image data unreadable (truncated, damaged, or its data file is missing); expected {expected}"
        )
    return _Unusable(f"unreadable ({detail}); expected {expected}")


class _Read(NamedTuple):
    data: np.ndarray  # the stored voxels (NIfTI: before scaling by slope and intercept)
    sizes: list[int]  # every axis but components, spatial ones first (x, y, z, ...)
    components: int
    spacing: tuple[float, ...]
    owner: object  # what ``data`` may be a view of
    slope: float = 1.0
    inter: float = 0.0


def _read_nifti(path: Path) -> _Read:
    nib, _ = optional_import("nibabel")
    try:
        image = nib.load(str(path))
        proxy = image.dataobj
        # every voxel is read and decompressed here (so truncation shows), in the stored type: scaling an int16 CT
        # to float64 would take 4 times the memory
        data = proxy.get_unscaled() if hasattr(proxy, "get_unscaled") else np.asanyarray(proxy)
    except Exception as error:  # nibabel and gzip raise many types for damaged files; each is reported by name
        raise _unreadable(path, error) from None
    sizes = list(data.shape)
    if len(sizes) == 5 and sizes[3] == 1:  # NIfTI vector images: x, y, z, t=1, components
        sizes = sizes[:3] + sizes[4:]
    spacing = tuple(float(z) for z in image.header.get_zooms())
    slope, inter = (float(getattr(proxy, name, default)) for name, default in (("slope", 1.0), ("inter", 0.0)))
    return _Read(data, sizes, 1, spacing, image, slope, inter)


def _is_dicom(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(132)[128:] == b"DICM"


def _series_geometry(reader, count: int) -> None:
    """Raise if the slices of a series differ in orientation or are unevenly spaced (a gap: missing slices)."""

    def vectors(tag: str) -> list[np.ndarray] | None:
        if not all(reader.HasMetaDataKey(index, tag) for index in range(count)):
            return None
        try:
            return [np.asarray([float(v) for v in reader.GetMetaData(i, tag).split("\\")]) for i in range(count)]
        except ValueError:
            return None

    orientations, positions = vectors("0020|0037"), vectors("0020|0032")
    if count < 2 or orientations is None or positions is None or len(orientations[0]) != 6:
        return
    distinct = 1 + sum(not np.allclose(o, orientations[0], atol=1e-4) for o in orientations[1:])
    if distinct > 1:
        raise _Unusable(
            f"a DICOM series whose {count} slices have {distinct} different orientations (Image Orientation "
            "Patient differs); expected one orientation for every slice"
        )
    normal = np.cross(orientations[0][:3], orientations[0][3:])
    gaps = np.abs(np.diff([float(normal @ p[:3]) for p in positions]))
    median = float(np.median(gaps))
    if np.any(np.abs(gaps - median) > max(_SPACING_TOLERANCE * median, 1e-3)):
        raise _Unusable(
            f"a DICOM series whose {count} slices are unevenly spaced ({gaps.min():.2f} to {gaps.max():.2f} mm "
            f"apart, median {median:.2f} mm): slices are missing or duplicated; expected evenly spaced slices"
        )


def _read_series(folder: Path):
    sitk = _sitk()
    expected = "a folder holding one DICOM series"
    series = sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder))
    if not series:
        raise _Unusable(f"no DICOM series in the folder; expected {expected} (or an image file)")
    if len(series) > 1:
        counts = [len(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), uid)) for uid in series]
        raise _Unusable(
            f"{len(series)} DICOM series in one folder ({', '.join(map(str, counts))} slices); expected one"
        )
    files = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), series[0])
    in_series = {Path(name).name for name in files}
    # GDCM leaves out slices it cannot parse (a truncated file) without a word: find DICOM files it left out
    dropped = sorted(
        p.name
        for p in folder.iterdir()
        if p.is_file() and p.name not in in_series and p.name.upper() != "DICOMDIR" and _is_dicom(p)
    )
    if dropped:
        names = ", ".join(f"'{name}'" for name in dropped)
        raise _Unusable(
            f"DICOM file(s) {names} in the folder cannot be read as slices of its series (damaged or truncated); "
            "expected every slice readable"
        )
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(files)
    reader.MetaDataDictionaryArrayUpdateOn()
    try:
        image = reader.Execute()
    except RuntimeError as error:
        raise _Unusable(f"unreadable as a DICOM series ({_clean(str(error))}); expected {expected}") from None
    _series_geometry(reader, len(files))
    return image


def _read_sitk(path: Path) -> _Read:
    sitk = _sitk()
    if path.is_dir():
        image = _read_series(path)
    else:
        try:
            image = sitk.ReadImage(str(path))
        except RuntimeError as error:
            raise _unreadable(path, error) from None
    data = sitk.GetArrayViewFromImage(image)  # a view: the image is returned too, to outlive it
    return _Read(data, list(image.GetSize()), image.GetNumberOfComponentsPerPixel(), tuple(image.GetSpacing()), image)


def _size(sizes: Sequence[int]) -> str:
    return "x".join(str(s) for s in sizes)


def _layout(sizes: list[int], components: int, spatial_dims: int, channels: int | None) -> list[str]:
    """Problems with the image's axes: too few, too many, a flat axis, or another number of channels."""
    described = _size(sizes) + (f" with {components} components per voxel" if components > 1 else "")
    wanted = f"a {spatial_dims}D volume" + (f" with {channels} channels" if channels not in (None, 1) else "")
    wanted = f"a single {spatial_dims}D volume" if channels == 1 else wanted
    if len(sizes) < spatial_dims:
        return [f"a {len(sizes)}D image ({described}); expected {wanted}"]
    extra = [s for s in sizes[spatial_dims:] if s != 1]
    if len(extra) > 1 or (extra and components > 1):
        return [f"a {len(sizes)}D image ({described}); expected {wanted}"]
    found = extra[0] if extra else components
    problems = []
    if channels is not None and found != channels:
        kind = f"a {len(sizes)}D image" if extra else "a multi-component image"
        if found == 1:
            kind = "a single-channel image"
        problems.append(f"{found} channels or time points ({kind}, {described}); expected {wanted}")
    flat = [axis for axis, size in enumerate(sizes[:spatial_dims]) if size == 1]
    if flat:
        what = "a single slice" if len(flat) == 1 and spatial_dims == 3 else "flat"
        problems.append(
            f"{what} ({_size(sizes[:spatial_dims])} voxels: one along axis {', '.join(map(str, flat))}); "
            f"expected a {spatial_dims}D volume with more than one voxel along each axis"
        )
    return problems


def _values(read: _Read, allow_constant: bool) -> tuple[list[str], float, float]:
    """Problems with the intensities (non-finite, constant) and the finite minimum and maximum (scaled)."""
    data = read.data
    if data.dtype.fields is not None or data.dtype.kind not in "biufc":
        return [f"voxels of type {data.dtype} (e.g. RGB); expected scalar intensities"], np.nan, np.nan
    problems = []
    values = data
    if data.dtype.kind in "fc":
        finite = np.isfinite(data)
        finite_count = int(np.count_nonzero(finite))
        if finite_count < data.size:
            nan = int(np.count_nonzero(np.isnan(data)))
            infinite = data.size - finite_count - nan
            counts = " and ".join(f"{n:,} {kind}" for n, kind in ((nan, "NaN"), (infinite, "infinite")) if n)
            problems.append(f"{counts} values among its {data.size:,} voxels; expected finite intensities")
            values = data[finite]
    if values.size == 0:
        return problems, np.nan, np.nan
    minimum, maximum = sorted(read.slope * float(v.real) + read.inter for v in (np.min(values), np.max(values)))
    if minimum == maximum and not allow_constant:
        problems.append(f"blank: all its {values.size:,} finite voxels are {minimum:g}; expected varying intensities")
    return problems, minimum, maximum


def _read(path: Path) -> _Read:
    """Read every voxel of ``path`` (nibabel for NIfTI, else SimpleITK); raise :class:`_Unusable` if it cannot."""
    if not path.exists():
        raise _Unusable(_NOT_FOUND)
    try:
        return _read_nifti(path) if path.is_file() and _format(path) == "NIfTI" else _read_sitk(path)
    except OSError as error:  # no permission to read, a broken link, ...
        expected = _expected_file(path) if path.is_file() else "a folder holding one DICOM series"
        raise _Unusable(f"unreadable ({error}); expected {expected}") from None


def _inspect(path: Path, spatial_dims: int, channels: int | None, allow_constant: bool) -> VolumeInfo:
    """Read every voxel of ``path``; raise :class:`_Unusable` with each reason it cannot be used."""
    read = _read(path)
    problems = _layout(read.sizes, read.components, spatial_dims, channels)
    value_problems, minimum, maximum = _values(read, allow_constant)
    problems += value_problems
    if problems:
        raise _Unusable("; ".join(problems))
    extra = [s for s in read.sizes[spatial_dims:] if s != 1]
    return VolumeInfo(
        path=str(path),
        shape=tuple(int(s) for s in read.sizes[:spatial_dims]),
        channels=int(extra[0] if extra else read.components),
        spacing=tuple(float(s) for s in read.spacing[:spatial_dims]),
        dtype=str(read.data.dtype),
        minimum=minimum,
        maximum=maximum,
    )


def check_volume(
    path: str | Path, spatial_dims: int = 3, channels: int | None = 1, allow_constant: bool = False
) -> VolumeInfo:
    """Read a whole image (every voxel, not only its header) and check that it can be used as one volume.

    A file is read with nibabel if it is NIfTI (as MONAI's ``LoadImage`` does; ITK reads truncated NIfTI without
    an error), otherwise with SimpleITK; a folder is read as one DICOM series.

    Args:
        path: an image file (NIfTI, NRRD, MHA/MHD, DICOM, ...) or a folder holding one DICOM series.
        spatial_dims: the number of spatial axes expected (3 for volumes).
        channels: channels expected: the size of an axis after the spatial ones (a 4D file) or the components of a
            vector image; ``None`` accepts any number.
        allow_constant: accept an image whose voxels all have one value (by default a blank image is an error).

    Returns:
        a :class:`VolumeInfo` with the spatial shape, channels, spacing, voxel type and finite intensity range.

    Raises:
        FileNotFoundError: nothing exists at ``path``.
        ValueError: the image cannot be used; the message names ``path``, what is wrong and what was expected:
            empty, text, truncated or damaged, 2D, a single slice, 4D (or multi-component) when ``channels``
            differs, NaN or infinite voxels (counted), all voxels one value, or a DICOM folder with no series,
            several series, damaged slices, missing slices (uneven spacing) or mixed orientations.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"image not found: '{path}'; expected an image file or a folder holding one DICOM series."
        )
    try:
        return _inspect(path, spatial_dims, channels, allow_constant)
    except _Unusable as problem:
        raise ValueError(f"cannot use image '{path}': {problem}.") from None


def _describe(bad: Sequence[tuple[str, str]], total: int) -> str:
    """One message listing every unusable volume."""
    lines = "\n".join(f"  - '{path}': {reason}" for path, reason in bad)
    return f"{len(bad)} of {total} volume{'s' if total != 1 else ''} cannot be used:\n{lines}"


def check_volumes(
    items: Sequence[str | Path | Mapping] | str | Path,
    key: str = "image",
    spatial_dims: int = 3,
    channels: int | None = 1,
    allow_constant: bool = False,
    on_error: str = "raise",
) -> VolumeCheck:
    """Read every image of ``items`` completely (see :func:`check_volume`) and collect every one that cannot be used.

    Args:
        items: paths, or dicts (a datalist) whose ``key`` holds the path; a single path is one item.
        key: the dict key of the image path.
        spatial_dims: the number of spatial axes expected.
        channels: channels expected per image; ``None`` accepts any number.
        allow_constant: accept images whose voxels all have one value.
        on_error: ``"raise"``: one ``ValueError`` listing every unusable image; ``"return"``: report them in
            :attr:`VolumeCheck.bad` so that the usable ones can still be used.

    Returns:
        a :class:`VolumeCheck` ``(good, bad)``: the usable items, unchanged and in order, and ``(path, reason)`` for
        each other one (missing files included). With ``"raise"``, ``bad`` is empty.

    Raises:
        ValueError: an item has no ``key``; or, with ``on_error="raise"``, any image cannot be used: one message
            lists each with its reason (``"2 of 12 volumes cannot be used: - 'a.nii.gz': ..."``).
    """
    if on_error not in ("raise", "return"):
        raise ValueError(f"on_error must be 'raise' or 'return', got {on_error!r}.")
    items = [items] if isinstance(items, (str, Path)) else list(items)
    paths = []
    for index, item in enumerate(items):  # every item names an image before any is read
        if isinstance(item, Mapping) and key not in item:
            raise ValueError(f"item {index} has no '{key}' (the image path); it has {sorted(item)}.")
        paths.append(str(item[key]) if isinstance(item, Mapping) else str(item))
    good, bad, reasons = [], [], {}
    for item, path in zip(items, paths):
        if path not in reasons:  # read each image once
            try:
                _inspect(Path(path), spatial_dims, channels, allow_constant)
                reasons[path] = None
            except _Unusable as problem:
                reasons[path] = str(problem)
        if reasons[path] is None:
            good.append(item)
        else:
            bad.append((path, reasons[path]))
    if bad and on_error == "raise":
        raise ValueError(_describe(bad, len(items)) + ".")
    return VolumeCheck(good, bad)

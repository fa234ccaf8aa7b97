# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Classification datalists of clinical volumes (JSON in MONAI's decathlon style, or CSV), checked early.

JSON::

    {"training": [{"image": "sub-01/t1.nii.gz", "label": 0}, ...], "validation": [...], "test": [...]}

CSV (a header row; ``image`` and ``label`` columns, any others kept as strings)::

    image,label,subject
    sub-01/t1.nii.gz,0,sub-01

Relative paths resolve against ``base_dir`` (default: the datalist's folder). An ``image`` may be a file
(NIfTI, NRRD, MHA, DICOM) or a folder holding one DICOM series. :func:`load_classification_datalist` checks
every entry before anything trains: the file exists, its header reads, the label is an integer in range.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from monai_sre.data.readers import IMAGE_SUFFIXES, check_image_readable

__all__ = ["list_volumes", "load_classification_datalist"]


def _entries(path: Path, key: str, columns: tuple[str, ...] = ("image", "label")) -> list[dict]:
    if path.suffix.lower() == ".csv":
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        if rows and not set(columns) <= set(rows[0]):
            needed = " and ".join(f"'{c}'" for c in columns)
            plural = "s" if len(columns) > 1 else ""
            raise ValueError(f"datalist '{path}' needs {needed} column{plural}, got {list(rows[0])}.")
        return rows
    try:
        content = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"datalist '{path}' is not valid JSON: {error}") from error
    if key not in content:
        raise ValueError(f"datalist '{path}' has no key '{key}'; it has {sorted(content)}.")
    return [dict(item) for item in content[key]]


def load_classification_datalist(
    path: str | Path,
    key: str = "training",
    base_dir: str | Path | None = None,
    num_classes: int | None = None,
    check_images: bool = True,
) -> list[dict]:
    """Read a datalist, resolve image paths, and check every entry.

    Args:
        path: a ``.json`` (decathlon style) or ``.csv`` datalist.
        key: the JSON list to read (``"training"``, ``"validation"``, ...); ignored for CSV.
        base_dir: folder that relative image paths start from; defaults to the datalist's folder.
        num_classes: if given, labels must lie in ``0..num_classes-1``.
        check_images: read every image header now (not only check that it exists).

    Returns:
        dicts with an absolute ``image`` path, an int ``label`` and any other fields.

    Raises:
        FileNotFoundError: the datalist or an image is missing (named, with its entry number).
        ValueError: a malformed datalist, a bad label, or an unreadable image (named, with its entry number).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"datalist not found: '{path}'.")
    base = Path(base_dir) if base_dir is not None else path.parent
    items = []
    for index, entry in enumerate(_entries(path, key)):
        where = f"entry {index} of '{path}'"
        if "image" not in entry or "label" not in entry:
            raise ValueError(f"{where} needs 'image' and 'label', got {sorted(entry)}.")
        try:
            label = int(str(entry["label"]).strip())
        except ValueError:
            raise ValueError(f"{where}: label must be an integer, got {entry['label']!r}.") from None
        if label < 0 or (num_classes is not None and label >= num_classes):
            bound = f"0..{num_classes - 1}" if num_classes is not None else ">= 0"
            raise ValueError(f"{where}: label {label} is outside {bound}.")
        image = Path(str(entry["image"]))
        image = image if image.is_absolute() else base / image
        if not image.exists():
            raise FileNotFoundError(f"{where}: image not found: '{image}'.")
        if check_images:
            try:
                check_image_readable(image)
            except ValueError as error:
                raise ValueError(f"{where}: {error}") from error
        items.append({**entry, "image": str(image), "label": label})
    if not items:
        raise ValueError(f"datalist '{path}' ({key}) has no entries.")
    return items


def list_volumes(source: str | Path, key: str = "test") -> list[dict]:
    """Volumes to run inference on: every image file (a suffix in :data:`~monai_sre.data.readers.IMAGE_SUFFIXES`)
    and DICOM series sub-folder in a folder, or the entries of a JSON/CSV datalist (labels optional). Each is
    checked now; returns ``[{"image": path, ...}, ...]``.

    Raises:
        FileNotFoundError: ``source`` does not exist.
        ValueError: it holds no volume, or a volume cannot be read (named).
    """
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"inference input not found: '{source}' (a folder of volumes or a datalist).")
    if source.is_file():
        entries = _entries(source, key, columns=("image",))  # labels are optional for inference
        items = []
        for index, entry in enumerate(entries):
            if "image" not in entry:
                raise ValueError(f"entry {index} of '{source}' has no 'image'.")
            image = Path(str(entry["image"]))
            items.append({**entry, "image": str(image if image.is_absolute() else source.parent / image)})
    else:
        files = sorted(p for p in source.iterdir() if p.is_file() and p.name.lower().endswith(IMAGE_SUFFIXES))
        folders = sorted(p for p in source.iterdir() if p.is_dir())
        items = [{"image": str(p)} for p in files + folders]
    if not items:
        raise ValueError(f"no volumes in '{source}' (looked for {', '.join(IMAGE_SUFFIXES)} files and DICOM folders).")
    for item in items:
        check_image_readable(item["image"])
    return items

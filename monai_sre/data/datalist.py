# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Classification datalists of clinical volumes (JSON in MONAI's decathlon style, or CSV), checked early.

JSON::

    {"training": [{"image": "sub-01/t1.nii.gz", "label": 0}, ...], "validation": [...], "test": [...]}

CSV (a header row; ``image`` and ``label`` columns, any others kept as strings)::

    image,label,subject
    sub-01/t1.nii.gz,0,sub-01

A CSV with a ``split`` column holds every split in one file: the rows of ``key`` are those whose split is that
key (``training``, ``validation``, ``test``) or its short form (``train``, ``val``); without one, every row is
read whatever the key.

Relative paths resolve against ``base_dir`` (default: the datalist's folder). An ``image`` may be a file
(NIfTI, NRRD, MHA, DICOM) or a folder holding one DICOM series. :func:`load_classification_datalist` checks
every entry before anything trains: the label is an integer in range, and the image exists and reads completely as
one volume (:func:`~monai_sre.data.checks.check_volume`); one error lists every entry that fails. :func:`list_volumes`
lists and checks the inputs of inference, and :func:`split_readable_volumes` separates the usable ones from the
others so that a bad file does not cost the predictions of the good ones.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Sequence
from pathlib import Path

from monai_sre.arguments import check_positive_int
from monai_sre.data.checks import VolumeCheck, _describe, check_volumes
from monai_sre.data.readers import IMAGE_SUFFIXES

__all__ = ["class_names", "list_volumes", "load_classification_datalist", "split_readable_volumes"]

logger = logging.getLogger(__name__)


def _entries(path: Path, key: str, columns: tuple[str, ...] = ("image", "label")) -> list[dict]:
    if path.suffix.lower() == ".csv":
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        if rows and not set(columns) <= set(rows[0]):
            needed = " and ".join(f"'{c}'" for c in columns)
            plural = "s" if len(columns) > 1 else ""
            raise ValueError(f"datalist '{path}' needs {needed} column{plural}, got {list(rows[0])}.")
        if rows and "split" in rows[0]:
            return _rows_of_split(path, rows, key)
        return rows
    try:
        content = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"datalist '{path}' is not valid JSON: {error}") from error
    if key not in content:
        raise ValueError(f"datalist '{path}' has no key '{key}'; it has {sorted(content)}.")
    return [dict(item) for item in content[key]]


# a CSV ``split`` column may name the decathlon keys or these common short forms
_SPLIT_NAMES = {
    "training": {"training", "train"},
    "validation": {"validation", "val", "valid"},
    "test": {"test", "testing"},
}


def _rows_of_split(path: Path, rows: list[dict], key: str) -> list[dict]:
    names = _SPLIT_NAMES.get(key, {key})
    splits = [r["split"].strip().lower() for r in rows]
    unknown = sorted(set(splits) - set().union(*_SPLIT_NAMES.values(), {key}))
    if unknown:
        raise ValueError(
            f"datalist '{path}': unknown value(s) {unknown} in its 'split' column; expected training/train, "
            "validation/val or test."
        )
    return [r for r, split in zip(rows, splits) if split in names]


def _label(value, num_classes: int | None) -> tuple[int | None, str | None]:
    """The label as an int, or ``None`` and why it is not one."""
    try:
        label = int(str(value).strip())
    except ValueError:
        return None, f"label must be an integer, got {value!r}"
    if label < 0 or (num_classes is not None and label >= num_classes):
        bound = f"0..{num_classes - 1}" if num_classes is not None else ">= 0"
        return None, f"label {label} is outside {bound}"
    return label, None


def _open_datalist(path: str | Path | None, key: str, base_dir: str | Path | None) -> tuple[Path, Path, list[dict]]:
    """The datalist's path, the folder relative paths start from, and the entries of ``key`` (at least one)."""
    if path is None or str(path) == "":
        raise ValueError("no datalist given: pass --datalist PATH (a decathlon-style JSON or a CSV with image,label).")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"datalist not found: '{path}'.")
    entries = _entries(path, key)
    if not entries:
        raise ValueError(f"datalist '{path}' ({key}) has no entries.")
    return path, Path(base_dir) if base_dir is not None else path.parent, entries


def _raise_for_bad_entries(
    path: Path, key: str, total: int, problems: dict[int, list[str]], names: dict[int, str] | None = None
) -> None:
    """One ``ValueError`` listing every entry with problems: its number, its files (``names``) and every reason."""
    bad = [(index, reasons) for index, reasons in problems.items() if reasons]
    if not bad:
        return
    names = names or {}
    lines = "\n".join(f"  - entry {index}: {names.get(index, '')}{'; '.join(reasons)}" for index, reasons in bad)
    entries = "entry" if total == 1 else "entries"
    raise ValueError(f"{len(bad)} of {total} {entries} of datalist '{path}' ({key}) cannot be used:\n{lines}.")


def load_classification_datalist(
    path: str | Path,
    key: str = "training",
    base_dir: str | Path | None = None,
    num_classes: int | None = None,
    check_images: bool = True,
    channels: int | None = 1,
) -> list[dict]:
    """Read a datalist, resolve image paths, and check every entry before anything trains.

    Args:
        path: a ``.json`` (decathlon style) or ``.csv`` datalist.
        key: the JSON list to read (``"training"``, ``"validation"``, ...); ignored for CSV.
        base_dir: folder that relative image paths start from; defaults to the datalist's folder.
        num_classes: if given, labels must lie in ``0..num_classes-1``.
        check_images: read every image completely now (:func:`~monai_sre.data.checks.check_volume`: every voxel,
            not only the header); ``False`` only checks that each image exists.
        channels: channels expected per image (``None``: any); see :func:`~monai_sre.data.checks.check_volume`.

    Returns:
        dicts with an absolute ``image`` path, an int ``label`` and any other fields.

    Raises:
        FileNotFoundError: the datalist is missing.
        ValueError: a malformed datalist; or entries with a bad label, a missing image or an image that cannot be
            used (truncated, not a 3D volume, NaN, ...): one message lists every such entry with its number, its
            image and each reason.
    """
    path, base, entries = _open_datalist(path, key, base_dir)
    items, problems = [], {}
    for index, entry in enumerate(entries):
        if "image" not in entry or "label" not in entry:
            problems[index] = [f"needs 'image' and 'label', got {sorted(entry)}"]
            continue
        label, reason = _label(entry["label"], num_classes)
        problems[index] = [reason] if reason else []
        image = Path(str(entry["image"]))
        image = image if image.is_absolute() else base / image
        if not check_images and not image.exists():
            problems[index].append(f"image not found: '{image}'")
        items.append((index, {**entry, "image": str(image), "label": label}))
    if check_images:
        reasons = dict(check_volumes([item for _, item in items], channels=channels, on_error="return").bad)
        for index, item in items:
            if item["image"] in reasons:
                problems[index].append(f"image '{item['image']}': {reasons[item['image']]}")
    _raise_for_bad_entries(path, key, len(entries), problems)
    return [item for _, item in items]


def _inference_items(source: Path, key: str) -> list[dict]:
    """The volumes a folder or datalist names (not yet checked)."""
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
        visible = sorted(p for p in source.iterdir() if not p.name.startswith("."))  # not .DS_Store, .git, ...
        files = [p for p in visible if p.is_file() and p.name.lower().endswith(IMAGE_SUFFIXES)]
        folders = [p for p in visible if p.is_dir()]
        items = [{"image": str(p)} for p in files + folders]
    if not items:
        raise ValueError(f"no volumes in '{source}' (looked for {', '.join(IMAGE_SUFFIXES)} files and DICOM folders).")
    return items


def split_readable_volumes(source: str | Path, key: str = "test", channels: int | None = 1) -> VolumeCheck:
    """The inputs of inference (as :func:`list_volumes` finds them), each read completely, split into the usable
    ones and the others, so that the usable ones can be predicted and the others reported.

    Args:
        source: a folder of volumes (files and DICOM series sub-folders) or a JSON/CSV datalist (labels optional).
        key: the JSON list to read; ignored for CSV and folders.
        channels: channels expected per image (``None``: any).

    Returns:
        a :class:`~monai_sre.data.checks.VolumeCheck` ``(good, bad)``: ``[{"image": path, ...}, ...]`` for the usable
        volumes, and ``(path, reason)`` for each other one.

    Raises:
        FileNotFoundError: ``source`` does not exist.
        ValueError: it names no volume, or an entry of a datalist has no ``image``.
    """
    if source is None or str(source) == "":
        raise ValueError("no inference input given: pass --dataset_dir, a folder of volumes or a datalist.")
    items = _inference_items(Path(source), key)
    return check_volumes(items, channels=channels, on_error="return")


def list_volumes(
    source: str | Path, key: str = "test", on_error: str = "raise", channels: int | None = 1
) -> list[dict]:
    """Volumes to run inference on: every image file (a suffix in :data:`~monai_sre.data.readers.IMAGE_SUFFIXES`)
    and DICOM series sub-folder in a folder (names starting with ``.`` aside), or the entries of a JSON/CSV datalist
    (labels optional). Each is read completely now (:func:`~monai_sre.data.checks.check_volume`).

    Args:
        source: a folder of volumes or a datalist.
        key: the JSON list to read; ignored for CSV and folders.
        on_error: ``"raise"``: one ``ValueError`` lists every volume that cannot be used, and nothing runs;
            ``"skip"``: log that list as a warning and return the usable volumes (an error if there are none).
            :func:`split_readable_volumes` returns both lists.
        channels: channels expected per image (``None``: any).

    Returns:
        ``[{"image": path, ...}, ...]``, in folder (sorted) or datalist order.

    Raises:
        FileNotFoundError: ``source`` does not exist.
        ValueError: it holds no volume, or volumes cannot be used (each named with its reason).
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}.")
    good, bad = split_readable_volumes(source, key, channels)
    if bad:
        message = _describe(bad, len(good) + len(bad))
        if on_error == "raise" or not good:
            raise ValueError(f"{message}.")
        logger.warning("%s.\nThey are skipped; the other %d are used.", message, len(good))
    return good


def _datalist_labels(datalist: str | Path | None) -> list[str] | None:
    """The class names of a decathlon-style JSON datalist's ``labels`` (``{"0": "background", "1": ...}``), if any."""
    if datalist is None or Path(datalist).suffix.lower() != ".json" or not Path(datalist).is_file():
        return None
    labels = json.loads(Path(datalist).read_text()).get("labels")
    if labels is None:
        return None
    if isinstance(labels, list):
        return [str(n) for n in labels]
    try:
        indices = sorted(int(k) for k in labels)
    except (TypeError, ValueError):
        indices = None
    if not isinstance(labels, dict) or indices != list(range(len(labels))):
        raise ValueError(f"datalist '{datalist}': 'labels' must map the class indices 0..N-1 to names, got {labels}.")
    return [str(labels[k]) for k in sorted(labels, key=int)]


def class_names(
    names: Sequence[str] | str | Path | None, num_classes: int | None, datalist: str | Path | None = None
) -> list[str]:
    """The class names of a model, in label order, checked against ``num_classes``.

    Args:
        names: a list of names; a path to a JSON list or to a text file with one name per line; or ``None`` for the
            names in ``datalist``'s ``labels`` (MONAI's decathlon ``dataset.json`` field), else ``class_0``,
            ``class_1``, ...
        num_classes: the number of classes; may be ``None`` when the names are given or come from ``datalist``.
        datalist: a decathlon-style JSON datalist whose ``labels`` name the classes when ``names`` is ``None``.

    Raises:
        ValueError: no names and ``num_classes`` missing or not positive, or the names are not ``num_classes``
            distinct strings (the message gives both).
    """
    if names is None:
        names = _datalist_labels(datalist)
    if names is None:
        check_positive_int("num_classes (pass --num_classes N)", num_classes)
        return [f"class_{i}" for i in range(num_classes)]
    if isinstance(names, (str, Path)):
        source = Path(names)
        if not source.is_file():
            raise ValueError(f"class_names must be a list of names or a JSON/text file of them, got '{names}'.")
        text = source.read_text()
        names = json.loads(text) if source.suffix.lower() == ".json" else [n.strip() for n in text.splitlines()]
        names = [n for n in names if str(n).strip()]
    names = [str(n) for n in names]
    if num_classes is None:
        num_classes = len(names)
    check_positive_int("num_classes (pass --num_classes N)", num_classes)
    if len(names) != num_classes or len(set(names)) != len(names):
        raise ValueError(f"class_names must be {num_classes} distinct names (num_classes), got {names}.")
    return names

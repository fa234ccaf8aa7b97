# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Build a runnable example for a classification datalist: real volumes, the datalists and the class names.

Two examples, both from real images that can be had offline:

* tissue (the default): NIfTI crops of the embedded MNI ICBM152 2009 tissue dataset (4 classes,
  :data:`~monai_sre.data.TISSUE_CLASSES`). Each file is one 30^3 uint8 patch, intensities as stored (the 2 mm
  template's), with the 2 mm RAS affine of the stored volume moved to the patch corner, so it sits where it was
  cut. The dataset's own train/val/test splits (coronal slabs) are kept; the first ``N`` patches of each class
  in the dataset's stored (shuffled) order are taken, and the number in a file name is the patch's index in its
  split of :func:`~monai_sre.data.load_tissue_arrays`.
* lesions (``--lesions SDIST_OR_FOLDER``): crops of the five real patient volumes with lesion masks in the
  pyradiomics 3.0.1 sdist (2 brain MR, 1 breast MR, 2 lung CT), classes ``background`` and ``lesion``, written
  as NRRD with each volume's own spacing, direction and int16 intensities (nothing is resampled: the consumer's
  resampling path is exercised). A lesion crop is centred on a lesion voxel; a background crop is centred inside
  the body and holds no lesion voxel (nor any within 5 mm). Crops are about ``--crop-mm`` wide, clipped at the
  volume border. Splits are by patient, never sharing one, and rotate through the patients in the order
  :data:`FOLD_ORDER`: fold ``K`` (``--fold``, 0..4) tests patient ``K``, validates on the next one and trains on
  the other three (the segmentation example's folds: :func:`lesion_split`), so a comparison can report the mean
  over five folds. Fold 0, the default, trains on brain1, breast1 and lung1, validates on lung2 and tests on
  brain2. Get the sdist with ``pip download --no-deps --no-build-isolation pyradiomics==3.0.1``.

Layout (the same for both)::

    FOLDER/
        train/  validation/  test/           the volumes, one folder per split
        datalist.json                        decathlon style: "training", "validation", "test" lists of
                                             {"image": path relative to FOLDER, "label": int}, plus "labels"
        train.csv  validation.csv  test.csv  one CSV per split (image,label,class[,patient]): a CSV datalist
                                             has no keys, so it cannot hold several splits
        classes.json  class_names.txt        the class names in label order (a JSON list; one per line)
        NOTICE                               where the images come from, and their licence

The output is deterministic: the same bytes on every run (gzip headers carry no time stamp).

Usage::

    python scripts/build_classification_example.py --output runs/tissue_example          # 20/8/8 per class
    python scripts/build_classification_example.py --output runs/tissue_example --full   # 300/100/130
    pip download --no-deps --no-build-isolation pyradiomics==3.0.1 -d /tmp/pyradiomics
    python scripts/build_classification_example.py --output runs/lesion_example \\
        --lesions /tmp/pyradiomics/pyradiomics-3.0.1.tar.gz [--fold 2] [--per-patient 16]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gzip
import json
import shutil
import tarfile
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import nibabel as nib
import numpy as np

from monai_sre.data import TISSUE_CLASSES, load_tissue_arrays
from monai_sre.data.tissue import TISSUE_ASSET

# (dataset split, output folder and CSV name, datalist JSON key)
SPLITS = (("train", "train", "training"), ("val", "validation", "validation"), ("test", "test", "test"))
DEFAULT_PER_CLASS = (20, 8, 8)
FULL_PER_CLASS = (300, 100, 130)
LESION_CLASSES = ("background", "lesion")
# the patients in fold order: fold K tests FOLD_ORDER[K] and validates on the next one (see lesion_split)
FOLD_ORDER = ("brain2", "lung2", "brain1", "breast1", "lung1")
LESION_MARGIN_MM = 5.0
# each patient's crops are drawn with seed + its index here, whatever the fold (the order of the first examples)
SAMPLING_ORDER = ("brain1", "breast1", "lung1", "brain2", "lung2")
FORMATS = {"json": ("json",), "csv": ("csv",), "both": ("json", "csv")}
WRITTEN = ("datalist.json", "train.csv", "validation.csv", "test.csv", "classes.json", "class_names.txt", "NOTICE")


def write_nifti(array: np.ndarray, affine: np.ndarray, path: Path) -> None:
    """Write ``array`` as ``.nii.gz``, ``affine`` as qform and sform, gzip time stamp 0 (the same bytes each run)."""
    image = nib.Nifti1Image(array, affine)
    image.set_qform(affine, code="aligned")
    image.set_sform(affine, code="aligned")
    image.header.set_xyzt_units("mm")
    path.write_bytes(gzip.compress(image.to_bytes(), compresslevel=6, mtime=0))


def patch_affine(affine: np.ndarray, centre: Sequence[int], patch_size: int) -> np.ndarray:
    """The voxel-to-world affine of a ``patch_size``^3 patch cut around ``centre`` of a volume with ``affine``."""
    corner = np.asarray(centre, dtype=float) - patch_size // 2
    moved = np.array(affine, dtype=float)
    moved[:3, 3] = moved[:3, :3] @ corner + moved[:3, 3]
    return moved


def prepare_output(output: Path, overwrite: bool) -> None:
    """Create ``output``; an existing non-empty folder is refused unless ``overwrite`` (which removes what we write)."""
    if output.exists() and any(output.iterdir()):
        if not overwrite:
            raise FileExistsError(f"output folder '{output}' is not empty: choose another one or pass --overwrite.")
        for _, folder, _ in SPLITS:
            shutil.rmtree(output / folder, ignore_errors=True)
        for name in WRITTEN:
            (output / name).unlink(missing_ok=True)
    output.mkdir(parents=True, exist_ok=True)
    for _, folder, _ in SPLITS:
        (output / folder).mkdir()


def write_datalists(
    output: Path,
    rows: Mapping[str, list[dict]],
    classes: Sequence[str],
    formats: Sequence[str],
    name: str,
    description: str,
    notice: str,
) -> None:
    """Write the datalists (``rows`` by output folder), the class names and the notice.

    Args:
        output: the example's folder.
        rows: per split folder (``train``, ``validation``, ``test``), dicts with ``image`` (relative to
            ``output``), ``label`` and extra columns for the CSVs.
        classes: class names in label order.
        formats: ``"json"`` and/or ``"csv"``.
        name: the datalist's name (JSON).
        description: a line on what it holds (JSON).
        notice: the text of ``NOTICE``.
    """
    if "json" in formats:
        datalist = {"name": name, "description": description, "labels": {str(i): c for i, c in enumerate(classes)}}
        for _, folder, key in SPLITS:
            datalist[key] = [{"image": row["image"], "label": row["label"]} for row in rows[folder]]
        (output / "datalist.json").write_text(json.dumps(datalist, indent=2) + "\n")
    if "csv" in formats:
        for _, folder, _ in SPLITS:
            with (output / f"{folder}.csv").open("w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(rows[folder][0]), lineterminator="\n")
                writer.writeheader()
                writer.writerows(rows[folder])
    (output / "classes.json").write_text(json.dumps(list(classes)) + "\n")
    (output / "class_names.txt").write_text("".join(f"{c}\n" for c in classes))
    (output / "NOTICE").write_text(notice)


def build_tissue_example(
    output: str | Path,
    per_class: Sequence[int] = DEFAULT_PER_CLASS,
    formats: Sequence[str] = ("json", "csv"),
    overwrite: bool = False,
) -> dict[str, list[dict]]:
    """Write the tissue example (NIfTI patches of the embedded dataset) into ``output``.

    Args:
        output: an empty (or new) folder.
        per_class: patches per class for train, validation and test (at most 300, 100, 130).
        formats: datalists to write, ``"json"`` and/or ``"csv"``.
        overwrite: replace an earlier example in ``output``.

    Returns:
        the rows written, per split folder.

    Raises:
        ValueError: a count is negative or larger than the dataset's split holds.
        FileExistsError: ``output`` is not empty and ``overwrite`` is false.
    """
    output = Path(output)
    if len(per_class) != len(SPLITS):
        raise ValueError(f"per_class needs one count per split (train, validation, test), got {list(per_class)}.")
    arrays = load_tissue_arrays()
    patch_size = int(arrays["info"]["patch_size"])
    for (split, folder, _), count in zip(SPLITS, per_class):
        labels = arrays[f"{split}_labels"].reshape(-1)
        available = int(np.bincount(labels, minlength=len(TISSUE_CLASSES)).min())
        if not 1 <= count <= available:
            raise ValueError(f"{folder}: per-class count must be between 1 and {available}, got {count}.")
    prepare_output(output, overwrite)
    rows: dict[str, list[dict]] = {}
    for (split, folder, _), count in zip(SPLITS, per_class):
        labels = arrays[f"{split}_labels"].reshape(-1)
        taken = np.zeros(len(TISSUE_CLASSES), dtype=int)
        rows[folder] = []
        for index, label in enumerate(labels.tolist()):
            if taken[label] == count:
                continue
            taken[label] += 1
            relative = f"{folder}/{folder}_{index:04d}.nii.gz"
            affine = patch_affine(arrays["affine"], arrays[f"{split}_centers"][index], patch_size)
            write_nifti(arrays[f"{split}_images"][index], affine, output / relative)
            rows[folder].append({"image": relative, "label": label, "class": TISSUE_CLASSES[label]})
    notice = (
        "The images are patches of the embedded tissue dataset of monai_sre (built by "
        "scripts/build_classification_example.py); its notice follows.\n\n"
        + (TISSUE_ASSET.parent / "NOTICE").read_text()
    )
    write_datalists(
        output,
        rows,
        TISSUE_CLASSES,
        formats,
        name="mni152_tissue_example",
        description="30^3 uint8 patches (2 mm) of the MNI ICBM152 2009 T1 template, labelled by the tissue at "
        "the centre; one population-average template and a demo task, not a clinical benchmark.",
        notice=notice,
    )
    return rows


def _lesion_files(folder: Path) -> dict[str, tuple[Path, Path]] | None:
    for data in (folder, folder / "data", *sorted(folder.glob("*/data"))):
        found = {p: (data / f"{p}_image.nrrd", data / f"{p}_label.nrrd") for p in FOLD_ORDER}
        if all(image.is_file() and label.is_file() for image, label in found.values()):
            return found
    return None


def _extract_lesion_files(sdist: Path, folder: Path) -> None:
    """Copy ``data/*_{image,label}.nrrd`` and ``LICENSE.txt`` out of the sdist (by file name: nothing else)."""
    wanted = {f"{p}_{kind}.nrrd" for p in FOLD_ORDER for kind in ("image", "label")}
    (folder / "data").mkdir()
    with tarfile.open(sdist) as archive:
        for member in archive.getmembers():
            parts = Path(member.name).parts
            if not member.isfile() or len(parts) < 2:
                continue
            if parts[-2:-1] == ("data",) and parts[-1] in wanted:
                target = folder / "data" / parts[-1]
            elif len(parts) == 2 and parts[-1] == "LICENSE.txt":
                target = folder / "LICENSE.txt"
            else:
                continue
            with archive.extractfile(member) as source, target.open("wb") as handle:
                shutil.copyfileobj(source, handle)


def _otsu(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold of ``values`` (maximises the between-class variance of a ``bins`` histogram)."""
    counts, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(counts).astype(float)
    mass = np.cumsum(counts * centres)
    total, total_mass = weight[-1], mass[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (total_mass * weight / total - mass) ** 2 / (weight * (total - weight))
    return float(centres[np.nanargmax(between[:-1])])


@contextlib.contextmanager
def lesion_sources(source: Path) -> Iterator[tuple[dict[str, tuple[Path, Path]], Path | None]]:
    """The pyradiomics patient volumes of ``source`` (the sdist, extracted into a scratch folder for the ``with``
    block, or a folder of its files): ``({patient: (image, label)}, LICENSE.txt or None)``.

    Raises:
        FileNotFoundError: ``source`` is neither the sdist nor a folder holding the ten NRRD files.
    """
    with tempfile.TemporaryDirectory() as scratch:
        if source.is_file():
            if not tarfile.is_tarfile(source):
                raise FileNotFoundError(f"'{source}' is not the pyradiomics sdist (a .tar.gz) nor a folder.")
            _extract_lesion_files(source, Path(scratch))
            source = Path(scratch)
        files = _lesion_files(source) if source.is_dir() else None
        if files is None:
            raise FileNotFoundError(
                f"'{source}' does not hold pyradiomics' data/{{brain1,brain2,breast1,lung1,lung2}}_{{image,label}}"
                ".nrrd; get the sdist: `pip download --no-deps --no-build-isolation pyradiomics==3.0.1`."
            )
        yield files, next((p for p in (source / "LICENSE.txt", source.parent / "LICENSE.txt") if p.is_file()), None)


def lesion_crop_centres(
    image: np.ndarray, lesion: np.ndarray, size: Sequence[int], margin: Sequence[int], count: int, seed: int
) -> dict[str, np.ndarray]:
    """Crop centres ``(count, 3)`` per class, in the array's axis order.

    Args:
        image: the volume's intensities (axial slices along the first axis, as SimpleITK gives them).
        lesion: its lesion mask (bool, same shape).
        size: crop size in voxels per axis.
        margin: voxels per axis that a background crop keeps from any lesion voxel.
        count: crops per class.
        seed: sampling seed.

    Returns:
        ``{"background": centres, "lesion": centres}``; a crop spans ``centre - size // 2`` to
        ``centre - size // 2 + size - 1`` per axis, clipped to the volume.

    Raises:
        ValueError: fewer candidate centres than ``count`` for a class.
    """
    from scipy import ndimage

    size, margin = np.asarray(size), np.asarray(margin)
    # a centre is usable when its crop, clipped to the volume, keeps 3/4 of the size it can have on every axis
    usable = np.ones(image.shape, bool)
    for axis, (n, s) in enumerate(zip(image.shape, size)):
        start = np.arange(n) - s // 2
        kept = np.minimum(start + s, n) - np.maximum(start, 0)
        shape = [1] * image.ndim
        shape[axis] = n
        usable &= (kept >= np.ceil(0.75 * min(s, n))).reshape(shape)
    # the body: voxels above Otsu's threshold, holes filled slice by slice (the lungs are inside the body)
    body = image > _otsu(image)
    body = np.stack([ndimage.binary_fill_holes(plane) for plane in body])
    near_lesion = ndimage.maximum_filter(lesion.astype(np.uint8), size=tuple(size + 2 * margin), mode="constant") > 0
    candidates = {"background": np.flatnonzero(body & ~near_lesion & usable), "lesion": np.flatnonzero(lesion & usable)}
    rng = np.random.RandomState(seed)
    centres = {}
    for name in LESION_CLASSES:
        if len(candidates[name]) < count:
            raise ValueError(f"{len(candidates[name])} candidate {name} centres, fewer than the {count} asked for.")
        chosen = candidates[name][np.sort(rng.choice(len(candidates[name]), count, replace=False))]
        centres[name] = np.stack(np.unravel_index(chosen, image.shape), axis=1)
    return centres


def lesion_split(fold: int = 0) -> dict[str, tuple[str, ...]]:
    """The patients of every split (datalist key) in fold ``fold``: test ``FOLD_ORDER[fold]``, validation the next
    one (cyclically), training the other three.

    Raises:
        ValueError: ``fold`` is not in 0..4.
    """
    count = len(FOLD_ORDER)
    if not 0 <= fold < count:
        raise ValueError(f"fold must be between 0 and {count - 1}, got {fold}.")
    test, validation = FOLD_ORDER[fold], FOLD_ORDER[(fold + 1) % count]
    training = tuple(p for p in FOLD_ORDER if p not in (test, validation))
    return {"training": tuple(sorted(training)), "validation": (validation,), "test": (test,)}


def build_lesion_example(
    source: str | Path,
    output: str | Path,
    per_patient: int = 4,
    crop_mm: float = 40.0,
    formats: Sequence[str] = ("json", "csv"),
    seed: int = 0,
    overwrite: bool = False,
    fold: int = 0,
) -> dict[str, list[dict]]:
    """Write the lesion example (NRRD crops of the pyradiomics patient volumes) into ``output``.

    Args:
        source: the pyradiomics 3.0.1 sdist (``.tar.gz``), or a folder holding its ``data/`` files (the folder
            itself, its ``data/`` or ``*/data/``).
        output: an empty (or new) folder.
        per_patient: crops per class and patient.
        crop_mm: crop side in mm (rounded to whole voxels per axis, clipped at the volume border).
        formats: datalists to write, ``"json"`` and/or ``"csv"``.
        seed: sampling seed.
        overwrite: replace an earlier example in ``output``.
        fold: which patient is tested (see :func:`lesion_split`), 0..4. A patient's crops are the same in
            every fold; only the split they land in changes.

    Returns:
        the rows written, per split folder.

    Raises:
        FileNotFoundError: ``source`` does not hold the ten NRRD files.
        ValueError: a bad fold, an image and its mask differ in geometry, or a count cannot be met.
        FileExistsError: ``output`` is not empty and ``overwrite`` is false.
    """
    import SimpleITK as sitk

    source, output = Path(source), Path(output)
    if per_patient < 1:
        raise ValueError(f"per_patient must be at least 1, got {per_patient}.")
    patients_of = {folder: lesion_split(fold)[key] for _, folder, key in SPLITS}
    with lesion_sources(source) as (files, licence):
        prepare_output(output, overwrite)
        rows: dict[str, list[dict]] = {}
        for folder, names in patients_of.items():
            rows[folder] = []
            for patient in names:
                image_path, label_path = files[patient]
                image, mask = sitk.ReadImage(str(image_path)), sitk.ReadImage(str(label_path))
                geometry = ("GetSize", "GetSpacing", "GetOrigin", "GetDirection")
                if any(not np.allclose(getattr(image, g)(), getattr(mask, g)(), atol=1e-4) for g in geometry):
                    raise ValueError(f"'{image_path}' and '{label_path}' differ in size, spacing, origin or direction.")
                spacing = np.asarray(image.GetSpacing())
                size = np.maximum(np.round(crop_mm / spacing), 1).astype(int)  # x, y, z
                margin = np.ceil(LESION_MARGIN_MM / spacing).astype(int)
                # numpy views are z, y, x: reverse the per-axis numbers there, and the centres back
                centres = lesion_crop_centres(
                    sitk.GetArrayViewFromImage(image),
                    sitk.GetArrayViewFromImage(mask) > 0,
                    size[::-1],
                    margin[::-1],
                    per_patient,
                    seed + SAMPLING_ORDER.index(patient),
                )
                for label, name in enumerate(LESION_CLASSES):
                    for k, centre in enumerate(centres[name][:, ::-1]):
                        start = np.maximum(centre - size // 2, 0)
                        stop = np.minimum(centre - size // 2 + size, image.GetSize())
                        crop = sitk.RegionOfInterest(image, (stop - start).tolist(), start.tolist())
                        relative = f"{folder}/{patient}_{name}_{k:02d}.nrrd"
                        sitk.WriteImage(crop, str(output / relative), useCompression=True)
                        rows[folder].append({"image": relative, "label": label, "class": name, "patient": patient})
        notice = (
            "The images are crops (built by scripts/build_classification_example.py) of the test data of pyradiomics "
            "3.0.1 (data/{brain1,brain2,breast1,lung1,lung2}_image.nrrd, https://github.com/AIM-Harvard/pyradiomics), "
            "BSD-3-Clause, Copyright 2017 Harvard Medical School.\n"
        )
        if licence is not None:
            notice += "\n" + licence.read_text()
    split_text = "; ".join(f"{folder} {', '.join(names)}" for folder, names in patients_of.items())
    write_datalists(
        output,
        rows,
        LESION_CLASSES,
        formats,
        name="pyradiomics_lesion_example",
        description=f"about {crop_mm:g} mm crops of 5 real patient volumes (2 brain MR, 1 breast MR, 2 lung CT) at "
        "their own spacing, centred on a lesion or in lesion-free tissue; split by patient "
        f"(fold {fold}: {split_text}). A demo, not a benchmark.",
        notice=notice,
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, required=True, help="an empty or new folder")
    parser.add_argument("--format", default="both", choices=sorted(FORMATS), help="datalists to write")
    parser.add_argument(
        "--per-class",
        type=int,
        nargs="+",
        metavar="N",
        help="tissue: patches per class for train, validation, test (one number: the same for all); default 20 8 8",
    )
    parser.add_argument("--full", action="store_true", help="tissue: every patch (300, 100, 130 per class)")
    parser.add_argument(
        "--lesions", type=Path, metavar="SDIST_OR_FOLDER", help="build the lesion example from pyradiomics' sdist"
    )
    parser.add_argument("--per-patient", type=int, default=4, help="lesions: crops per class and patient")
    parser.add_argument("--crop-mm", type=float, default=40.0, help="lesions: crop side in mm")
    parser.add_argument("--seed", type=int, default=0, help="lesions: sampling seed")
    parser.add_argument("--fold", type=int, default=0, help="lesions: the fold, 0..4 (the patient tested)")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier example in --output")
    args = parser.parse_args()
    formats = FORMATS[args.format]
    if args.lesions is not None:
        if args.per_class or args.full:
            parser.error("--per-class and --full are for the tissue example; the lesion example takes --per-patient.")
        build, classes = build_lesion_example, LESION_CLASSES
        options = (
            args.lesions, args.output, args.per_patient, args.crop_mm, formats, args.seed, args.overwrite, args.fold
        )  # fmt: skip
    else:
        if args.per_class and args.full:
            parser.error("give --per-class or --full, not both.")
        per_class = FULL_PER_CLASS if args.full else DEFAULT_PER_CLASS
        if args.per_class:
            if len(args.per_class) not in (1, len(SPLITS)):
                parser.error("--per-class takes one number, or three (train, validation, test).")
            per_class = args.per_class * len(SPLITS) if len(args.per_class) == 1 else args.per_class
        build, classes = build_tissue_example, TISSUE_CLASSES
        options = (args.output, per_class, formats, args.overwrite)
    try:
        rows = build(*options)
    except (FileExistsError, FileNotFoundError, ValueError) as error:
        parser.error(str(error))
    for folder, items in rows.items():
        counts = np.bincount([row["label"] for row in items], minlength=len(classes)).tolist()
        print(f"{folder}: {len(items)} volumes, per class {dict(zip(classes, counts))}")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()

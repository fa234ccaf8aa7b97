# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Build a runnable example for a segmentation datalist: real volumes with label maps, the datalists, the classes.

Two examples, both from real images that can be had offline:

* tissue (``--tissue``, the default): whole-brain tissue segmentation of the MNI ICBM152 2009 template that the
  nilearn wheel ships (its files are read with nibabel; nilearn is not imported). Classes ``background``,
  ``csf``, ``grey_matter``, ``white_matter`` (labels 0..3). The 1 mm T1, GM and WM volumes are reduced to 2 mm
  by 2 x 2 x 2 block means (the T1 rounded to uint8, as the embedded datasets store it). Inside the brain mask
  (GM + WM > 0.2, closed, holes filled: the mask of the embedded datasets) a voxel takes the most probable of
  CSF (1 - GM - WM, clipped at 0), GM and WM; outside it, 0. The affine is the 2 mm grid's own: 2 mm spacing,
  origin at the centre of the first 2 x 2 x 2 block (half a 1 mm voxel from the 1 mm origin). The splits are
  coronal slabs (along the posterior-anterior voxel axis) of that volume, each written as its own NIfTI whose
  affine puts it where it lies in MNI space; at least :data:`MIN_GAP` voxels (8 mm) separate any two splits
  (:data:`SLABS`: training = the posterior and the anterior end, validation and test in between, the test slab
  holding the frontal horns of the lateral ventricles and the basal ganglia). The whole 2 mm volume is written
  as well (``whole_brain/``), for inference-timing demos: it is in no split (it holds every split's voxels).
  Per-voxel labels from probability maps are largely decided by the T1 intensity: an easy task, and one
  population-average template; a runnable demo, not a benchmark.
* lesions (``--lesions SDIST_OR_FOLDER``): lesion segmentation on the five patient volumes with lesion masks in
  the pyradiomics 3.0.1 sdist (2 brain MR, 1 breast MR, 2 lung CT), classes ``background`` and ``lesion``,
  split by patient. Each volume is cropped to the lesion's bounding box grown by ``--margin-mm`` (40 mm) per
  side, clipped at the volume (the lung CTs are 512 x 512 slices of which the lesion needs a small part); the
  crop keeps the volume's spacing, direction and int16 intensities and moves its origin, so every voxel stays at
  its world position (nothing is resampled). Images and labels are NRRD; a label is uint8 0/1: any non-zero
  value of the pyradiomics mask becomes 1. The splits rotate through the patients in the order
  :data:`FOLD_ORDER`: fold ``K`` (``--fold``, 0..4) tests patient ``K``, validates on the next one and trains on
  the other three, so a user can report the mean over the five folds. Fold 0, the default, trains on brain1,
  breast1 and lung1 (one of each kind of image), validates on lung2 (the largest lesion, 24.6 k voxels: a
  steadier validation Dice for choosing a checkpoint than brain2's 453) and tests on brain2 (a second brain MR,
  the kind the training set holds). Five patients make a demo, not a benchmark.

Layout::

    FOLDER/
        train/  validation/  test/       X_image.{nii.gz,nrrd} and X_label.{nii.gz,nrrd}, one folder per split
        whole_brain/                     tissue only: mni152_t1_2mm.nii.gz, mni152_t1_2mm_label.nii.gz
        datalist.json                    decathlon style: "training", "validation", "test" lists of
                                         {"image": ..., "label": ...} paths relative to FOLDER, plus "labels"
        datalist.csv                     the same rows with columns image,label,split
        classes.json                     the class names in label order (a JSON list)
        summary.json                     splits, per-class voxel counts, shapes, spacings, source
        NOTICE                           where the images come from, and their licences

The output is deterministic: the same bytes on every run (gzip headers carry no time stamp).

Usage::

    python scripts/build_segmentation_example.py --output runs/seg_tissue_example
    pip download --no-deps --no-build-isolation pyradiomics==3.0.1 -d /tmp/pyradiomics
    python scripts/build_segmentation_example.py --output runs/seg_lesion_example \\
        --lesions /tmp/pyradiomics/pyradiomics-3.0.1.tar.gz [--fold 2]
"""

from __future__ import annotations

import argparse
import csv
import importlib.metadata
import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from build_classification_example import FOLD_ORDER, LESION_CLASSES, lesion_sources, lesion_split, write_nifti
from build_embedded_dataset import TEMPLATE, brain_mask, downsample2, load_template, t1_volume_2mm

TISSUE_CLASSES = ("background", "csf", "grey_matter", "white_matter")
# (datalist key, output folder)
SPLITS = (("training", "train"), ("validation", "validation"), ("test", "test"))
SPLIT_AXIS = 1  # the posterior-anterior axis of the RAS template
# coronal slabs of the 2 mm volume: (datalist key, name, first index, last index) along SPLIT_AXIS, posterior to
# anterior; the brain spans indices 14..103. World y of index j: -133.5 + 2 j mm.
SLABS = (
    ("training", "posterior", 0, 35),  # occipital lobe, cerebellum; brain planes 14..35
    ("validation", "mid_posterior", 40, 55),  # parietal lobe, atria of the lateral ventricles, pulvinar
    ("test", "mid_anterior", 60, 77),  # frontal horns, caudate, putamen, anterior thalamus
    ("training", "anterior", 82, 115),  # frontal lobe; brain planes 82..103
)
MIN_GAP = 4  # free voxel planes between any two splits (8 mm at 2 mm)
MIN_EVAL_THICKNESS = 16  # voxel planes of a validation or test slab
MIN_CLASS_VOXELS = 1000  # of every class in every split
WHOLE_BRAIN = ("whole_brain/mni152_t1_2mm.nii.gz", "whole_brain/mni152_t1_2mm_label.nii.gz")
LESION_KINDS = {
    "brain1": "brain MR",
    "brain2": "brain MR",
    "breast1": "breast MR",
    "lung1": "lung CT",
    "lung2": "lung CT",
}
LESION_MARGIN_MM = 40.0
WRITTEN = ("datalist.json", "datalist.csv", "classes.json", "summary.json", "NOTICE")
FOLDERS = ("train", "validation", "test", "whole_brain")

MNI_NOTICE = """\
The images and label maps are derived (by scripts/build_segmentation_example.py of monai_sre) from the MNI ICBM152
2009 (nonlinear symmetric, 09a) T1 template and its grey- and white-matter probability maps, as shipped in the
nilearn package (nilearn/datasets/data/mni_icbm152_{t1,gm,wm}_tal_nlin_sym_09a_converted.nii.gz).

Copyright (C) 1993–2004 Louis Collins, McConnell Brain Imaging Centre, Montreal Neurological Institute,
McGill University.

Permission to use, copy, modify, and distribute this software and its documentation for any purpose and
without fee is hereby granted, provided that the above copyright notice appear in all copies. The authors and
McGill University make no representations about the suitability of this software for any purpose. It is
provided "as is" without express or implied warranty. The authors are not responsible for any data loss,
equipment damage, property loss, or injury to subjects or patients resulting from the use or misuse of this
software package.

Reference: Fonov V, Evans AC, Botteron K, Almli CR, McKinstry RC, Collins DL and BDCG, "Unbiased average
age-appropriate atlases for pediatric studies", NeuroImage 54(1), 2011; Fonov V, Evans A, McKinstry R,
Almli C, Collins D, "Unbiased nonlinear average age-appropriate brain templates from birth to adulthood",
NeuroImage 47, Supplement 1, 2009.

nilearn, which distributes these files, is BSD-3-Clause licensed:
"""

LESION_NOTICE = """\
The images and label maps are crops (by scripts/build_segmentation_example.py of monai_sre; labels made 0/1) of
the test data of pyradiomics 3.0.1 (data/{brain1,brain2,breast1,lung1,lung2}_{image,label}.nrrd,
https://github.com/AIM-Harvard/pyradiomics), BSD-3-Clause, Copyright 2017 Harvard Medical School.
"""


# -- shared ---------------------------------------------------------------------------------------------------


def prepare_output(output: Path, overwrite: bool) -> None:
    """Create ``output``; an existing non-empty folder is refused unless ``overwrite`` (which removes what we write)."""
    if output.exists() and not output.is_dir():
        raise FileExistsError(f"output '{output}' is a file, not a folder.")
    if output.exists() and any(output.iterdir()):
        if not overwrite:
            raise FileExistsError(f"output folder '{output}' is not empty: choose another one or pass --overwrite.")
        for folder in FOLDERS:
            shutil.rmtree(output / folder, ignore_errors=True)
        for name in WRITTEN:
            (output / name).unlink(missing_ok=True)
    output.mkdir(parents=True, exist_ok=True)
    for _, folder in SPLITS:
        (output / folder).mkdir()


def voxel_counts(labels: np.ndarray, classes: Sequence[str]) -> dict[str, int]:
    """Voxels of every class of ``labels`` (by name)."""
    counts = np.bincount(np.asarray(labels).reshape(-1), minlength=len(classes))
    if len(counts) > len(classes):
        raise ValueError(f"labels hold values up to {len(counts) - 1}; the classes are {list(classes)}.")
    return {name: int(n) for name, n in zip(classes, counts)}


def write_datalists(
    output: Path, rows: Sequence[Mapping[str, str]], classes: Sequence[str], summary: dict, notice: str
) -> None:
    """Write ``datalist.json``, ``datalist.csv``, ``classes.json``, ``summary.json`` and ``NOTICE``.

    Args:
        output: the example's folder.
        rows: ``{"image", "label", "split"}`` per volume (paths relative to ``output``; ``split`` a datalist key).
        classes: class names in label order.
        summary: what ``summary.json`` holds.
        notice: the text of ``NOTICE``.
    """
    datalist: dict = {"labels": {str(i): c for i, c in enumerate(classes)}}
    for key, _ in SPLITS:
        datalist[key] = [{"image": r["image"], "label": r["label"]} for r in rows if r["split"] == key]
    (output / "datalist.json").write_text(json.dumps(datalist, indent=2) + "\n", encoding="utf-8")
    with (output / "datalist.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["image", "label", "split"], lineterminator="\n")
        writer.writeheader()
        for key, _ in SPLITS:  # grouped by split, in the JSON's order
            writer.writerows({k: r[k] for k in ("image", "label", "split")} for r in rows if r["split"] == key)
    (output / "classes.json").write_text(json.dumps(list(classes)) + "\n", encoding="utf-8")
    (output / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (output / "NOTICE").write_text(notice, encoding="utf-8")


def _split_counts(volumes: Sequence[Mapping], classes: Sequence[str]) -> dict[str, dict]:
    """Per datalist key: the number of volumes and the voxels of every class over them."""
    out = {}
    for key, _ in SPLITS:
        mine = [v for v in volumes if v["split"] == key]
        total = {name: sum(v["voxels_per_class"][name] for v in mine) for name in classes}
        out[key] = {"volumes": len(mine), "voxels_per_class": total}
    return out


def _round(values, digits: int = 6) -> list:
    return np.round(np.asarray(values, dtype=float), digits).tolist()


# -- tissue ---------------------------------------------------------------------------------------------------


def tissue_labels(gm: np.ndarray, wm: np.ndarray) -> np.ndarray:
    """Label every voxel (uint8): 0 outside :func:`brain_mask`, inside it the most probable of CSF (1), GM (2),
    WM (3), CSF being ``1 - GM - WM`` clipped at 0 (a tie goes to the lower label).

    Args:
        gm: grey-matter probability in [0, 1].
        wm: white-matter probability in [0, 1].
    """
    csf = np.clip(1.0 - gm - wm, 0.0, None)
    tissue = 1 + np.argmax(np.stack([csf, gm, wm]), axis=0)
    return np.where(brain_mask(gm, wm), tissue, 0).astype(np.uint8)


def block_mean_affine(affine: np.ndarray) -> np.ndarray:
    """The voxel-to-world affine of the 2 x 2 x 2 block means of a 1 mm volume with ``affine``.

    Voxel ``i`` of the block-mean grid averages 1 mm voxels ``2 i`` and ``2 i + 1`` per axis, so its centre is at
    1 mm voxel ``2 i + 0.5``. (``affine_2mm`` of scripts/build_embedded_dataset.py, which the embedded datasets
    store, omits the half voxel: its grid sits 0.5 mm from the averaged voxels along each axis.)
    """
    scale = np.diag([2.0, 2.0, 2.0, 1.0])
    scale[:3, 3] = 0.5
    return np.asarray(affine, dtype=float) @ scale


def slab_affine(affine: np.ndarray, start: int, axis: int = SPLIT_AXIS) -> np.ndarray:
    """The affine of the slab of a volume with ``affine`` that begins at index ``start`` along ``axis``."""
    shift = np.zeros(3)
    shift[axis] = start
    moved = np.array(affine, dtype=float)
    moved[:3, 3] = moved[:3, :3] @ shift + moved[:3, 3]
    return moved


def check_slabs(slabs: Sequence[tuple[str, str, int, int]], labels: np.ndarray, axis: int = SPLIT_AXIS) -> dict:
    """Check the slabs: in the volume, posterior to anterior, apart, thick enough and holding every class.

    Args:
        slabs: ``(datalist key, name, first, last)`` per slab, indices along ``axis``, inclusive.
        labels: the label volume.
        axis: the split axis.

    Returns:
        the free voxel planes between consecutive slabs of different splits, ``{"key/key": planes}``.

    Raises:
        ValueError: a slab leaves the volume, slabs are out of order, two splits are closer than
            :data:`MIN_GAP`, a validation or test slab is thinner than :data:`MIN_EVAL_THICKNESS`, a split
            lacks one, or a split holds fewer than :data:`MIN_CLASS_VOXELS` voxels of a class.
    """
    keys = {key for key, _ in SPLITS}
    for key, name, first, last in slabs:
        if key not in keys:
            raise ValueError(f"slab '{name}': split must be one of {sorted(keys)}, got '{key}'.")
        if not 0 <= first <= last < labels.shape[axis]:
            raise ValueError(
                f"slab '{name}': bounds must satisfy 0 <= first <= last < {labels.shape[axis]}, got {first}..{last}."
            )
        if key != "training" and last - first + 1 < MIN_EVAL_THICKNESS:
            raise ValueError(
                f"slab '{name}' ({key}) is {last - first + 1} planes thick, fewer than {MIN_EVAL_THICKNESS}."
            )
    gaps = {}
    for (key0, name0, _, last0), (key1, name1, first1, _) in zip(slabs, slabs[1:]):
        gap = first1 - last0 - 1
        if gap < 0 or (key0 != key1 and gap < MIN_GAP):
            raise ValueError(
                f"slabs '{name0}' and '{name1}' leave {gap} free planes between them; they must be "
                f"ordered posterior to anterior, with at least {MIN_GAP} between different splits."
            )
        if key0 != key1:
            gaps[f"{key0}/{key1}"] = min(gap, gaps.get(f"{key0}/{key1}", gap))
    missing = sorted(keys - {key for key, *_ in slabs})
    if missing:
        raise ValueError(f"no slab for the split(s) {missing}.")
    position = np.arange(labels.shape[axis])
    for key, _ in SPLITS:
        inside = np.zeros(labels.shape[axis], bool)
        for k, _, first, last in slabs:
            inside |= (k == key) & (position >= first) & (position <= last)
        counts = voxel_counts(np.compress(inside, labels, axis=axis), TISSUE_CLASSES)
        scarce = {name: n for name, n in counts.items() if n < MIN_CLASS_VOXELS}
        if scarce:
            raise ValueError(f"split '{key}' holds fewer than {MIN_CLASS_VOXELS} voxels of {scarce}; move the slabs.")
    return gaps


def build_tissue_example(
    output: str | Path, slabs: Sequence[tuple[str, str, int, int]] = SLABS, overwrite: bool = False
) -> dict:
    """Write the tissue example (coronal slabs of the 2 mm MNI template with tissue label maps) into ``output``.

    Args:
        output: an empty (or new) folder.
        slabs: ``(datalist key, name, first, last)`` per slab along the posterior-anterior axis (inclusive),
            posterior to anterior (default :data:`SLABS`).
        overwrite: replace an earlier example in ``output``.

    Returns:
        the summary (as written to ``summary.json``).

    Raises:
        ValueError: the slabs break a rule of :func:`check_slabs`.
        FileExistsError: ``output`` is not empty and ``overwrite`` is false.
        SystemExit: nilearn (its data files) is not installed.
    """
    import nibabel as nib

    output = Path(output)
    arrays, affine_1mm = load_template()
    image = t1_volume_2mm(arrays["t1"])
    labels = tissue_labels(downsample2(arrays["gm"]) / 255, downsample2(arrays["wm"]) / 255)
    affine = block_mean_affine(affine_1mm)
    orientation = "".join(nib.orientations.aff2axcodes(affine))
    if orientation != "RAS":
        raise ValueError(f"the template is expected in RAS orientation, got {orientation}.")
    gaps = check_slabs(slabs, labels)
    prepare_output(output, overwrite)
    spacing = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    rows, volumes = [], []
    for key, name, first, last in slabs:
        folder = dict(SPLITS)[key]
        stem = f"{folder}/mni152_{name}_y{first:03d}-{last:03d}"
        cut = [slice(None)] * 3
        cut[SPLIT_AXIS] = slice(first, last + 1)
        moved = slab_affine(affine, first)
        write_nifti(image[tuple(cut)], moved, output / f"{stem}_image.nii.gz")
        write_nifti(labels[tuple(cut)], moved, output / f"{stem}_label.nii.gz")
        rows.append({"image": f"{stem}_image.nii.gz", "label": f"{stem}_label.nii.gz", "split": key})
        world = [float(affine[SPLIT_AXIS, SPLIT_AXIS] * j + affine[SPLIT_AXIS, 3]) for j in (first, last)]
        volumes.append(
            {
                **rows[-1],
                "slab": name,
                "index_range": [first, last],
                "y_mm_range": world,
                "shape": list(image[tuple(cut)].shape),
                "origin_mm": _round(moved[:3, 3]),
                "voxels_per_class": voxel_counts(labels[tuple(cut)], TISSUE_CLASSES),
            }
        )
    (output / "whole_brain").mkdir()
    write_nifti(image, affine, output / WHOLE_BRAIN[0])
    write_nifti(labels, affine, output / WHOLE_BRAIN[1])
    notice = MNI_NOTICE + "\n" + nilearn_licence()
    summary = {
        "example": "tissue",
        "classes": list(TISSUE_CLASSES),
        "labels": "inside the brain mask (GM + WM > 0.2, closed twice, holes filled), the most probable of CSF "
        "(1 - GM - WM, clipped at 0), GM, WM (labels 1, 2, 3); 0 outside",
        "image": "T1 template, 2 x 2 x 2 block means of the 1 mm file rounded to uint8",
        "source": {
            "files": [f"nilearn/datasets/data/{TEMPLATE.format(n)}" for n in ("t1", "gm", "wm")],
            "nilearn": _version("nilearn"),
            "copyright": "Copyright (C) 1993–2004 Louis Collins, McConnell Brain Imaging Centre, Montreal "
            "Neurological Institute, McGill University (see NOTICE)",
        },
        "shape": list(image.shape),
        "spacing_mm": _round(spacing),
        "affine": _round(affine),
        "split_axis": f"{SPLIT_AXIS} (y, posterior to anterior); world y of index j = "
        f"{affine[SPLIT_AXIS, 3]:g} + {affine[SPLIT_AXIS, SPLIT_AXIS]:g} j mm",
        "min_gap_planes": MIN_GAP,
        "gap_planes": gaps,
        "splits": _split_counts(volumes, TISSUE_CLASSES),
        "volumes": volumes,
        "whole_brain": {
            "image": WHOLE_BRAIN[0],
            "label": WHOLE_BRAIN[1],
            "shape": list(image.shape),
            "voxels_per_class": voxel_counts(labels, TISSUE_CLASSES),
            "note": "the whole 2 mm volume, in no split (it holds every split's voxels): for inference-timing "
            "demos, never for evaluation",
        },
    }
    write_datalists(output, rows, TISSUE_CLASSES, summary, notice)
    return summary


def nilearn_licence() -> str:
    """The licence text of the installed nilearn distribution (its ``*.dist-info`` LICENSE file)."""
    try:
        files = importlib.metadata.distribution("nilearn").files or ()
    except importlib.metadata.PackageNotFoundError:
        files = ()
    for file in files:
        if ".dist-info" in str(file) and file.name.upper().startswith(("LICENSE", "COPYING")):
            return file.read_text(encoding="utf-8")
    return "BSD-3-Clause, Copyright (c) The nilearn developers (the licence file was not found beside the package).\n"


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


# -- lesions --------------------------------------------------------------------------------------------------


def lesion_crop_box(lesion: np.ndarray, spacing: Sequence[float], margin_mm: float | None) -> tuple[list, list]:
    """The crop of a volume around its lesion, as SimpleITK index and size (x, y, z).

    Args:
        lesion: the lesion mask as SimpleITK's array view gives it (z, y, x).
        spacing: voxel spacing (x, y, z) in mm.
        margin_mm: how far the box reaches beyond the lesion's bounding box on every side (rounded up to whole
            voxels), clipped at the volume; ``None``: the whole volume.

    Raises:
        ValueError: the mask holds no lesion voxel, or ``margin_mm`` is negative.
    """
    size = np.asarray(lesion.shape[::-1])
    if margin_mm is None:
        return [0, 0, 0], size.tolist()
    if margin_mm < 0:
        raise ValueError(f"margin_mm must be at least 0, got {margin_mm}.")
    found = np.argwhere(lesion)
    if not len(found):
        raise ValueError("the lesion mask holds no lesion voxel.")
    low, high = found.min(axis=0)[::-1], found.max(axis=0)[::-1]
    margin = np.ceil(margin_mm / np.asarray(spacing, dtype=float) - 1e-6).astype(int)
    start, stop = np.maximum(low - margin, 0), np.minimum(high + margin + 1, size)
    return start.tolist(), (stop - start).tolist()


def build_lesion_example(
    source: str | Path,
    output: str | Path,
    fold: int = 0,
    margin_mm: float | None = LESION_MARGIN_MM,
    overwrite: bool = False,
) -> dict:
    """Write the lesion example (cropped pyradiomics patient volumes with 0/1 lesion labels, NRRD) into ``output``.

    Args:
        source: the pyradiomics 3.0.1 sdist (``.tar.gz``), or a folder holding its ``data/`` files (the folder
            itself, its ``data/`` or ``*/data/``).
        output: an empty (or new) folder.
        fold: which patient is tested (see :func:`lesion_split`), 0..4.
        margin_mm: crop margin around each lesion's bounding box (see :func:`lesion_crop_box`); ``None``: no crop.
        overwrite: replace an earlier example in ``output``.

    Returns:
        the summary (as written to ``summary.json``).

    Raises:
        FileNotFoundError: ``source`` does not hold the ten NRRD files.
        ValueError: a bad fold or margin, an image and its mask differ in geometry, or a mask has no lesion.
        FileExistsError: ``output`` is not empty and ``overwrite`` is false.
    """
    import SimpleITK as sitk

    source, output = Path(source), Path(output)
    split = lesion_split(fold)
    if margin_mm is not None and margin_mm < 0:
        raise ValueError(f"margin_mm must be at least 0, got {margin_mm}.")
    rows, volumes = [], []
    with lesion_sources(source) as (files, licence):
        prepare_output(output, overwrite)
        for key, folder in SPLITS:
            for patient in split[key]:
                image_path, label_path = files[patient]
                image, mask = sitk.ReadImage(str(image_path)), sitk.ReadImage(str(label_path))
                geometry = ("GetSize", "GetSpacing", "GetOrigin", "GetDirection")
                if any(not np.allclose(getattr(image, g)(), getattr(mask, g)(), atol=1e-4) for g in geometry):
                    raise ValueError(f"'{image_path}' and '{label_path}' differ in size, spacing, origin or direction.")
                values = np.unique(sitk.GetArrayViewFromImage(mask))
                try:
                    start, size = lesion_crop_box(sitk.GetArrayViewFromImage(mask) != 0, image.GetSpacing(), margin_mm)
                except ValueError as error:
                    raise ValueError(f"'{label_path}': {error}") from error
                cropped = sitk.RegionOfInterest(image, size, start)
                label = sitk.Cast(sitk.NotEqual(sitk.RegionOfInterest(mask, size, start), 0), sitk.sitkUInt8)
                label.CopyInformation(cropped)  # the image's geometry, exactly
                stem = f"{folder}/{patient}"
                sitk.WriteImage(cropped, str(output / f"{stem}_image.nrrd"), useCompression=True)
                sitk.WriteImage(label, str(output / f"{stem}_label.nrrd"), useCompression=True)
                rows.append({"image": f"{stem}_image.nrrd", "label": f"{stem}_label.nrrd", "split": key})
                volumes.append(
                    {
                        **rows[-1],
                        "patient": patient,
                        "kind": LESION_KINDS[patient],
                        "original_shape": list(image.GetSize()),
                        "crop_start": [int(v) for v in start],
                        "shape": [int(v) for v in size],
                        "spacing_mm": _round(image.GetSpacing()),
                        "origin_mm": _round(cropped.GetOrigin()),
                        "direction": _round(image.GetDirection()),
                        "dtype": cropped.GetPixelIDTypeAsString(),
                        "mask_values": [int(v) for v in values],
                        "voxels_per_class": voxel_counts(sitk.GetArrayViewFromImage(label), LESION_CLASSES),
                    }
                )
        notice = LESION_NOTICE + ("\n" + licence.read_text() if licence is not None else "")
    summary = {
        "example": "lesions",
        "classes": list(LESION_CLASSES),
        "labels": "uint8 0/1: every non-zero value of the pyradiomics mask is 1",
        "image": "the volume's own intensities (int16), spacing and direction; nothing resampled",
        "crop": "whole volumes"
        if margin_mm is None
        else f"lesion bounding box grown by {margin_mm:g} mm per side "
        "(whole voxels, rounded up), clipped at the volume; the origin moves with it",
        "source": {
            "files": "pyradiomics 3.0.1 sdist, data/{brain1,brain2,breast1,lung1,lung2}_{image,label}.nrrd",
            "licence": "BSD-3-Clause, Copyright 2017 Harvard Medical School (see NOTICE)",
        },
        "fold": fold,
        "folds": f"fold K tests {list(FOLD_ORDER)}[K], validates on the next one, trains on the other three",
        "patients": {key: list(names) for key, names in split.items()},
        "splits": _split_counts(volumes, LESION_CLASSES),
        "volumes": volumes,
    }
    write_datalists(output, rows, LESION_CLASSES, summary, notice)
    return summary


# -- command line ---------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, required=True, help="an empty or new folder")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--tissue", action="store_true", help="build the MNI tissue example (the default)")
    which.add_argument(
        "--lesions", type=Path, metavar="SDIST_OR_FOLDER", help="build the lesion example from pyradiomics' sdist"
    )
    parser.add_argument("--fold", type=int, help="lesions: the fold, 0..4 (default 0)")
    parser.add_argument(
        "--margin-mm", type=float, help=f"lesions: crop margin around the lesion (default {LESION_MARGIN_MM:g})"
    )
    parser.add_argument("--no-crop", action="store_true", help="lesions: keep the whole volumes")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier example in --output")
    args = parser.parse_args()
    try:
        if args.lesions is None:
            if args.fold is not None or args.margin_mm is not None or args.no_crop:
                parser.error("--fold, --margin-mm and --no-crop are for the lesion example (--lesions).")
            summary = build_tissue_example(args.output, overwrite=args.overwrite)
        else:
            if args.no_crop and args.margin_mm is not None:
                parser.error("give --margin-mm or --no-crop, not both.")
            margin = None if args.no_crop else (LESION_MARGIN_MM if args.margin_mm is None else args.margin_mm)
            fold = 0 if args.fold is None else args.fold
            summary = build_lesion_example(args.lesions, args.output, fold, margin, args.overwrite)
    except (FileExistsError, FileNotFoundError, ValueError) as error:
        parser.error(str(error))
    for key, split in summary["splits"].items():
        counts = ", ".join(f"{name} {n}" for name, n in split["voxels_per_class"].items())
        print(f"{key}: {split['volumes']} volume(s); voxels per class: {counts}")
    for volume in summary["volumes"]:
        where = (
            f"y {volume['index_range'][0]}..{volume['index_range'][1]} ({volume['y_mm_range'][0]:g}.."
            f"{volume['y_mm_range'][1]:g} mm)"
            if "index_range" in volume
            else f"{volume['patient']} ({volume['kind']}), spacing {volume['spacing_mm']} mm"
        )
        print(f"  {volume['split']}: {volume['image']}: shape {volume['shape']}, {where}")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()

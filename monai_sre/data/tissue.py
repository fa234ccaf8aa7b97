# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""The embedded default dataset: tissue-type patches of the MNI ICBM152 2009 template.

Each sample is a cube of T1 intensities (2 mm voxels) labelled by the tissue at its centre voxel, from the
template's own grey- and white-matter probability maps (rules in :data:`TISSUE_RULES`). A label does not change
when a patch is rotated, so a model trained upright can be tested rotated. It is ONE population-average
template and a demo task, not a clinical benchmark.

What ships (``monai_sre/data/assets/mni152_tissue_2mm.npz``, built by ``scripts/build_embedded_dataset.py``,
which holds the recipe: the package only serves the file): the 2 mm T1 volume (uint8), the patch centres and
labels of every split, and the build parameters. Patches are cut on load, in the MedMNIST key layout
(``train_images`` ``(N, P, P, P)`` uint8, ``train_labels`` ``(N, 1)``), so the MedMNIST dataset class serves
both. Patches carry a margin (30^3 for 16^3 network inputs): evaluation rotations then resample real anatomy
before the centre crop, instead of padding.

Splits are coronal slabs, posterior to anterior: train, a gap, validation, a small gap, test. No training
input (16^3, even rotated: 13.9 voxels from its centre) shares a voxel with a validation input scored upright
(as during training) or with a test input, upright or rotated; validation and test lie closer together
(neither is trained on). Splitting by hemisphere
would leak: the symmetric template is its own mirror image.
"""

from __future__ import annotations

import functools
import json
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from monai_sre.transforms.intensity import white_matter_peak

__all__ = [
    "TISSUE_ASSET",
    "TISSUE_CLASSES",
    "TISSUE_RULES",
    "cut_patches",
    "load_tissue_arrays",
    "template_white_matter_peak",
]

TISSUE_ASSET = Path(__file__).parent / "assets" / "mni152_tissue_2mm.npz"
TISSUE_CLASSES = ("cortical grey matter", "deep grey matter", "white matter", "internal CSF")
TISSUE_RULES = (
    "GM > 0.6 and depth < 12 mm",
    "GM > 0.6 and depth > 25 mm",
    "WM > 0.8",
    "GM < 0.2 and WM < 0.2 and depth > 15 mm",
)
SPLITS = ("train", "val", "test")
#: the script that builds the shipped file (and holds its recipe)
EMBEDDED_BUILDER = "scripts/build_embedded_dataset.py"


def cut_patches(volume: np.ndarray, centres: np.ndarray, patch_size: int) -> np.ndarray:
    """Cubes of side ``patch_size`` around ``centres`` ``(n, 3)``; even sizes put the centre at ``size // 2``."""
    half = patch_size // 2
    patches = np.empty((len(centres), patch_size, patch_size, patch_size), dtype=volume.dtype)
    for i, (x, y, z) in enumerate(np.asarray(centres, dtype=int)):
        lo = (x - half, y - half, z - half)
        if min(lo) < 0 or any(c - half + patch_size > n for c, n in zip((x, y, z), volume.shape)):
            raise ValueError(f"a {patch_size}^3 patch around centre {(x, y, z)} leaves the volume {volume.shape}.")
        patches[i] = volume[lo[0] : lo[0] + patch_size, lo[1] : lo[1] + patch_size, lo[2] : lo[2] + patch_size]
    return patches


def load_tissue_arrays(patch_size: int = 30, path: str | Path | None = None) -> dict[str, np.ndarray]:
    """The embedded dataset in the MedMNIST key layout (``{split}_images`` uint8, ``{split}_labels`` ``(N, 1)``).

    Args:
        patch_size: side of the cut cubes (at most 30, the margin the centres keep).
        path: another file written by ``scripts/build_embedded_dataset.py``; defaults to the shipped one.

    Raises:
        FileNotFoundError: the file is missing (the message says how to rebuild it).
        ValueError: ``patch_size`` exceeds the stored margin.
    """
    path = Path(path) if path is not None else TISSUE_ASSET
    own_data = "for your own volumes and a datalist, use the sre_classification bundle (--datalist PATH)"
    if not path.is_file():
        raise FileNotFoundError(
            f"embedded dataset not found at '{path}'; rebuild it with `pip install --no-deps nilearn scipy && "
            f"python {EMBEDDED_BUILDER}` ({own_data})."
        )
    try:
        opened = np.load(path, allow_pickle=False)
        if not isinstance(opened, np.lib.npyio.NpzFile) or "volume" not in opened.files:
            raise ValueError("not an npz archive holding 'volume'")
    except (ValueError, OSError, zipfile.BadZipFile) as error:  # numpy reads any other file as a pickle
        raise ValueError(
            f"'{path}' is not the embedded tissue dataset (an .npz archive written by {EMBEDDED_BUILDER}); {own_data}."
        ) from error
    with opened as stored:
        info = json.loads(str(stored["info"]))
        if not 1 <= patch_size <= info["patch_size"]:
            raise ValueError(
                f"patch_size must be between 1 and {info['patch_size']} (the stored margin), got {patch_size}."
            )
        arrays = {"info": info, "affine": stored["affine"]}
        for split in SPLITS:
            arrays[f"{split}_images"] = cut_patches(stored["volume"], stored[f"{split}_centers"], patch_size)
            arrays[f"{split}_labels"] = stored[f"{split}_labels"].astype(np.int64)
            arrays[f"{split}_centers"] = stored[f"{split}_centers"].astype(np.int64)
    return arrays


@functools.lru_cache(maxsize=4)
def _template_peak(path: str | None) -> float:
    file = Path(path) if path is not None else TISSUE_ASSET
    if file.is_dir():
        file = file / TISSUE_ASSET.name
    if not file.is_file():
        raise FileNotFoundError(f"embedded dataset not found at '{file}'; its volume is the intensity reference.")
    with np.load(file, allow_pickle=False) as stored:
        volume = stored["volume"]
    return white_matter_peak(volume, name=f"the template volume in '{file}'")


def template_white_matter_peak(path: str | Path | None = None) -> float:
    """The white-matter peak of the embedded MNI152 template (uint8 scale, 2 mm), computed by
    :func:`~monai_sre.transforms.white_matter_peak` from the stored volume (about 220); cached.

    The ``target`` of :class:`~monai_sre.transforms.ScaleToWhiteMatterPeak` that maps another T1 onto the
    template's scale, as the tissue bundles' inference does.

    Args:
        path: another dataset file (or its folder) written by ``scripts/build_embedded_dataset.py``; defaults
            to the shipped one.
    """
    return _template_peak(None if path is None else str(path))


def built_by_script(module: str, names: Mapping[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` for dataset-building names that moved out of the package into their build script.

    The package serves the shipped files; building them is the scripts' job (``scripts/`` is not installed), so
    the old names raise an ``AttributeError`` (an ``ImportError`` for ``from ... import``) that names the script.

    Args:
        module: the ``__name__`` of the module that held the names.
        names: old name -> the script that now holds it.
    """

    def __getattr__(name: str) -> object:
        if name in names:
            raise AttributeError(
                f"{module}.{name} moved to {names[name]} (building the dataset is the script's job; the package "
                "only serves the shipped file): run or import that script from a clone of the repository."
            )
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__


__getattr__ = built_by_script(
    __name__, dict.fromkeys(("build_tissue_dataset", "downsample2", "tissue_candidates"), EMBEDDED_BUILDER)
)

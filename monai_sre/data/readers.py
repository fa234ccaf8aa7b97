# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""A SimpleITK-backed MONAI ``ImageReader`` and early checks that image files can be read.

MONAI ships readers for nibabel (NIfTI) and ITK (DICOM series, MHA, NRRD, NIfTI) but none for SimpleITK.
:class:`SimpleITKReader` plugs into ``LoadImage(reader=...)``/``LoadImaged``: it reads any file SimpleITK reads,
or a folder as a DICOM series, and reports the affine in RAS like MONAI's readers (voxel axes in ITK's
x, y, z order, as MONAI's ``ITKReader`` does with ``reverse_indexing=False``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from monai.data import ImageReader
from monai.data.utils import orientation_ras_lps
from monai.utils import MetaKeys, SpaceKeys, ensure_tuple, optional_import

if TYPE_CHECKING:
    import SimpleITK as sitk

__all__ = ["IMAGE_SUFFIXES", "SimpleITKReader", "check_image_readable"]

# the one list of image file suffixes the package reads (SimpleITK reads them all; MONAI's ITK reader the volumes)
IMAGE_SUFFIXES = (
    ".nii",
    ".nii.gz",
    ".nrrd",
    ".nhdr",
    ".mha",
    ".mhd",
    ".dcm",
    ".png",
    ".tif",
    ".tiff",
    ".jpg",
    ".jpeg",
)


def _sitk():
    """SimpleITK, imported on first use (required by setup.cfg; not imported with the package, which stays light)."""
    module, _ = optional_import("SimpleITK")
    return module


def _read_series(folder: Path) -> sitk.Image:
    sitk = _sitk()
    series = sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder))
    if not series:
        raise ValueError(f"no DICOM series found in folder '{folder}'.")
    files = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), series[0])
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(files)
    return reader.Execute()


class SimpleITKReader(ImageReader):
    """Read images with SimpleITK: NIfTI, NRRD, MHA/MHD, single DICOM files, or a folder as a DICOM series.

    Returns the array in voxel order x, y, z (SimpleITK's ``GetArrayFromImage`` reversed), channel last for
    vector images, and meta data with the RAS ``affine``, ``spatial_shape`` and ``space``.

    Args:
        channel_dim: the channel axis of the data, ``None`` to infer (vector images: last).
        kwargs: passed to ``SimpleITK.ReadImage``.
    """

    def __init__(self, channel_dim: int | None = None, **kwargs) -> None:
        super().__init__()
        self.channel_dim = channel_dim
        self.kwargs = kwargs

    def verify_suffix(self, filename: Sequence[str] | str) -> bool:
        return all(Path(f).is_dir() or str(f).lower().endswith(IMAGE_SUFFIXES) for f in ensure_tuple(filename))

    def read(self, data: Sequence[str] | str, **kwargs) -> list[sitk.Image] | sitk.Image:
        sitk = _sitk()
        images = []
        for name in ensure_tuple(data):
            path = Path(name)
            images.append(
                _read_series(path) if path.is_dir() else sitk.ReadImage(str(path), **{**self.kwargs, **kwargs})
            )
        return images if len(images) > 1 else images[0]

    def get_data(self, img) -> tuple[np.ndarray, dict]:
        sitk = _sitk()
        arrays, metas = [], []
        for image in img if isinstance(img, (list, tuple)) else [img]:
            array = sitk.GetArrayFromImage(image)
            spatial = image.GetDimension()
            vector = image.GetNumberOfComponentsPerPixel() > 1
            # numpy view is (z, y, x[, c]): reverse the spatial axes to x, y, z
            axes = list(range(spatial))[::-1] + ([spatial] if vector else [])
            array = np.transpose(array, axes)
            direction = np.asarray(image.GetDirection()).reshape(spatial, spatial)
            affine = np.eye(spatial + 1)
            affine[:spatial, :spatial] = direction @ np.diag(image.GetSpacing())
            affine[:spatial, -1] = image.GetOrigin()
            affine = orientation_ras_lps(affine)
            meta = {
                MetaKeys.AFFINE: affine,
                MetaKeys.ORIGINAL_AFFINE: affine.copy(),
                MetaKeys.SPATIAL_SHAPE: np.asarray(image.GetSize()),
                MetaKeys.SPACE: SpaceKeys.RAS,
                MetaKeys.ORIGINAL_CHANNEL_DIM: (-1 if vector else float("nan"))
                if self.channel_dim is None
                else self.channel_dim,
                "spacing": np.asarray(image.GetSpacing()),
            }
            arrays.append(array)
            metas.append(meta)
        if len(arrays) == 1:
            return arrays[0], metas[0]
        if any(a.shape != arrays[0].shape for a in arrays):
            raise ValueError(f"images read together must share a shape, got {[a.shape for a in arrays]}.")
        return np.stack(arrays), {**metas[0], MetaKeys.ORIGINAL_CHANNEL_DIM: 0}


def check_image_readable(path: str | Path) -> tuple[int, ...]:
    """Read only the header of an image file (or list a DICOM series folder); return its size.

    Raises:
        FileNotFoundError: nothing exists at ``path``.
        ValueError: the file or folder cannot be read as an image; the message names it and the reason.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"image not found: '{path}'.")
    sitk = _sitk()
    try:
        if path.is_dir():
            series = sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(path))
            if not series:
                raise ValueError("no DICOM series in the folder")
            files = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(path), series[0])
            reader = sitk.ImageFileReader()
            reader.SetFileName(files[0])
            reader.ReadImageInformation()
            return (*reader.GetSize()[:2], len(files))
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(path))
        reader.ReadImageInformation()
        return tuple(reader.GetSize())
    except (RuntimeError, ValueError) as error:
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        raise ValueError(f"cannot read image '{path}': {reason}") from error

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
from __future__ import annotations

from .datalist import list_volumes, load_classification_datalist
from .datasets import MedMNIST3DDataset, MedMNISTLayoutDataset, TissuePatchDataset
from .medmnist import MEDMNIST3D_INFO, load_medmnist_npz, medmnist3d_info, medmnist_path
from .preprocessing import MODALITIES, classification_preprocessing
from .readers import SimpleITKReader, check_image_readable
from .tissue import TISSUE_CLASSES, TISSUE_RULES, load_tissue_arrays

__all__ = [
    "MEDMNIST3D_INFO",
    "MODALITIES",
    "TISSUE_CLASSES",
    "TISSUE_RULES",
    "MedMNIST3DDataset",
    "MedMNISTLayoutDataset",
    "SimpleITKReader",
    "TissuePatchDataset",
    "check_image_readable",
    "classification_preprocessing",
    "list_volumes",
    "load_classification_datalist",
    "load_medmnist_npz",
    "load_tissue_arrays",
    "medmnist3d_info",
    "medmnist_path",
]

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
from __future__ import annotations

from .checks import VolumeCheck, VolumeInfo, check_volume, check_volumes
from .datalist import class_names, list_volumes, load_classification_datalist, split_readable_volumes
from .datasets import MedMNIST3DDataset, MedMNISTLayoutDataset, TissuePatchDataset
from .domain import raise_if_refused, refuse_outside_domain, training_extent_mm, volume_extent_mm
from .medmnist import MEDMNIST3D_INFO, load_medmnist_npz, medmnist3d_info, medmnist_path
from .preprocessing import MODALITIES, classification_preprocessing, rotation_context_size, segmentation_preprocessing
from .readers import SimpleITKReader, check_image_readable
from .segmentation_datalist import load_segmentation_datalist
from .subsets import balanced_indices, balanced_subset, dataset_labels
from .tissue import TISSUE_CLASSES, TISSUE_RULES, load_tissue_arrays, template_white_matter_peak
from .tissue_segmentation import (
    TISSUE_SEGMENTATION_CLASSES,
    TISSUE_SEGMENTATION_RULES,
    TissueSegmentationDataset,
    load_tissue_segmentation_arrays,
)

__all__ = [
    "MEDMNIST3D_INFO",
    "MODALITIES",
    "TISSUE_CLASSES",
    "TISSUE_RULES",
    "TISSUE_SEGMENTATION_CLASSES",
    "TISSUE_SEGMENTATION_RULES",
    "MedMNIST3DDataset",
    "MedMNISTLayoutDataset",
    "SimpleITKReader",
    "TissuePatchDataset",
    "TissueSegmentationDataset",
    "balanced_indices",
    "balanced_subset",
    "dataset_labels",
    "VolumeCheck",
    "VolumeInfo",
    "check_image_readable",
    "check_volume",
    "check_volumes",
    "class_names",
    "classification_preprocessing",
    "list_volumes",
    "load_classification_datalist",
    "load_medmnist_npz",
    "load_segmentation_datalist",
    "load_tissue_arrays",
    "load_tissue_segmentation_arrays",
    "medmnist3d_info",
    "medmnist_path",
    "raise_if_refused",
    "refuse_outside_domain",
    "rotation_context_size",
    "segmentation_preprocessing",
    "split_readable_volumes",
    "template_white_matter_peak",
    "training_extent_mm",
    "volume_extent_mm",
]

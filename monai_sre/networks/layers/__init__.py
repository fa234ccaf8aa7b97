# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
from __future__ import annotations

from monai_sre.deprecation import deprecated_names

from .bands import BAND_LAYOUTS, BandLayout
from .factories import register_layer_factories
from .group_conv import GroupConv
from .group_features import GroupFeatureType, check_compatible, check_group_features
from .group_norm import GroupBatchNorm, OrientationGroupNorm, group_feature_norm
from .group_pool import GroupPool
from .sre_conv import (
    SREConv,
    SREConv1d,
    SREConv2d,
    SREConv3d,
    SREConvTranspose,
    SREConvTranspose1d,
    SREConvTranspose2d,
    SREConvTranspose3d,
)
from .symmetric_pool import SymmetricPool

__all__ = [
    "BAND_LAYOUTS",
    "BandLayout",
    "GroupBatchNorm",
    "GroupConv",
    "GroupFeatureType",
    "GroupPool",
    "OrientationGroupNorm",
    "SREConv",
    "SREConv1d",
    "SREConv2d",
    "SREConv3d",
    "SREConvTranspose",
    "SREConvTranspose1d",
    "SREConvTranspose2d",
    "SREConvTranspose3d",
    "SymmetricPool",
    "check_compatible",
    "check_group_features",
    "group_feature_norm",
    "register_layer_factories",
]

# old names, kept for one release
__getattr__ = deprecated_names(
    __name__,
    {
        "GroupFeatureGroupNorm": "monai_sre.networks.layers.group_norm:OrientationGroupNorm",
        "convert_authors_state_dict": "monai_sre.networks.weights:convert_authors_state_dict",
        "load_authors_state_dict": "monai_sre.networks.weights:load_authors_state_dict",
    },
)

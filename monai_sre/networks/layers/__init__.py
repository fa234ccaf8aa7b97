# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
from __future__ import annotations

from .bands import BAND_LAYOUTS, BandLayout
from .checkpoints import convert_authors_state_dict, load_authors_state_dict
from .factories import register_layer_factories
from .group_conv import GroupConv
from .group_norm import GroupBatchNorm, GroupFeatureGroupNorm, group_feature_norm
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
    "GroupFeatureGroupNorm",
    "GroupPool",
    "SREConv",
    "SREConv1d",
    "SREConv2d",
    "SREConv3d",
    "SREConvTranspose",
    "SREConvTranspose1d",
    "SREConvTranspose2d",
    "SREConvTranspose3d",
    "SymmetricPool",
    "convert_authors_state_dict",
    "group_feature_norm",
    "load_authors_state_dict",
    "register_layer_factories",
]

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""monai_sre: symmetric rotation-equivariant (SRE) convolution for MONAI.

Importing the package registers the SRE layers in MONAI's layer factory (``Conv["sre", 3]``,
``Conv["sretrans", 3]``); registration is idempotent.
"""

from __future__ import annotations

from . import data, evaluation, handlers, networks, transforms, utils
from .evaluation import equivariance_error, evaluate_rotation_robustness, invariance_error
from .networks.blocks import SREBasicBlock, SREBottleneckBlock, SymmetricPool
from .networks.convert import ConversionReport, convert_to_sre
from .networks.layers import (
    BandLayout,
    SREConv,
    SREConv1d,
    SREConv2d,
    SREConv3d,
    SREConvTranspose,
    SREConvTranspose1d,
    SREConvTranspose2d,
    SREConvTranspose3d,
    load_authors_state_dict,
    register_layer_factories,
)
from .networks.nets import SREResNet, create_model, list_models, register_model

__version__ = "0.1.0"

register_layer_factories()

__all__ = [
    "BandLayout",
    "ConversionReport",
    "SREBasicBlock",
    "SREBottleneckBlock",
    "SREResNet",
    "SymmetricPool",
    "convert_to_sre",
    "data",
    "equivariance_error",
    "evaluate_rotation_robustness",
    "evaluation",
    "handlers",
    "invariance_error",
    "networks",
    "transforms",
    "utils",
    "create_model",
    "list_models",
    "register_model",
    "SREConv",
    "SREConv1d",
    "SREConv2d",
    "SREConv3d",
    "SREConvTranspose",
    "SREConvTranspose1d",
    "SREConvTranspose2d",
    "SREConvTranspose3d",
    "__version__",
    "load_authors_state_dict",
    "register_layer_factories",
]

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""monai_sre: symmetric rotation-equivariant (SRE) convolution for MONAI.

Importing the package registers the SRE layers in MONAI's layer factory (``Conv["sre", 3]``,
``Conv["sretrans", 3]``); registration is idempotent.
"""

from __future__ import annotations

from . import data, engines, evaluation, groups, handlers, inferers, networks, runs, transforms
from .deprecation import deprecated_names
from .evaluation import (
    assert_equivariant,
    equivariance_error,
    evaluate_rotation_robustness,
    evaluate_segmentation_robustness,
    invariance_error,
)
from .groups import GridGroup, grid_group
from .networks.blocks import GroupBasicBlock, SREBasicBlock, SREBottleneckBlock
from .networks.convert import ConversionReport, convert_to_sre
from .networks.convert_group import convert_to_group
from .networks.layers import (
    BandLayout,
    GroupBatchNorm,
    GroupConv,
    GroupPool,
    SREConv,
    SREConv1d,
    SREConv2d,
    SREConv3d,
    SREConvTranspose,
    SREConvTranspose1d,
    SREConvTranspose2d,
    SREConvTranspose3d,
    SymmetricPool,
    register_layer_factories,
)
from .networks.nets import (
    GridAveraged,
    GroupResNet,
    GroupUNet,
    SREResNet,
    SREUNet,
    create_model,
    list_models,
    register_model,
)

__version__ = "0.1.0"

register_layer_factories()

# moved: monai_sre.networks.weights (load_weights, the authors' state dicts); the old names warn once
__getattr__ = deprecated_names(
    __name__,
    {
        "load_authors_state_dict": "monai_sre.networks.weights:load_authors_state_dict",
        "utils": "monai_sre.networks:weights",
    },
)

__all__ = [
    "GridAveraged",
    "GridGroup",
    "GroupBasicBlock",
    "GroupBatchNorm",
    "GroupConv",
    "GroupPool",
    "GroupResNet",
    "GroupUNet",
    "convert_to_group",
    "grid_group",
    "groups",
    "inferers",
    "runs",
    "BandLayout",
    "ConversionReport",
    "SREBasicBlock",
    "SREBottleneckBlock",
    "SREResNet",
    "SREUNet",
    "SymmetricPool",
    "convert_to_sre",
    "data",
    "engines",
    "assert_equivariant",
    "equivariance_error",
    "evaluate_rotation_robustness",
    "evaluate_segmentation_robustness",
    "evaluation",
    "handlers",
    "invariance_error",
    "networks",
    "transforms",
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
    "register_layer_factories",
]

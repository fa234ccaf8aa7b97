# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
from __future__ import annotations

from .grid_average import GridAveraged
from .group_resnet import GroupResNet, group_resnet18, group_resnet_light
from .plain_resnet import plain_resnet_light
from .registry import create_model, list_models, register_model
from .sre_resnet import (
    SREResNet,
    sre_resnet10,
    sre_resnet18,
    sre_resnet18_paper,
    sre_resnet34,
    sre_resnet50,
    sre_resnet_light,
)

__all__ = [
    "GridAveraged",
    "GroupResNet",
    "group_resnet18",
    "group_resnet_light",
    "SREResNet",
    "create_model",
    "list_models",
    "plain_resnet_light",
    "register_model",
    "sre_resnet10",
    "sre_resnet18",
    "sre_resnet18_paper",
    "sre_resnet34",
    "sre_resnet50",
    "sre_resnet_light",
]

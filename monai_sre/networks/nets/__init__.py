# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
from __future__ import annotations

from .equivariant_unet import GroupUNet, SREUNet, group_unet_light, sre_unet_light
from .grid_average import GridAveraged
from .group_resnet import GroupResNet, group_resnet18, group_resnet_light
from .plain_resnet import PlainResNet, plain_resnet_light
from .plain_unet import plain_unet_light
from .registry import MODEL_TASKS, create_model, list_models, model_task, register_model
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
    "MODEL_TASKS",
    "GridAveraged",
    "GroupResNet",
    "GroupUNet",
    "group_resnet18",
    "group_resnet_light",
    "group_unet_light",
    "SREResNet",
    "SREUNet",
    "create_model",
    "list_models",
    "model_task",
    "PlainResNet",
    "plain_resnet_light",
    "plain_unet_light",
    "register_model",
    "sre_resnet10",
    "sre_resnet18",
    "sre_resnet18_paper",
    "sre_resnet34",
    "sre_resnet50",
    "sre_resnet_light",
    "sre_unet_light",
]

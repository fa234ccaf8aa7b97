# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""A registry of network builders: ``create_model(name, **kwargs)`` and ``list_models(pattern, task)``.

Every builder is registered with its task: ``"classification"`` (logits ``(batch, num_classes)``, built with
``n_input_channels`` and ``num_classes``, as MONAI's ResNet) or ``"segmentation"`` (per-voxel logits
``(batch, out_channels, *spatial)``, built with ``in_channels`` and ``out_channels``, as MONAI's U-Nets).
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable

from monai.utils import look_up_option
from torch import nn

__all__ = ["MODEL_TASKS", "create_model", "list_models", "model_task", "register_model"]

MODEL_TASKS = ("classification", "segmentation")
_MODELS: dict[str, Callable[..., nn.Module]] = {}
_TASKS: dict[str, str] = {}


def register_model(builder: Callable[..., nn.Module] | None = None, *, task: str = "classification"):
    """Register ``builder`` under its function name: ``@register_model`` or ``@register_model(task="segmentation")``.

    Raises:
        ValueError: when the name is registered already, or on an unknown task.
    """
    task = look_up_option(task, MODEL_TASKS)
    if builder is None:
        return lambda function: register_model(function, task=task)
    name = builder.__name__
    if name in _MODELS:
        raise ValueError(f"model name '{name}' is registered already (by {_MODELS[name].__module__}).")
    _MODELS[name] = builder
    _TASKS[name] = task
    return builder


def list_models(pattern: str = "*", task: str | None = None) -> list[str]:
    """Sorted names of the registered models that match the shell-style ``pattern`` (and ``task``, if given)."""
    if task is not None:
        task = look_up_option(task, MODEL_TASKS)
    return sorted(name for name in _MODELS if fnmatch.fnmatchcase(name, pattern) and task in (None, _TASKS[name]))


def model_task(name: str) -> str:
    """The task the registered model ``name`` was registered for (``"classification"`` or ``"segmentation"``).

    Raises:
        ValueError: for an unknown name.
    """
    if name not in _MODELS:
        raise ValueError(f"unknown model '{name}'. Registered: {', '.join(list_models())}.")
    return _TASKS[name]


def create_model(name: str, task: str | None = None, **kwargs) -> nn.Module:
    """Build the registered model ``name`` with ``kwargs`` passed to its builder.

    Args:
        name: a registered name (:func:`list_models`).
        task: if given, the task the caller needs (a classification bundle passes ``"classification"``): a model
            of another task is refused with the names that fit.
        kwargs: the builder's arguments.

    Raises:
        ValueError: for an unknown name (the message lists the closest registered names), or a model of another
            task than ``task``.
    """
    if name not in _MODELS:
        close = difflib.get_close_matches(name, _MODELS, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"unknown model '{name}'.{hint} Registered: {', '.join(list_models())}.")
    if task is not None and _TASKS[name] != look_up_option(task, MODEL_TASKS):
        raise ValueError(
            f"model '{name}' is a {_TASKS[name]} network; a {task} network is needed here: "
            f"{', '.join(list_models(task=task))}."
        )
    return _MODELS[name](**kwargs)

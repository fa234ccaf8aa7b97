# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""A registry of network builders: ``create_model(name, **kwargs)`` and ``list_models(pattern)``."""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable

from torch import nn

__all__ = ["create_model", "list_models", "register_model"]

_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Register ``builder`` under its function name (a decorator).

    Raises:
        ValueError: when the name is registered already.
    """
    name = builder.__name__
    if name in _MODELS:
        raise ValueError(f"model name '{name}' is registered already (by {_MODELS[name].__module__}).")
    _MODELS[name] = builder
    return builder


def list_models(pattern: str = "*") -> list[str]:
    """Sorted names of the registered models that match the shell-style ``pattern``."""
    return sorted(name for name in _MODELS if fnmatch.fnmatchcase(name, pattern))


def create_model(name: str, **kwargs) -> nn.Module:
    """Build the registered model ``name`` with ``kwargs`` passed to its builder.

    Raises:
        ValueError: for an unknown name; the message lists the closest registered names.
    """
    if name not in _MODELS:
        close = difflib.get_close_matches(name, _MODELS, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"unknown model '{name}'.{hint} Registered: {', '.join(list_models())}.")
    return _MODELS[name](**kwargs)

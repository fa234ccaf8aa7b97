# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Safe loading of weight files (state dicts) for scripts and bundle configs."""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

__all__ = ["load_weights"]


def load_weights(path: str | Path, network: nn.Module | None = None, map_location: str | torch.device = "cpu"):
    """Read a state dict with ``torch.load(..., weights_only=True)`` and optionally load it into ``network``.

    A file that is missing, corrupt, carries code (a pickled class or function), or is not a state dict fails
    here, early, with the file named; nothing in it is executed.

    Returns:
        the state dict, or ``network`` with the weights loaded (strictly) when one is given.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: '{path}'.")
    with path.open("rb") as handle:
        start = handle.read(2)
    if start != b"PK" and not start.startswith(b"\x80"):  # torch.save writes a zip archive (or, before 1.6, a pickle)
        raise ValueError(
            f"cannot load weights from '{path}': it is not a file written by torch.save (it starts {start!r})."
        )
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(
            f"cannot load weights from '{path}': not a plain state dict readable with weights_only=True "
            f"(corrupt, or it carries code, which is refused). {reason}"
        ) from error
    if isinstance(state, Mapping) and "model" in state and isinstance(state["model"], Mapping):
        state = state["model"]  # {"model": state_dict}, as MONAI's CheckpointSaver writes for several objects
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"'{path}' does not hold a state dict (a mapping of names to tensors).")
    if network is None:
        return state
    try:
        network.load_state_dict(state)
    except RuntimeError as error:
        raise ValueError(f"weights in '{path}' do not fit {type(network).__name__}: {error}") from error
    return network

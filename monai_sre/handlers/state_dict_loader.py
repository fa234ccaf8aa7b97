# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""An ignite handler that loads a plain state dict into a network when an engine starts."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from monai.utils import IgniteInfo, min_version, optional_import
from torch import nn

from monai_sre.networks.weights import load_weights

Events, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Events")
if TYPE_CHECKING:
    from ignite.engine import Engine
else:
    Engine, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Engine")

__all__ = ["StateDictLoader"]


class StateDictLoader:
    """Load the weights file ``load_path`` into ``network`` when the engine starts (``Events.STARTED``).

    The bundle counterpart of MONAI's ``CheckpointLoader`` for a file that holds one network's state dict (or
    ``{"model": state_dict}``, as ``CheckpointSaver`` writes). It reads the file through
    :func:`monai_sre.networks.weights.load_weights` (``torch.load(..., weights_only=True)``, strict
    ``load_state_dict``), so a missing or corrupt file, one that carries code, one that is not a state dict, or
    weights that do not fit the network stop the engine before its first iteration, with the file named in the
    error. MONAI's handler names the file only when it is missing.

    Attach it first among an evaluator's handlers, so that the network holds the weights before any other
    handler uses it. Example (bundle config)::

        {"_target_": "monai_sre.handlers.StateDictLoader", "load_path": "@ckpt_path", "network": "@network"}

    Args:
        load_path: the weights file.
        network: the network to load into (its parameters keep their device).
        map_location: where ``torch.load`` puts the tensors before they are copied into ``network``.
        name: name of the logger; defaults to the engine's logger.
    """

    def __init__(
        self,
        load_path: str | Path,
        network: nn.Module,
        map_location: str | torch.device = "cpu",
        name: str | None = None,
    ) -> None:
        if not isinstance(network, nn.Module):
            raise TypeError(f"network must be a torch.nn.Module, got {type(network).__name__}.")
        self.load_path = Path(load_path)
        self.network = network
        self.map_location = map_location
        self._name = name
        self.logger = logging.getLogger(name)

    def attach(self, engine: Engine) -> None:
        if self._name is None:
            self.logger = engine.logger
        engine.add_event_handler(Events.STARTED, self)

    def __call__(self, engine: Engine | None = None) -> None:
        load_weights(self.load_path, self.network, map_location=self.map_location)
        self.logger.info(f"loaded weights from '{self.load_path}' into {type(self.network).__name__}")

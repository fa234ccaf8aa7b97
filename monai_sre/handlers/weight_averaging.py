# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""An exponential moving average of a network's weights, validated (and so selected and saved) in their place."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from monai.utils import IgniteInfo, min_version, optional_import

Events, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Events")
if TYPE_CHECKING:
    from ignite.engine import Engine
else:
    Engine, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Engine")

__all__ = ["WeightAveraging"]


class WeightAveraging:
    """Keep an exponential moving average (EMA) of a trained network's weights and let the validator see it.

    Attached to a trainer, it updates the average after every iteration: ``average += (1 - d) * (weights -
    average)`` over every floating-point entry of the network's ``state_dict`` (batch-norm running statistics
    included; integer buffers are copied), with ``d = min(decay, (1 + n) / (10 + n))`` after ``n`` updates so that
    the average follows the network closely at first. That cap rules until ``(1 + n) / (10 + n)`` reaches ``decay``
    (n = 1791 for 0.995): in a shorter run the average weighs about the latest ``n / 9`` updates (after 760 updates,
    ``d`` = 0.988). With a ``validator``, the average is loaded into the network
    when the validator starts and the training weights are put back when it completes: the validator's metrics,
    its key-metric ``CheckpointSaver`` (the best model file) and everything else that runs during validation see
    the averaged weights, while training goes on from its own (an exception inside the validator leaves the average
    in the network). Averaging the latest weights smooths the noise of small-batch training on few samples (Polyak
    averaging; Izmailov et al., 2018, "Averaging weights leads to wider optima and better generalization"); what it
    does to the default network on the tissue task is measured in ``docs/comparison.md``.

    Example (bundle config, trainer handlers, after the ``ValidationHandler``)::

        {"_target_": "monai_sre.handlers.WeightAveraging", "network": "@network",
         "validator": "@validate#evaluator", "decay": 0.995}

    Args:
        network: the trained network (a ``DistributedDataParallel`` wrapper averages its module's weights).
        validator: the validation engine that should evaluate the average, if any.
        decay: the largest weight of the average at an update, in ``[0, 1)``; once reached, about
            ``1 / (1 - decay)`` recent iterations dominate the average. ``None``: no averaging (attaching does
            nothing; the bundles' default, switched on with ``--weight_averaging_decay 0.995``).

    Raises:
        ValueError: when ``decay`` is neither ``None`` nor a number in ``[0, 1)``.
    """

    def __init__(self, network: torch.nn.Module, validator: Engine | None = None, decay: float | None = 0.995) -> None:
        if decay is not None and (isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0 <= decay < 1):
            raise ValueError(f"decay must be None or a number in [0, 1), got {decay!r}.")
        self.network = network
        self.validator = validator
        self.decay = None if decay is None else float(decay)
        self.updates = 0
        self.average: dict[str, torch.Tensor] | None = None
        self._training_weights: dict[str, torch.Tensor] | None = None

    @property
    def enabled(self) -> bool:
        """Whether it averages (``decay`` is not ``None``)."""
        return self.decay is not None

    def attach(self, engine: Engine) -> None:
        if not self.enabled:
            return
        engine.add_event_handler(Events.ITERATION_COMPLETED, self.update)
        if self.validator is not None:
            self.validator.add_event_handler(Events.STARTED, self.load_average)
            self.validator.add_event_handler(Events.COMPLETED, self.restore_training_weights)

    def _module(self) -> torch.nn.Module:
        return getattr(self.network, "module", self.network)

    @torch.no_grad()
    def update(self, engine: Engine | None = None) -> None:
        """Move the average towards the network's current weights (or start it from them)."""
        weights = self._module().state_dict()
        if self.average is None:
            self.average = {name: value.detach().clone() for name, value in weights.items()}
        else:
            decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
            for name, value in weights.items():
                if value.is_floating_point():
                    self.average[name].lerp_(value.detach(), 1.0 - decay)
                else:
                    self.average[name].copy_(value)
        self.updates += 1

    def load_average(self, engine: Engine | None = None) -> None:
        """Put the average into the network, keeping its training weights (nothing before the first update)."""
        if self.average is None or self._training_weights is not None:
            return
        module = self._module()
        self._training_weights = {name: value.detach().clone() for name, value in module.state_dict().items()}
        module.load_state_dict(self.average)

    def restore_training_weights(self, engine: Engine | None = None) -> None:
        """Put the training weights back after :meth:`load_average`."""
        if self._training_weights is not None:
            self._module().load_state_dict(self._training_weights)
            self._training_weights = None

    def state_dict(self) -> dict[str, Any]:
        """The average and the number of updates, for a training checkpoint."""
        return {"average": self.average, "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state_dict` (on resuming a training run)."""
        self.average = None if state["average"] is None else {k: v.clone() for k, v in state["average"].items()}
        self.updates = int(state["updates"])

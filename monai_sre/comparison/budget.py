# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Equal optimiser steps at every training fraction: the epochs and validation interval of a comparison run.

Giving a model 10 % of the training data and the 100 % run's epochs gives it a tenth of the optimiser steps, which
measures a shorter schedule, not data efficiency. The protocol of the equivariant-CNN literature (the CATH
data-efficiency runs of 3D steerable CNNs, for example) keeps the steps constant: the epochs grow as the subset
shrinks, the learning-rate schedule spans the whole run, and validation happens a fixed number of times per run
(at 2 % a run has 50x the epochs; validating every one would cost more than the training).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from monai_sre.arguments import check_positive_int

__all__ = ["EqualStepsBudget", "RunBudget"]


@dataclass(frozen=True)
class RunBudget:
    """What one run trains for: ``epochs`` over its ``num_train`` items, validating every ``val_interval`` epochs
    (at the last epoch too), ``steps`` optimiser steps in all."""

    num_train: int
    epochs: int
    val_interval: int
    steps: int

    @property
    def validations(self) -> int:
        return self.epochs // self.val_interval


@dataclass(frozen=True)
class EqualStepsBudget:
    """The 100 % budget (``epochs`` over ``num_train`` items in batches of ``batch_size``) spread over any subset size.

    Args:
        num_train: items of the full training split.
        batch_size: the training batch size (the last batch of an epoch may be smaller, as with ``drop_last=False``).
        epochs: epochs of the 100 % run.
        validations: how many times a run validates (the best validation accuracy picks its checkpoint).

    Example::

        >>> budget = EqualStepsBudget(num_train=1200, batch_size=32, epochs=20)
        >>> budget.total_steps, budget.for_size(24)
        (760, RunBudget(num_train=24, epochs=760, val_interval=38, steps=760))
    """

    num_train: int
    batch_size: int
    epochs: int
    validations: int = 20

    def __post_init__(self) -> None:
        for name in ("num_train", "batch_size", "epochs", "validations"):
            check_positive_int(name, getattr(self, name))

    def steps_per_epoch(self, num_train: int) -> int:
        return math.ceil(num_train / self.batch_size)

    @property
    def total_steps(self) -> int:
        """Optimiser steps of the 100 % run, which every subset gets too."""
        return self.epochs * self.steps_per_epoch(self.num_train)

    def for_size(self, num_train: int) -> RunBudget:
        """Epochs and validation interval for a subset of ``num_train`` items.

        The epochs are the total steps over the subset's steps per epoch (rounded up); the validation interval spreads
        at most ``validations`` validations over them, and the epochs are rounded to the nearest multiple of it so
        that the last epoch validates. The steps that result are reported (within half a validation interval of the
        100 % run's).

        Raises:
            ValueError: ``num_train`` is not a positive int or exceeds the full split.
        """
        if isinstance(num_train, bool) or not isinstance(num_train, int) or not 1 <= num_train <= self.num_train:
            raise ValueError(f"num_train must be an int in 1..{self.num_train}, got {num_train!r}.")
        per_epoch = self.steps_per_epoch(num_train)
        epochs = math.ceil(self.total_steps / per_epoch)
        interval = math.ceil(epochs / self.validations)
        epochs = max(1, round(epochs / interval)) * interval
        return RunBudget(num_train, epochs, interval, epochs * per_epoch)

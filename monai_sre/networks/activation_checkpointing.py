# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Activation checkpointing that leaves batch-norm running statistics as one forward would.

:func:`checkpointed` runs a module under :func:`torch.utils.checkpoint.checkpoint`: only the module's inputs are
kept for the backward, and its forward runs again there to rebuild what the backward needs. Plain checkpointing
of a block that holds batch norm would update the running statistics twice per step (once in the forward, once
in the recomputation); here the recomputation runs with every batch norm's momentum at zero and its batch counter
restored, so the running statistics, the outputs and the gradients equal those of an ordinary forward.

The ResNets' ``use_checkpoint`` option (:class:`~monai_sre.networks.nets.SREResNet`,
:class:`~monai_sre.networks.nets.GroupResNet`) runs their stem and every residual block this way.
(Moved from ``monai_sre.networks.blocks.activation_checkpointing``: it is a helper, not a block.)
"""

from __future__ import annotations

from contextlib import nullcontext

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.checkpoint import checkpoint

__all__ = ["checkpointed", "frozen_batch_norm_statistics"]


class frozen_batch_norm_statistics:  # noqa: N801 (a context manager, named like contextlib's)
    """Within the context, forwards of ``module`` leave its batch norms' running statistics untouched.

    Batch norms still normalise with the batch's statistics in train mode; only the running averages and the
    batch counter are kept as they were. The context can be entered again (a double backward recomputes the
    checkpointed forward more than once).
    """

    def __init__(self, module: nn.Module) -> None:
        self.module = module
        self._saved: list = []

    def __enter__(self) -> None:
        norms = [m for m in self.module.modules() if isinstance(m, _BatchNorm) and m.track_running_stats and m.training]
        self._saved = [(m, m.momentum, None if m.num_batches_tracked is None else m.num_batches_tracked.clone())
                       for m in norms]  # fmt: skip
        for norm in norms:  # momentum 0 keeps the running averages (also for the cumulative average, momentum None)
            norm.momentum = 0.0

    def __exit__(self, *exc_info) -> None:
        for norm, momentum, count in self._saved:
            norm.momentum = momentum
            if count is not None:
                norm.num_batches_tracked.copy_(count)
        self._saved = []


def checkpointed(module: nn.Module, *inputs: torch.Tensor) -> torch.Tensor:
    """``module(*inputs)``, keeping only ``inputs`` for the backward and recomputing the rest there.

    Outputs, gradients of every order and batch-norm running statistics equal those of ``module(*inputs)``;
    the cost is a second forward of ``module`` in the backward. Use it in training only: under
    ``torch.no_grad()`` there is nothing to save.
    """
    return checkpoint(
        module,
        *inputs,
        use_reentrant=False,
        context_fn=lambda: (nullcontext(), frozen_batch_norm_statistics(module)),
    )

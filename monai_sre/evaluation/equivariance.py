# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Measured equivariance and invariance errors of any module, shipped as library code for tests and users.

Both compare a module's response to transformed inputs with the transformed response, over a protocol of
:class:`~monai_sre.transforms.RotationCase` (``"grid48"`` by default: exact symmetries, no interpolation).
Errors are relative Frobenius norms over the whole batch. For interpolated rotations the corners of a rotated
volume are cut; ``mask_radius`` restricts the comparison of volume outputs to a central ball.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.utils import look_up_option
from torch import nn

from monai_sre.transforms.sweep import RotationCase, RotationSweep

__all__ = ["equivariance_error", "invariance_error"]


def _cases(cases: str | RotationSweep | Sequence[RotationCase], spatial_dims: int) -> list[RotationCase]:
    if isinstance(cases, str):
        return RotationSweep(cases, spatial_dims).cases
    return list(cases)


def _ball_mask(shape: Sequence[int], radius: float, device: torch.device) -> torch.Tensor:
    """Voxels within ``radius`` (a fraction of the smallest half-width) of the centre."""
    axes = [torch.arange(n, device=device, dtype=torch.float64) - (n - 1) / 2 for n in shape]
    grids = torch.meshgrid(*axes, indexing="ij")
    limit = radius * (min(shape) - 1) / 2
    return sum(g**2 for g in grids) <= limit**2 + 1e-9


def _relative(a: torch.Tensor, b: torch.Tensor, mask_radius: float | None, spatial_dims: int) -> float:
    if mask_radius is not None and a.dim() == spatial_dims + 2:
        mask = _ball_mask(a.shape[2:], mask_radius, a.device)
        a, b = a[..., mask], b[..., mask]
    return float(torch.linalg.vector_norm((a - b).double()) / torch.linalg.vector_norm(b.double()).clamp_min(1e-30))


def _reduce(errors: dict[str, float], reduction: str) -> dict[str, float] | float:
    look_up_option(reduction, ("max", "mean", "none"))
    if reduction == "none":
        return errors
    values = torch.tensor(list(errors.values()), dtype=torch.float64)
    return float(values.max() if reduction == "max" else values.mean())


@torch.no_grad()
def equivariance_error(
    module: nn.Module,
    x: torch.Tensor,
    cases: str | RotationSweep | Sequence[RotationCase] = "grid48",
    mask_radius: float | None = None,
    reduction: str = "max",
) -> dict[str, float] | float:
    """Relative error ``||f(g x) - g f(x)|| / ||g f(x)||`` for every case ``g``.

    Args:
        module: maps ``(N, C, *spatial)`` to ``(N, C', *spatial')`` (evaluated as it is: call ``.eval()`` first
            for BatchNorm running statistics).
        x: input batch.
        cases: a protocol name, a :class:`RotationSweep` or a list of cases.
        mask_radius: compare only inside the central ball of this fraction of the half-width.
        reduction: ``"max"`` or ``"mean"`` over cases, or ``"none"`` for ``{case name: error}``.
    """
    spatial_dims = x.dim() - 2
    reference = module(x)
    errors = {
        case.name: _relative(module(case.apply(x)), case.apply(reference), mask_radius, spatial_dims)
        for case in _cases(cases, spatial_dims)
    }
    return _reduce(errors, reduction)


@torch.no_grad()
def invariance_error(
    model: nn.Module,
    x: torch.Tensor,
    cases: str | RotationSweep | Sequence[RotationCase] = "grid48",
    reduction: str = "max",
) -> dict[str, float] | float:
    """Relative error ``||f(g x) - f(x)|| / ||f(x)||`` of a model's output (logits or features) for every case."""
    spatial_dims = x.dim() - 2
    reference = model(x)
    errors = {
        case.name: _relative(model(case.apply(x)), reference, None, spatial_dims)
        for case in _cases(cases, spatial_dims)
    }
    return _reduce(errors, reduction)

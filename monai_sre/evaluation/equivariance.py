# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Measured equivariance and invariance errors of any function, and an assertion, shipped as library code.

:func:`equivariance_error` and :func:`invariance_error` compare a function's response to transformed inputs with
the transformed (or the same) response, over cases given as a protocol name (``"grid48"`` by default: exact
symmetries, no interpolation), a grid group name (``"C4"``, ``"D4"``, ``"O"``, ``"Oh"``), a
:class:`~monai_sre.evaluation.sweep.RotationSweep`, a group, or a list of cases or grid symmetry elements. Errors
are relative Frobenius norms over the whole batch. For interpolated rotations the corners of a rotated volume
are cut; ``mask_radius`` restricts the comparison of volume outputs to a central ball.

:func:`label_agreement` measures segmentation networks on their label maps instead: the fraction of voxels where
``argmax f(g x)`` equals ``g argmax f(x)`` (label maps moved with nearest neighbour, so labels never mix).

:func:`assert_equivariant` (after e3nn's) raises when any case exceeds a tolerance that follows the dtype, naming
the worst case; use it in tests::

    assert_equivariant(SREConv(3, 2, 4, 3).double(), torch.randn(2, 2, 9, 9, 9, dtype=torch.float64))
    assert_equivariant(model.eval(), x, "O", output_transform=lambda y, case: y)  # invariant logits
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from monai.utils import look_up_option

from monai_sre.evaluation.segmentation import predicted_labels
from monai_sre.evaluation.sweep import RotationCase, RotationSweep
from monai_sre.groups import GRID_GROUPS, GridGroup, GridSymmetryElement, grid_group

__all__ = ["assert_equivariant", "equivariance_error", "equivariance_tolerance", "invariance_error", "label_agreement"]

Cases = (
    str | RotationSweep | GridGroup | RotationCase | GridSymmetryElement | Sequence[RotationCase | GridSymmetryElement]
)
Action = Callable[[torch.Tensor, RotationCase], torch.Tensor]

# (rtol relative to the output's RMS, atol floor) per dtype. float64 agrees to round-off; float32 conv sums
# accumulate in a different order under permuted inputs; half precision keeps about three decimal digits.
TOLERANCES = {
    torch.float64: (1e-10, 1e-12),
    torch.float32: (1e-4, 1e-6),
    torch.float16: (1e-2, 1e-3),
    torch.bfloat16: (5e-2, 1e-2),
}


def equivariance_tolerance(dtype: torch.dtype) -> tuple[float, float]:
    """The default ``(rtol, atol)`` of :func:`assert_equivariant` for ``dtype``.

    ``rtol`` is relative to the RMS of the expected output, ``atol`` an absolute floor for outputs near zero:
    float64 ``(1e-10, 1e-12)``, float32 ``(1e-4, 1e-6)``, float16 ``(1e-2, 1e-3)``, bfloat16 ``(5e-2, 1e-2)``;
    other floating dtypes get the loosest entry, integer and bool outputs must match exactly.
    """
    if dtype in TOLERANCES:
        return TOLERANCES[dtype]
    if dtype.is_floating_point:
        return max(TOLERANCES.values())
    return 0.0, 0.0


def _as_case(item: RotationCase | GridSymmetryElement) -> RotationCase:
    if isinstance(item, RotationCase):
        return item
    if isinstance(item, GridSymmetryElement):
        return RotationCase(f"grid{item}", "grid", element=item)
    raise TypeError(f"cases must be rotation cases or grid symmetry elements, got {type(item).__name__}.")


def _cases(cases: Cases, spatial_dims: int) -> list[RotationCase]:
    if isinstance(cases, str):
        if cases in GRID_GROUPS:
            return [_as_case(e) for e in grid_group(cases).elements]
        return RotationSweep(cases, spatial_dims).cases
    if isinstance(cases, RotationSweep):
        return list(cases.cases)
    if isinstance(cases, GridGroup):
        return [_as_case(e) for e in cases.elements]
    if isinstance(cases, (RotationCase, GridSymmetryElement)):
        return [_as_case(cases)]
    return [_as_case(c) for c in cases]


def _ball_mask(shape: Sequence[int], radius: float, device: torch.device) -> torch.Tensor:
    """Voxels within ``radius`` (a fraction of the smallest half-width) of the centre."""
    axes = [torch.arange(n, device=device, dtype=torch.float64) - (n - 1) / 2 for n in shape]
    grids = torch.meshgrid(*axes, indexing="ij")
    limit = radius * (min(shape) - 1) / 2
    return sum(g**2 for g in grids) <= limit**2 + 1e-9


@dataclass(frozen=True)
class _Difference:
    """Norms of ``actual - expected`` and of ``expected`` over ``count`` values."""

    difference: float
    expected: float
    count: int

    @property
    def relative(self) -> float:
        return self.difference / max(self.expected, 1e-30)


def _difference(actual: torch.Tensor, expected: torch.Tensor, mask_radius: float | None, spatial_dims: int):
    if actual.shape != expected.shape:
        raise ValueError(
            f"the transformed output has shape {tuple(expected.shape)} but the output of the transformed input has "
            f"shape {tuple(actual.shape)}; pass output_transform for outputs the input's action does not fit."
        )
    if mask_radius is not None and actual.dim() == spatial_dims + 2:
        mask = _ball_mask(actual.shape[2:], mask_radius, actual.device)
        actual, expected = actual[..., mask], expected[..., mask]
    difference = torch.linalg.vector_norm((actual - expected).double())
    return _Difference(float(difference), float(torch.linalg.vector_norm(expected.double())), max(expected.numel(), 1))


def _apply(tensor: torch.Tensor, case: RotationCase) -> torch.Tensor:
    return case.apply(tensor)


@torch.no_grad()
def _differences(
    f: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    cases: Cases,
    input_transform: Action | None,
    output_transform: Action | None,
    mask_radius: float | None,
) -> tuple[torch.Tensor, dict[str, _Difference]]:
    spatial_dims = x.dim() - 2
    input_transform = input_transform or _apply
    output_transform = output_transform or _apply
    reference = f(x)
    differences = {
        case.name: _difference(
            f(input_transform(x, case)), output_transform(reference, case), mask_radius, spatial_dims
        )
        for case in _cases(cases, spatial_dims)
    }
    if not differences:
        raise ValueError("no cases to check: the protocol, group or list is empty.")
    return reference, differences


def _reduce(errors: dict[str, float], reduction: str) -> dict[str, float] | float:
    look_up_option(reduction, ("max", "min", "mean", "none"))
    if reduction == "none":
        return errors
    values = torch.tensor(list(errors.values()), dtype=torch.float64)
    return float({"max": values.max, "min": values.min, "mean": values.mean}[reduction]())


def equivariance_error(
    module: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    cases: Cases = "grid48",
    mask_radius: float | None = None,
    reduction: str = "max",
) -> dict[str, float] | float:
    """Relative error ``||f(g x) - g f(x)|| / ||g f(x)||`` for every case ``g``.

    Args:
        module: maps ``(N, C, *spatial)`` to ``(N, C', *spatial')`` (evaluated as it is: call ``.eval()`` first
            for BatchNorm running statistics).
        x: input batch.
        cases: a protocol name (``"grid48"``, ``"flips"``, ``"paper"``, ...), a grid group name (``"O"``,
            ``"Oh"``, ``"C4"``, ``"D4"``), a :class:`~monai_sre.evaluation.sweep.RotationSweep`, a group, or a list
            of cases or grid symmetry elements.
        mask_radius: compare only inside the central ball of this fraction of the half-width.
        reduction: ``"max"`` or ``"mean"`` over cases, or ``"none"`` for ``{case name: error}``.
    """
    look_up_option(reduction, ("max", "mean", "none"))
    _, differences = _differences(module, x, cases, None, None, mask_radius)
    return _reduce({name: d.relative for name, d in differences.items()}, reduction)


def invariance_error(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    cases: Cases = "grid48",
    reduction: str = "max",
) -> dict[str, float] | float:
    """Relative error ``||f(g x) - f(x)|| / ||f(x)||`` of a model's output (logits or features) for every case."""
    look_up_option(reduction, ("max", "mean", "none"))
    _, differences = _differences(model, x, cases, None, lambda y, case: y, None)
    return _reduce({name: d.relative for name, d in differences.items()}, reduction)


@torch.no_grad()
def label_agreement(
    network: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    cases: Cases = "grid48",
    reduction: str = "min",
) -> dict[str, float] | float:
    """Fraction of voxels where the labels of the transformed input equal the transformed labels,
    ``argmax f(g x) == g argmax f(x)``, for every case ``g``: 1 for an exactly equivariant segmentation network.

    Label maps are moved with nearest neighbour (:meth:`~monai_sre.evaluation.sweep.RotationCase.apply_labels`),
    so interpolated rotations never mix labels; only voxels inside the rotated field of view count (the corners a
    keep-size rotation cuts are left out). For logits, :func:`equivariance_error` measures the same property as a
    relative norm; this is its counterpart on the decisions.

    Args:
        network: maps ``(N, C_in, *spatial)`` to logits ``(N, C, *spatial)`` (``C = 1``: a binary foreground
            logit); evaluated as it is (call ``.eval()`` first).
        x: input batch.
        cases: as for :func:`equivariance_error`.
        reduction: ``"min"`` (the worst case) or ``"mean"`` over cases, or ``"none"`` for ``{case name: fraction}``.

    Example::

        >>> label_agreement(lambda x: torch.cat([torch.zeros_like(x), x], 1), torch.randn(1, 1, 4, 4, 4))
        1.0
    """
    look_up_option(reduction, ("min", "mean", "none"))
    reference = predicted_labels(network(x))
    agreements = {}
    for case in _cases(cases, x.dim() - 2):
        actual = predicted_labels(network(case.apply(x)))
        expected = case.apply_labels(reference)
        if actual.shape != expected.shape:
            raise ValueError(
                f"the transformed labels have shape {tuple(expected.shape)} but the labels of the transformed input "
                f"have shape {tuple(actual.shape)}."
            )
        seen = case.field_of_view(actual.shape[2:], actual.device).expand_as(actual)
        agreements[case.name] = float(((actual == expected) & seen).sum()) / max(int(seen.sum()), 1)
    if not agreements:
        raise ValueError("no cases to check: the protocol, group or list is empty.")
    return _reduce(agreements, reduction)


def assert_equivariant(
    f: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    cases: Cases = "grid48",
    input_transform: Action | None = None,
    output_transform: Action | None = None,
    atol: float | None = None,
    rtol: float | None = None,
    mask_radius: float | None = None,
) -> dict[str, float]:
    """Assert ``f(g x) == g f(x)`` for every case ``g``, within a tolerance that follows the dtype.

    A case passes when ``rms(f(g x) - g f(x)) <= atol + rtol * rms(g f(x))``; the defaults come from
    :func:`equivariance_tolerance` for the less precise of the input's and the output's dtype (float64 ``1e-10``,
    float32 ``1e-4`` relative to the output scale, half precision looser).

    Args:
        f: the function or module (evaluated as it is: call ``.eval()`` first where BatchNorm matters).
        x: input batch ``(N, C, *spatial)``.
        cases: what to check, as for :func:`equivariance_error` (default ``"grid48"``: the 48 grid symmetries in
            3D, 8 in 2D).
        input_transform: ``(x, case) -> g x``; default ``case.apply`` (acts on the trailing spatial axes).
        output_transform: ``(y, case) -> g y``; default ``case.apply`` (equivariance). Pass
            ``lambda y, case: y`` for invariance, or a custom action for outputs that live elsewhere.
        atol: absolute floor (RMS units of the output); default per dtype.
        rtol: tolerance relative to the RMS of the expected output; default per dtype.
        mask_radius: compare volume outputs only inside the central ball of this fraction of the half-width.

    Returns:
        the relative error ``||f(g x) - g f(x)|| / ||g f(x)||`` of every case, by name.

    Raises:
        AssertionError: a case exceeds the tolerance; the message names the worst case, its error, the
            tolerance and how many cases fail.

    Example::

        >>> assert_equivariant(torch.nn.Identity(), torch.randn(1, 1, 4, 4, 4))["grid+x+y+z"]
        0.0
    """
    reference, differences = _differences(f, x, cases, input_transform, output_transform, mask_radius)
    dtype_rtol, dtype_atol = max(equivariance_tolerance(x.dtype), equivariance_tolerance(reference.dtype))
    rtol = dtype_rtol if rtol is None else rtol
    atol = dtype_atol if atol is None else atol

    def excess(d: _Difference) -> float:
        scale = d.count**0.5
        return d.difference / scale - (atol + rtol * d.expected / scale)

    failing = {name: d for name, d in differences.items() if excess(d) > 0}
    if failing:
        name, worst = max(failing.items(), key=lambda item: item[1].relative)
        rms, expected = worst.difference / worst.count**0.5, worst.expected / worst.count**0.5
        raise AssertionError(
            f"not equivariant under '{name}': relative error {worst.relative:.3g} (RMS difference {rms:.3g} > "
            f"atol {atol:.3g} + rtol {rtol:.3g} x output RMS {expected:.3g}); {len(failing)} of {len(differences)} "
            f"cases fail ({', '.join(list(failing)[:5])}{', ...' if len(failing) > 5 else ''}), dtype "
            f"{str(reference.dtype).replace('torch.', '')}."
        )
    return {name: d.relative for name, d in differences.items()}

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Averaging any network over the grid symmetries: exact invariance (or equivariance) by brute force.

``GridAveraged(model)(x)`` is the mean of ``model(g x)`` over the elements ``g`` of a group of grid symmetries
(all 48 in 3D by default): exactly invariant to every one of them, whatever the model. For dense outputs
(segmentation maps, ``output="equivariant"``) each output is mapped back, ``g^-1 model(g x)``, so the result is
exactly equivariant. The cost is one forward pass per element (48x inference); it is the baseline that every
equivariant architecture in this package must beat on cost.

In training mode the wrapper can average over a random subset of ``train_samples`` elements per call (cheaper
steps, a form of augmentation); in eval mode it always uses the whole group.
"""

from __future__ import annotations

import torch
from monai.utils import look_up_option
from torch import nn

from monai_sre.arguments import check_positive_int
from monai_sre.groups import GRID_GROUPS, apply_grid_symmetry, grid_group, grid_symmetries

__all__ = ["GridAveraged"]


class GridAveraged(nn.Module):
    """Wrap ``model`` so that its output is averaged over a group of grid symmetries of the input.

    Args:
        model: any network taking ``(batch, channels, *spatial)``.
        group: ``"Oh"`` (48, default) or ``"O"`` (24 rotations) in 3D; ``"D4"`` or ``"C4"`` in 2D; ``"all"`` for
            every grid symmetry of the input's dimension (48 / 8 / 2).
        output: ``"invariant"`` (logits: plain mean) or ``"equivariant"`` (maps with the input's spatial
            shape: each output transformed back before the mean).
        train_samples: in training mode, average over this many elements drawn at random per call (the
            identity is not forced); ``None`` uses the whole group in training too.

    Elements that would map spatial axes of different sizes onto each other (non-cubic inputs) are skipped,
    so the result is invariant to the symmetries the input shape admits.

    Example::

        >>> from monai.networks.nets import ResNet
        >>> net = GridAveraged(ResNet("basic", [1, 1, 1, 1], [8, 8, 8, 8], n_input_channels=1, num_classes=2)).eval()
        >>> net(torch.randn(1, 1, 16, 16, 16)).shape
        torch.Size([1, 2])
    """

    def __init__(
        self, model: nn.Module, group: str = "Oh", output: str = "invariant", train_samples: int | None = None
    ) -> None:
        super().__init__()
        if group != "all":
            look_up_option(group, GRID_GROUPS)
        check_positive_int("train_samples", train_samples, allow_none=True)
        self.model = model
        self.group = group
        self.output = look_up_option(output, ("invariant", "equivariant"))
        self.train_samples = train_samples

    def elements(self, spatial_shape: tuple[int, ...]):
        """The group elements that map ``spatial_shape`` onto itself."""
        dims = len(spatial_shape)
        elements = grid_symmetries(dims) if self.group == "all" else grid_group(self.group).elements
        if elements[0].spatial_dims != dims:
            raise ValueError(f"group '{self.group}' acts on {elements[0].spatial_dims} spatial dims, got input {dims}.")
        return [e for e in elements if all(spatial_shape[p] == spatial_shape[i] for i, p in enumerate(e.permutation))]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        elements = self.elements(tuple(x.shape[2:]))
        if self.training and self.train_samples is not None and self.train_samples < len(elements):
            chosen = torch.randperm(len(elements))[: self.train_samples].tolist()
            elements = [elements[i] for i in chosen]
        total = None
        for element in elements:
            out = self.model(apply_grid_symmetry(x, element))
            if self.output == "equivariant":
                out = apply_grid_symmetry(out, element.inverse())
            total = out if total is None else total + out
        return total / len(elements)

    def extra_repr(self) -> str:
        text = f"group='{self.group}', output='{self.output}'"
        return text + (f", train_samples={self.train_samples}" if self.train_samples is not None else "")

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""The contract of group features: what the group layers read and write, and the checks that hold them to it.

Group features are tensors of shape ``(batch, channels * num_orientations, *spatial)``. Every channel carries one
value per point of an orientation set ``X`` of a group of grid symmetries (:meth:`monai_sre.groups.GridGroup.action`:
``"regular"``, ``"axes"``, ``"diagonals"``, ``"rotations"``, or ``"trivial"`` for plain, invariant features), with
the orientation index fastest: channel ``c``, orientation ``x`` at ``c * |X| + x``, the orientations numbered as
``grid_group(group).action(space)`` numbers them. The group acts on them by
:func:`monai_sre.groups.apply_group_element`.

A plain tensor has no mark of its orientation set, so a layer can only check the shape: :class:`GroupFeatureType`
describes what a layer reads (``layer.in_type``) and writes (``layer.out_type``); :func:`check_group_features`,
called by the layers on their input, refuses a tensor of the wrong width or dimension with a message that names
the layer, what it expected and what it got; :func:`check_compatible`, called by networks at construction,
refuses to wire a layer into one that expects another orientation set or width.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass

import torch
from monai.utils import look_up_option
from torch import nn

from monai_sre.arguments import check_positive_int
from monai_sre.groups import GRID_GROUPS, GROUP_SPACES, grid_group

__all__ = ["GroupFeatureType", "check_compatible", "check_group_features", "describe_group_features"]

_SPATIAL_AXES = {1: "W", 2: "H, W", 3: "D, H, W"}


def describe_group_features(channels: int, num_orientations: int, orientations: str, spatial_dims: int) -> str:
    """The shape of group features in words: ``(batch, 2 channels x 24 'regular' orientations of O = 48, D, H, W)``.

    Args:
        channels: channels per orientation; ``0`` for any number.
        num_orientations: size of the orientation set (``1``: plain features, no orientation part; ``0``: unknown).
        orientations: the words for the orientation set, ``"'regular' orientations of O"`` (``""``: unknown).
        spatial_dims: number of spatial axes; ``0`` for any number of at least one, ``-1`` for any number.
    """
    text = f"{channels} channels" if channels > 0 else "channels"
    if num_orientations != 1:
        count = f"{num_orientations} " if num_orientations > 1 else ""
        text += f" x {count}{orientations if orientations else 'orientations'}"
        if channels > 0 and num_orientations > 1:
            text += f" = {channels * num_orientations}"
    if spatial_dims > 0:
        axes = _SPATIAL_AXES[spatial_dims] if spatial_dims in _SPATIAL_AXES else f"{spatial_dims} spatial dims"
    else:
        axes = "*spatial"
    return f"(batch, {text}, {axes})"


def check_group_features(
    x: torch.Tensor, expected: str, channels: int, num_orientations: int, spatial_dims: int = 0
) -> None:
    """Raise unless ``x`` has the shape of group features ``(batch, channels * num_orientations, *spatial)``.

    Cheap (a few integer comparisons), and TorchScript, tracing and ``torch.export`` record it; any batch size,
    the empty batch included, passes.

    Args:
        x: the tensor a layer received.
        expected: the start of the message, the layer and the expected shape in words
            (:meth:`GroupFeatureType.expected_by`: ``"GroupConv expected (batch, 2 channels x 24 ...)"``).
        channels: channels per orientation; ``0`` accepts any number (a multiple of ``num_orientations`` wide).
        num_orientations: size of the orientation set (``1``: plain features).
        spatial_dims: number of spatial axes; ``0`` accepts any number of at least one, ``-1`` any number
            (pooled vectors ``(batch, channels * num_orientations)`` too).

    Raises:
        ValueError: ``"<expected>, got shape [...]: <what it looks like>."``; a tensor of plain channels where
            orientations are expected is named as such, with how to lift it.
    """
    got_spatial = x.dim() - 2
    got = x.shape[1] if x.dim() > 1 else -1
    if spatial_dims > 0:
        dims_fit = got_spatial == spatial_dims
    else:
        dims_fit = got_spatial >= (1 if spatial_dims == 0 else 0)
    width_fit = got == channels * num_orientations if channels > 0 else got > 0 and got % num_orientations == 0
    if dims_fit and width_fit:
        return
    message = f"{expected}, got shape {list(x.shape)}"
    if got < 0:
        message += ": no channel axis"
    elif not dims_fit:
        message += f": {got_spatial} spatial dims" if got_spatial > 0 else ": no spatial dims"
    elif num_orientations > 1:
        lift = "Lift plain features onto the orientations first, with a GroupConv(..., in_space='trivial')"
        if got % num_orientations == 0:
            message += (
                f": a plain {got}-channel tensor, or {got // num_orientations} channel(s) x {num_orientations} "
                f"orientations from a layer of another width? {lift}"
            )
        else:
            message += f": a plain {got}-channel tensor? {lift}"
    else:
        message += f": {got} channels"
    raise ValueError(message + ".")


@dataclass(frozen=True)
class GroupFeatureType:
    """What group features are: a group, an orientation set of it, channels per orientation, spatial dims.

    A layer's ``in_type`` and ``out_type``. A field left ``None`` is not known to the layer (a batch norm of group
    features counts orientations but does not know their group); checks compare only the fields both sides know.

    Args:
        group: ``"C4"``, ``"D4"``, ``"O"`` or ``"Oh"`` (:data:`~monai_sre.groups.GRID_GROUPS`); ``None``: unknown.
        space: the orientation set (:data:`~monai_sre.groups.GROUP_SPACES`; ``"trivial"``: plain features);
            ``None``: unknown.
        channels: channels per orientation; ``None``: any.
        num_orientations: size of the orientation set; derived from ``group`` and ``space`` (1 for
            ``"trivial"``): give it only where they are unknown.
        spatial_dims: number of spatial dims; derived from ``group``: give it only where that is unknown (plain
            features of an SRE layer).

    Raises:
        ValueError: an unknown group or space, a space the group does not act on, a non-positive count, or a
            ``num_orientations`` or ``spatial_dims`` that contradicts ``group`` and ``space``.

    Example::

        >>> t = GroupFeatureType("O", "regular", 2)
        >>> t.num_orientations, t.size, str(t)
        (24, 48, "(batch, 2 channels x 24 'regular' orientations of O = 48, D, H, W)")
    """

    group: str | None = None
    space: str | None = None
    channels: int | None = None
    num_orientations: int | None = None
    spatial_dims: int | None = None

    def __post_init__(self) -> None:
        if self.group is not None:
            look_up_option(self.group, GRID_GROUPS)
        if self.space is not None:
            look_up_option(self.space, GROUP_SPACES)
        for name in ("channels", "num_orientations", "spatial_dims"):
            check_positive_int(name, getattr(self, name), allow_none=True)
        if self.space == "trivial":
            self._derive("num_orientations", 1, "space 'trivial'")
        elif self.group is not None and self.space is not None:
            size = grid_group(self.group).space_size(self.space)
            self._derive("num_orientations", size, f"group {self.group} and space '{self.space}'")
        if self.group is not None:
            self._derive("spatial_dims", GRID_GROUPS[self.group][0], f"group {self.group}")

    def _derive(self, name: str, value: int, source: str) -> None:
        """Set the field ``name`` to ``value``, derived from ``source``, unless it was given otherwise."""
        given = getattr(self, name)
        if given not in (None, value):
            raise ValueError(f"{name}={given} contradicts {source}, which gives {value}.")
        object.__setattr__(self, name, value)

    @property
    def size(self) -> int | None:
        """Width of the channel axis, ``channels * num_orientations`` (``None`` where either is unknown)."""
        if self.channels is None or self.num_orientations is None:
            return None
        return self.channels * self.num_orientations

    def __str__(self) -> str:
        orientations = ""
        if self.space is not None:
            orientations = f"'{self.space}' orientations" + (f" of {self.group}" if self.group else "")
        return describe_group_features(
            self.channels or 0, self.num_orientations or 0, orientations, self.spatial_dims or 0
        )

    def expected_by(self, layer: nn.Module | str) -> str:
        """The start of the message that :func:`check_group_features` raises: ``"<layer> expected <shape>"``."""
        return f"{layer if isinstance(layer, str) else type(layer).__name__} expected {self}"

    def check(self, x: torch.Tensor, layer: nn.Module | str = "a group layer") -> None:
        """:func:`check_group_features` of ``x`` against this type (the layers call the function, with a message
        they build once)."""
        counted = self.num_orientations is not None  # the width is known only where the orientations are
        channels = (self.channels or 0) if counted else 0
        check_group_features(x, self.expected_by(layer), channels, self.num_orientations or 1, self.spatial_dims or 0)


def _type_of(layer_or_type: nn.Module | GroupFeatureType, side: str) -> tuple[GroupFeatureType, str]:
    """``layer_or_type`` itself, or the layer's ``in_type``/``out_type``, with a name for messages."""
    if isinstance(layer_or_type, GroupFeatureType):
        return layer_or_type, "GroupFeatureType"
    feature_type = getattr(layer_or_type, f"{side}_type", None)
    if not isinstance(feature_type, GroupFeatureType):
        raise TypeError(
            f"{type(layer_or_type).__name__} has no {side}_type: pass a layer of this package that has one (SRE "
            "and group convolutions, group norms and pools, SymmetricPool) or a GroupFeatureType."
        )
    return feature_type, type(layer_or_type).__name__


def check_compatible(
    previous: nn.Module | GroupFeatureType, following: nn.Module | GroupFeatureType
) -> GroupFeatureType:
    """Refuse to feed the output of ``previous`` into ``following`` unless the group features match.

    Networks call it at construction, so that a wrong wiring fails there, naming both layers, rather than in the
    first forward pass (or not at all: two orientation sets of one size, such as O's ``"regular"`` and Oh's
    ``"rotations"``, give tensors of the same shape). Fields that one side leaves ``None`` are not compared;
    plain (``"trivial"``) features match across groups of the same dimension.

    Args:
        previous: a layer with ``out_type``, or a :class:`GroupFeatureType`.
        following: a layer with ``in_type``, or a :class:`GroupFeatureType`.

    Returns:
        the features passed between them, with every field that either side knows (feed it to the next call to
        check a chain through layers that do not know the group, such as a batch norm).

    Raises:
        ValueError: the groups, orientation sets, orientation counts, channels or dimensions differ; the message
            names both layers, both types and the difference.
        TypeError: a layer without ``in_type``/``out_type``.

    Example::

        >>> lift = GroupConv(3, 1, 4, 3, group="O", in_space="trivial", out_space="regular")
        >>> features = check_compatible(lift, GroupBatchNorm(4, 24))  # 4 channels x 24 'regular' orientations of O
        >>> check_compatible(features, GroupConv(3, 4, 4, 3, group="Oh", in_space="axes"))  # doctest: +SKIP
        ValueError: cannot feed GroupFeatureType into GroupConv: ...
    """
    out, out_name = _type_of(previous, "out")
    into, into_name = _type_of(following, "in")
    differences = []

    def compare(what: str, a: object, b: object) -> None:
        if a is not None and b is not None and a != b:
            differences.append(f"{what} {a!r} vs {b!r}")

    compare("space", out.space, into.space)
    compare("orientations", out.num_orientations, into.num_orientations)
    if not (out.space == into.space == "trivial"):  # plain features do not depend on the group
        compare("group", out.group, into.group)
    compare("spatial dims", out.spatial_dims, into.spatial_dims)
    compare("channels", out.channels, into.channels)
    if differences:
        raise ValueError(
            f"cannot feed {out_name} into {into_name}: {out_name} gives {out}, {into_name} expects {into}; they "
            f"differ in {', '.join(differences)}."
        )
    return GroupFeatureType(*(a if a is not None else b for a, b in zip(astuple(out), astuple(into))))

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Where a bundle's training preprocessing gets a uniformly random 3D rotation, and the config edit that puts it
there (``python -m monai_sre convert-bundle ... --augment so3``).

The training preprocessing is found from the trainer, as MONAI's workflow runs it:
``train#trainer#train_data_loader`` -> its ``dataset`` -> its ``transform`` (then ``train#dataset#transform``,
``train#preprocessing``), which must be a ``Compose`` whose ``transforms`` the config writes: a list, a reference
to one, or a sum of references (``"$@train#deterministic_transforms + @train#random_transforms"``, the model
zoo's layout). The rotation goes

- in place of the first fixed-size crop when that is a ``CenterSpatialCropd``: it becomes
  :class:`~monai_sre.transforms.RandSO3RotateCropd` with the same keys and size, which equals
  ``RandSO3Rotated`` followed by that crop (to interpolation round-off) and computes only the cropped voxels;
- else before the first fixed-size crop (``ResizeWithPadOrCropd``, which may pad, ``RandSpatialCropd``,
  ``RandCropByPosNegLabeld``, ...): a :class:`~monai_sre.transforms.RandSO3Rotated`, so that crops resample
  real content rather than zero corners;
- else before the first random transform (the deterministic part stays cacheable by a ``CacheDataset``), else
  before the trailing type conversions, else at the end.

Label keys (the crop's ``label_key``, keys named like ``label``/``seg``/``mask``) are resampled with
``nearest``, images with ``bilinear``. The list is edited where the config writes it when nothing outside the
training pipeline uses it (the model zoo's validation reuses ``%train#deterministic_transforms``); otherwise the
training ``Compose`` is rewritten as a sum of slices of the shared lists around the new transform, so no other
pipeline changes.
"""

from __future__ import annotations

import importlib
import pydoc
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from monai.bundle import ConfigParser
from monai.bundle.config_item import ComponentLocator
from monai.transforms import (
    CenterSpatialCropd,
    Compose,
    RandCropByLabelClassesd,
    RandCropByPosNegLabeld,
    Randomizable,
    RandScaleCropd,
    RandSpatialCropd,
    RandSpatialCropSamplesd,
    RandWeightedCropd,
    ResizeWithPadOrCropd,
    SpatialCropd,
)
from monai.utils import ensure_tuple

from monai_sre.audit.configs import SEP, RawConfigs, normalize_id

__all__ = ["AUGMENTATIONS", "RotationPlan", "plan_rotation", "training_transform_id"]

AUGMENTATIONS = ("none", "so3")
ROTATE = "monai_sre.transforms.RandSO3Rotated"
ROTATE_CROP = "monai_sre.transforms.RandSO3RotateCropd"
_FUSED = (CenterSpatialCropd,)  # RandSO3RotateCropd(roi) == RandSO3Rotated + this crop
_CROPS = (
    ResizeWithPadOrCropd,
    SpatialCropd,
    RandSpatialCropd,
    RandSpatialCropSamplesd,
    RandCropByPosNegLabeld,
    RandCropByLabelClassesd,
    RandWeightedCropd,
    RandScaleCropd,
)
_TYPE_ONLY = ("EnsureTyped", "ToTensord", "CastToTyped", "EnsureType", "ToTensor", "CastToType", "ToNumpyd")
_LABEL_WORDS = ("label", "seg", "mask")
_SUM_OF_REFERENCES = re.compile(r"^\$\s*[@%][\w#]+(\s*\+\s*[@%][\w#]+)*\s*$")
_LOCATOR: ComponentLocator | None = None


def component_class(config: Any) -> type | None:
    """The class a raw config item's ``_target_`` names (``None``: not a component, disabled, or not a class)."""
    global _LOCATOR
    if not isinstance(config, Mapping) or not isinstance(config.get("_target_"), str):
        return None
    if str(config.get("_disabled_", "")).lower() in ("true", "1"):
        return None
    target = config["_target_"]
    if "." in target:
        found = pydoc.locate(target)
    else:
        _LOCATOR = _LOCATOR or ComponentLocator()
        module = _LOCATOR.get_component_module_name(target)
        module = module[0] if isinstance(module, list) else module
        found = getattr(importlib.import_module(module), target, None) if module else None
    return found if isinstance(found, type) else None


@dataclass
class _Item:
    list_id: str
    index: int
    id: str  # where its config is written (a list entry, or what a "@ref" entry points to)
    config: Any
    cls: type | None

    @property
    def name(self) -> str:
        return self.cls.__name__ if self.cls is not None else str(self.config)[:40]


@dataclass
class RotationPlan:
    """Where the random rotation goes in the training preprocessing, and what it is.

    Attributes:
        transform_id: the id of the training dataset's ``transform``.
        compose_id: the id of the training ``Compose``.
        segments: the ids of the transform lists the ``Compose`` sums, in order.
        list_id: the list the rotation goes into; ``index``: its place there.
        replace: the rotation replaces ``list_id#index`` (a fused rotate + crop) instead of being inserted.
        transform: the config of the new transform.
        anchor: the transform it replaces or precedes (class name), ``None`` at the end of the list.
        mode: ``"in place"`` (the list edited where written), ``"compose"`` (the training ``Compose``'s
            ``transforms`` rewritten) or ``"dataset"`` (the dataset's ``transform`` set to a new ``Compose``).
        shared_by: the references that made the list count as shared (file: from id -> to id).
        chain: the references followed from the trainer to the lists (from id -> to id).
    """

    transform_id: str
    compose_id: str
    segments: list[str]
    list_id: str
    index: int
    replace: bool
    transform: dict
    anchor: str | None
    mode: str = "in place"
    shared_by: list[str] = field(default_factory=list)
    chain: list[tuple[str, str]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """One sentence for the changelog and the report."""
        name = self.transform["_target_"].split(".")[-1]
        keys = ", ".join(f"{k} ({m})" for k, m in zip(self.transform["keys"], self.transform["mode"]))
        if self.replace:
            where = f"replaces the {self.anchor} at '{self.list_id}#{self.index}' (the same crop, after the rotation)"
        elif self.anchor is not None:
            where = f"inserted before the {self.anchor} at '{self.list_id}#{self.index}'"
        else:
            where = f"inserted at '{self.list_id}#{self.index}'"
        how = {
            "in place": "",
            "compose": f"; '{self.compose_id}#transforms' rewritten around it because the list is shared "
            f"({'; '.join(self.shared_by)})",
            "dataset": f"; '{self.transform_id}' set to a new Compose around it because '{self.compose_id}' is "
            f"shared ({'; '.join(self.shared_by)})",
        }[self.mode]
        return f"{name} (uniformly random 3D rotation, keys {keys}) {where}{how}"


def training_transform_id(parser: ConfigParser, names: Sequence[str]) -> tuple[str, list[tuple[str, str]]]:
    """The id of the training dataset's ``transform`` and the references followed to it.

    Raises:
        KeyError: none of the places looked at holds it (they are named).
    """
    for trainer_id in ("train#trainer", "trainer"):
        trainer = parser.get(trainer_id)
        if isinstance(trainer, Mapping) and "train_data_loader" in trainer:
            chain: list[tuple[str, str]] = []
            loader_id, loader = _follow(parser, f"{trainer_id}#train_data_loader", chain)
            if isinstance(loader, Mapping) and "dataset" in loader:
                dataset_id, dataset = _follow(parser, f"{loader_id}#dataset", chain)
                if isinstance(dataset, Mapping) and "transform" in dataset:
                    return f"{dataset_id}#transform", chain
    for candidate in ("train#dataset#transform", "train#preprocessing"):
        if candidate in parser:
            return candidate, []
    raise KeyError(
        f"the configs {list(names)} define no training preprocessing: looked for 'train#trainer' (or 'trainer') "
        "-> 'train_data_loader' -> 'dataset' -> 'transform', 'train#dataset#transform' and 'train#preprocessing'; "
        "pass --config with the training configs, or convert without --augment."
    )


def _follow(parser: ConfigParser, id_: str, chain: list[tuple[str, str]]) -> tuple[str, Any]:
    """Follow plain ``@id``/``%id`` references from ``id_`` (recording each in ``chain``): the id finally holding
    the config (written with ``#``), and that config."""
    id_ = normalize_id(id_)
    config, seen = parser[id_], {id_}
    while isinstance(config, str) and config[:1] in ("@", "%") and normalize_id(config[1:]) not in seen:
        target = normalize_id(config[1:])
        if target not in parser:
            break
        chain.append((id_, target))
        id_ = target
        seen.add(id_)
        config = parser[id_]
    return id_, config


def _segments(parser: ConfigParser, compose_id: str, chain: list[tuple[str, str]]) -> list[str]:
    """The ids of the lists a ``Compose``'s ``transforms`` is, or sums."""
    spec_id = f"{compose_id}#transforms"
    spec = parser[spec_id]
    if isinstance(spec, list):
        return [spec_id]
    spec = normalize_id(spec) if isinstance(spec, str) else spec
    if isinstance(spec, str) and _SUM_OF_REFERENCES.match(spec):
        ids = []
        for ref in re.findall(r"[@%]([\w#]+)", spec):
            if ref not in parser:
                raise KeyError(f"'{spec_id}' refers to '{ref}', which the configs do not define.")
            chain.append((spec_id, ref))
            list_id, value = _follow(parser, ref, chain)
            if not isinstance(value, list):
                break
            ids.append(list_id)
        else:
            return ids
    raise ValueError(
        f"the training Compose's transforms '{spec_id}' is {spec!r}: not a list of transforms written in the "
        "config nor a sum of references to such lists, so the rotation cannot be placed; add "
        f"{ROTATE} to it by hand, or convert without --augment."
    )


def _items(parser: ConfigParser, segments: list[str]) -> list[_Item]:
    items = []
    for list_id in segments:
        for index in range(len(parser[list_id])):
            item_id, config = _follow(parser, f"{list_id}#{index}", [])
            items.append(_Item(list_id, index, item_id, config, component_class(config)))
    return items


def _keys(parser: ConfigParser, item: _Item) -> list[str]:
    raw = item.config.get("keys") if isinstance(item.config, Mapping) else None
    if isinstance(raw, str) and raw[:1] in ("@", "$", "%"):
        raw = parser.get_parsed_content(f"{item.id}#keys")
    return [str(k) for k in ensure_tuple(raw)] if raw is not None else []


def _is(item: _Item, classes: tuple[type, ...]) -> bool:
    return item.cls is not None and issubclass(item.cls, classes)


def _position(items: list[_Item]) -> tuple[int, bool]:
    """Index into ``items`` where the rotation goes, and whether it replaces the item there."""
    for index, item in enumerate(items):
        if _is(item, _FUSED):
            return index, True
        if _is(item, _CROPS):
            return index, False
    for index, item in enumerate(items):
        if _is(item, (Randomizable,)):
            return index, False
    end = len(items)
    while end > 0 and items[end - 1].cls is not None and items[end - 1].cls.__name__ in _TYPE_ONLY:
        end -= 1
    return end, False


def _rotation_keys(parser: ConfigParser, items: list[_Item], position: int, keys: Sequence[str] | None) -> list[str]:
    if keys is not None:
        return [str(k) for k in ensure_tuple(keys)]
    if position < len(items) and (found := _keys(parser, items[position])):
        return found  # the crop's keys, or the first random transform's
    loaders = [item for item in items if item.cls is not None and item.cls.__name__.startswith("Load")]
    if loaders and (found := _keys(parser, loaders[0])):
        return found
    raise ValueError(
        "cannot tell which keys to rotate: the transform after the rotation has no 'keys' and no Load*d transform "
        "names them; pass --keys \"['image', 'label']\"."
    )


def _modes(parser: ConfigParser, anchor: _Item | None, keys: list[str], label_keys: Sequence[str] | None) -> list[str]:
    if label_keys is None:
        labels = {k for k in keys if any(word in k.lower() for word in _LABEL_WORDS)}
        if anchor is not None and isinstance(anchor.config, Mapping) and "label_key" in anchor.config:
            labels |= {str(k) for k in ensure_tuple(parser.get_parsed_content(f"{anchor.id}#label_key"))}
    else:
        labels = {str(k) for k in ensure_tuple(label_keys)}
    return ["nearest" if k in labels else "bilinear" for k in keys]


def _transform(anchor: _Item | None, replace: bool, keys: list[str], modes: list[str]) -> dict:
    config: dict[str, Any] = {"_target_": ROTATE_CROP if replace else ROTATE, "keys": keys}
    if replace:
        config["roi_size"] = anchor.config["roi_size"]  # written as the crop wrote it (a number, a list, a "@ref")
    config.update(prob=1.0, mode=modes, padding_mode="zeros")
    if isinstance(anchor.config if anchor else None, Mapping) and "allow_missing_keys" in anchor.config:
        config["allow_missing_keys"] = anchor.config["allow_missing_keys"]
    return config


def _foreign(raw: RawConfigs, targets: set[str], chain: list[tuple[str, str]], inside: str) -> list[str]:
    """References to any of ``targets`` that are not links of ``chain`` (and not from within ``inside``)."""
    links = set(chain)
    return [
        f"{name}: {where} -> {to}"
        for name, where, to in raw.references()
        if to in targets and (where, to) not in links and not where.startswith(inside + SEP)
    ]


def plan_rotation(
    parser: ConfigParser,
    raw: RawConfigs,
    names: Sequence[str],
    keys: Sequence[str] | None = None,
    label_keys: Sequence[str] | None = None,
    fuse: bool = True,
) -> RotationPlan:
    """Plan the SO(3) rotation of a bundle's training preprocessing (nothing is changed; see :meth:`apply`).

    Args:
        parser: the training configs ``names`` merged (not built).
        raw: the bundle's config files as written.
        names: the training config files, in merge order.
        keys: the keys to rotate; default the keys of the transform the rotation precedes (else the loader's).
        label_keys: the keys resampled with ``nearest``; default those named like labels, and a crop's
            ``label_key``.
        fuse: replace a ``CenterSpatialCropd`` by the fused rotate + crop (else insert a rotation before it).

    Raises:
        KeyError: no training preprocessing found (the places looked at named).
        ValueError: a preprocessing that is not a ``Compose`` of transforms written in the config, or a layout the
            rotation cannot be placed in without changing other pipelines (the message says which).
    """
    transform_id, chain = training_transform_id(parser, names)
    compose_id, compose = _follow(parser, transform_id, chain)
    compose_class = component_class(compose)
    if compose_class is None or not issubclass(compose_class, Compose):
        raise ValueError(
            f"the training preprocessing '{compose_id}' is {str(compose)[:120]!r}, not a Compose of transforms "
            f"written in the config, so the rotation cannot be placed; add {ROTATE} to it by hand, or convert "
            "without --augment."
        )
    segments = _segments(parser, compose_id, chain)
    items = _items(parser, segments)
    position, replace = _position(items)
    replace = replace and fuse
    anchor = items[position] if position < len(items) else None
    rotation_keys = _rotation_keys(parser, items, position, keys)
    transform = _transform(anchor, replace, rotation_keys, _modes(parser, anchor, rotation_keys, label_keys))
    if position < len(items):
        list_id, index = items[position].list_id, items[position].index
    else:  # at the very end: after the last item of the last list
        list_id, index = segments[-1], len(parser[segments[-1]])
    plan = RotationPlan(
        transform_id, compose_id, segments, list_id, index, replace, transform,
        anchor.name if anchor is not None else None, chain=chain, files=list(names),
    )  # fmt: skip
    _choose_mode(plan, raw)
    return plan


def _choose_mode(plan: RotationPlan, raw: RawConfigs) -> None:
    """In place when nothing else uses the list; else rewrite the Compose, or the dataset's transform."""
    names = plan.files
    literal = plan.list_id == f"{plan.compose_id}#transforms"
    targets = {plan.list_id} | ({plan.compose_id, plan.transform_id} if literal else set())
    shared = _foreign(raw, targets, plan.chain, plan.list_id)
    # items addressed by index (references, or later files overriding an item) would shift under an insertion
    by_index = [f"{n}: {w} -> {t}" for n, w, t in raw.references() if t.startswith(plan.list_id + SEP)]
    owner = raw.defining(plan.list_id, names)
    later = names[names.index(owner) + 1 :] if owner is not None else []
    by_index += [f"{n} writes {k}" for n in [owner, *later] if n is not None for k in raw.keys_under(n, plan.list_id)]
    if owner is not None and not shared and not by_index:
        plan.mode = "in place"
        return
    plan.shared_by = shared + by_index
    compose_shared = _foreign(raw, {plan.compose_id, plan.transform_id}, plan.chain, plan.compose_id)
    if not literal and not compose_shared and raw.defining(f"{plan.compose_id}#transforms", names) is not None:
        plan.mode = "compose"
    elif plan.transform_id != plan.compose_id and raw.defining(plan.transform_id, names) is not None:
        plan.mode = "dataset"
    else:
        raise ValueError(
            f"the training preprocessing's list '{plan.list_id}' is used elsewhere ({'; '.join(plan.shared_by)}) "
            f"and '{plan.compose_id}' is written inside the dataset, so the rotation cannot be added to training "
            "alone; give training its own Compose, or convert without --augment."
        )


def _rotation_id(plan: RotationPlan) -> str:
    section = plan.transform_id.split(SEP)[0] if SEP in plan.transform_id else ""
    return f"{section}{SEP}so3_rotation" if section else "so3_rotation"


def _sum_expression(plan: RotationPlan, raw_lengths: Mapping[str, int], rotation_id: str) -> str:
    pieces = []
    for list_id in plan.segments:
        if list_id != plan.list_id:
            pieces.append(f"@{list_id}")
            continue
        after = plan.index + (1 if plan.replace else 0)
        if plan.index > 0:
            pieces.append(f"@{list_id}[:{plan.index}]")
        pieces.append(f"[@{rotation_id}]")
        if after < raw_lengths[list_id]:
            pieces.append(f"@{list_id}[{after}:]")
    return "$" + " + ".join(pieces)


def apply_rotation(plan: RotationPlan, parser: ConfigParser, raw: RawConfigs) -> list[str]:
    """Edit ``raw`` as ``plan`` says (files not saved); the ids written."""
    names = plan.files
    if plan.mode == "in place":
        owner = raw.defining(plan.list_id, names)
        values = list(raw.get(owner, plan.list_id))
        values[plan.index : plan.index + (1 if plan.replace else 0)] = [plan.transform]
        raw.set(owner, plan.list_id, values)
        return [plan.list_id]
    rotation_id = _rotation_id(plan)
    expression = _sum_expression(plan, {s: len(parser[s]) for s in plan.segments}, rotation_id)
    if plan.mode == "compose":
        owner = raw.defining(f"{plan.compose_id}#transforms", names)
        raw.set(owner, f"{plan.compose_id}#transforms", expression)
        written = f"{plan.compose_id}#transforms"
    else:
        owner = raw.defining(plan.transform_id, names)
        compose = {k: v for k, v in parser[plan.compose_id].items() if k != "transforms"}
        raw.set(owner, plan.transform_id, {**compose, "transforms": expression})
        written = plan.transform_id
    raw.add(owner, rotation_id, plan.transform)
    return [written, rotation_id]

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""A bundle's own evaluation or inference pipeline, taken apart for a rotation audit.

:func:`read_bundle` parses the bundle's configs with MONAI's ``ConfigParser`` and returns a :class:`BundlePipeline`:
the evaluator's network (with the weights its checkpoint loader names, or ``ckpt``), its data loader (the bundle's
dataset and preprocessing), its inferer, the task (from ``configs/metadata.json``) and the seed. Only the pieces
named by the evaluator are built: the evaluator itself, its writers and its ``initialize`` steps are not, so
reading a bundle writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from monai.bundle import ConfigParser
from monai.transforms import CenterSpatialCropd, Compose, ResizeWithPadOrCropd
from monai.utils import ensure_tuple
from torch import nn

from monai_sre.audit.configs import RawConfigs, config_file
from monai_sre.audit.task import bundle_task
from monai_sre.networks.weights import load_weights

__all__ = ["EVALUATOR_IDS", "BundlePipeline", "default_configs", "read_bundle"]

EVALUATOR_IDS = ("validate#evaluator", "evaluator")  # the model zoo's evaluation and inference evaluators
_LOADERS = ("StateDictLoader", "CheckpointLoader")  # weight loaders among an evaluator's handlers
_FINAL_CROPS = (CenterSpatialCropd, ResizeWithPadOrCropd)  # a last crop the audit may move after the rotation


@dataclass
class BundlePipeline:
    """What a rotation audit needs from a bundle.

    Attributes:
        bundle_dir: the bundle folder.
        configs: the config files merged, in order.
        task: ``"classification"`` or ``"segmentation"``.
        evaluator_id: the id of the evaluator whose pieces these are.
        network: the evaluator's network, weights loaded.
        data_loader: the evaluator's data loader (the bundle's dataset and preprocessing); with a final centre
            crop moved out (see ``crop_size``).
        inferer: the evaluator's inferer (``None``: the network is called directly).
        crop_size: the spatial size of the bundle's final centre crop when the audit applies it after the
            rotation (so rotations resample real content, as this package's bundles evaluate), else ``None``.
        seed: the seed of ``haar-N`` protocols (the bundle's ``seed``, or 0).
        weights: the weights file loaded.
        metadata: the bundle's metadata.
        key_metric: the name of the evaluator's key metric (``key_val_metric``), ``None`` without one.
        notes: what the audit changed or could not use, in words (saved in the report's settings).
        class_names: the class names the configs define (``classes``: this package's datalist bundles, whose
            classes come from the command line), ``None`` when they define none (the metadata's are used).
    """

    bundle_dir: Path
    configs: list[str]
    task: str
    evaluator_id: str
    network: nn.Module
    data_loader: Any
    inferer: Any
    crop_size: tuple[int, ...] | None
    seed: int
    weights: str
    metadata: dict
    key_metric: str | None = None
    notes: list[str] = field(default_factory=list)
    class_names: list[str] | None = None


def default_configs(bundle_dir: str | Path) -> list[str]:
    """The configs a bundle's evaluation runs with, as the model zoo merges them (each ``.json``, else
    ``.yaml``/``.yml``).

    With ``configs/evaluate.json``: ``train.json`` then ``evaluate.json``, preceded by ``inference.json`` where
    ``train.json`` does not define ``network_def`` itself (this package's bundles: ``inference.json`` is their
    base). Without it: ``inference.json`` alone.

    Raises:
        FileNotFoundError: neither ``configs/evaluate.json`` (with ``train.json``) nor ``configs/inference.json``.
    """
    configs = Path(bundle_dir) / "configs"
    train, evaluate, inference = (config_file(configs, stem) for stem in ("train", "evaluate", "inference"))
    if evaluate is not None and train is not None:
        if RawConfigs(configs).defines(train, "network_def") or inference is None:
            return [train, evaluate]
        return [inference, train, evaluate]
    if inference is not None:
        return [inference]
    raise FileNotFoundError(
        f"'{configs}' holds neither evaluate.json with train.json nor inference.json (nor .yaml); pass --config."
    )


def _config_paths(bundle_dir: Path, config: str | Sequence[str] | None) -> list[Path]:
    if config is None:
        names = default_configs(bundle_dir)
    elif isinstance(config, str):
        names = [name.strip() for name in config.strip("[]").split(",") if name.strip()]
    else:
        names = list(config)
    paths = []
    for name in names:
        name = str(name).strip("'\" ")
        path = Path(name) if Path(name).is_absolute() else bundle_dir / name
        if not path.is_file():
            path = bundle_dir / "configs" / Path(name).name
        if not path.is_file():
            raise FileNotFoundError(f"config '{name}' not found in '{bundle_dir}' nor in '{bundle_dir / 'configs'}'.")
        paths.append(path)
    return paths


def _evaluator_id(parser: ConfigParser, configs: list[Path], evaluator_id: str | None) -> str:
    if evaluator_id is not None:
        if evaluator_id not in parser:
            raise KeyError(f"the configs {[p.name for p in configs]} define no id '{evaluator_id}' (--evaluator_id).")
        return evaluator_id
    candidates = EVALUATOR_IDS if any(p.stem == "evaluate" for p in configs) else EVALUATOR_IDS[::-1]
    for candidate in candidates:
        if candidate in parser:
            return candidate
    raise KeyError(
        f"the configs {[p.name for p in configs]} define no evaluator: expected the id 'validate#evaluator' "
        "(evaluation) or 'evaluator' (inference), a SupervisedEvaluator; pass --evaluator_id."
    )


def _required(parser: ConfigParser, evaluator_id: str, key: str, what: str) -> str:
    """The id of the evaluator's argument ``key``, which must be set."""
    config = parser[evaluator_id]
    if not isinstance(config, Mapping) or key not in config:
        raise KeyError(f"'{evaluator_id}' has no '{key}' ({what}); expected a MONAI SupervisedEvaluator's arguments.")
    return f"{evaluator_id}#{key}"


def _target_of(parser: ConfigParser, id_: str) -> tuple[str, Any]:
    """Follow plain ``@id`` references from ``id_``: the id finally holding the config, and that config."""
    config = parser[id_]
    seen = {id_}
    while isinstance(config, str) and config.startswith("@") and config[1:] not in seen:
        id_ = config[1:]
        seen.add(id_)
        config = parser[id_]
    return id_, config


def _loader_ids(parser: ConfigParser, evaluator_id: str) -> list[str]:
    """Ids of the weight loaders (``StateDictLoader``, ``CheckpointLoader``) among the evaluator's handlers."""
    if "val_handlers" not in parser[evaluator_id]:
        return []
    handlers_id, handlers = _target_of(parser, f"{evaluator_id}#val_handlers")
    found = []
    for index in range(len(handlers) if isinstance(handlers, list) else 0):
        item_id, item = _target_of(parser, f"{handlers_id}#{index}")
        if isinstance(item, Mapping) and str(item.get("_target_", "")).split(".")[-1] in _LOADERS:
            found.append(item_id)
    return found


def _key_metric(parser: ConfigParser, evaluator_id: str) -> str | None:
    """The name of the evaluator's key metric, read from the config (nothing built)."""
    if "key_val_metric" not in parser[evaluator_id]:
        return None
    _, metric = _target_of(parser, f"{evaluator_id}#key_val_metric")
    return next(iter(metric)) if isinstance(metric, Mapping) and metric else None


def _load(parser: ConfigParser, loader_id: str) -> str:
    """Run the loader ``loader_id`` once, outside an engine; the file it loaded."""
    loader = parser.get_parsed_content(loader_id)
    path = str(loader.load_path)
    if not Path(path).is_file():
        raise FileNotFoundError(f"the weights file '{path}' named by '{loader_id}' does not exist; pass --ckpt.")
    if type(loader).__name__ == "StateDictLoader":
        loader()
    else:  # MONAI's CheckpointLoader: it only reads max_epochs/epoch from the engine
        loader(SimpleNamespace(state=SimpleNamespace(max_epochs=None, epoch=0)))
    return path


def _move_final_crop(data_loader: Any, notes: list[str]) -> tuple[int, ...] | None:
    """Take a final centre crop out of the loader's preprocessing and return its size, so that the audit crops
    after rotating. ``None`` (nothing changed) where the layout is other (the note says why)."""
    dataset = getattr(data_loader, "dataset", None)
    transform = getattr(dataset, "transform", None)
    if not isinstance(transform, Compose):
        return None
    if hasattr(dataset, "cache_dir") or hasattr(dataset, "_cache"):  # a caching dataset: its crop is already done
        notes.append(f"{type(dataset).__name__} caches its preprocessing; rotations act on its output")
        return None
    spatial = [i for i, t in enumerate(transform.transforms) if not _is_type_only(t)]
    if not spatial or not isinstance(transform.transforms[spatial[-1]], _FINAL_CROPS):
        return None
    crop = transform.transforms[spatial[-1]]
    size = _crop_size(crop)
    if size is None:
        notes.append(f"the final {type(crop).__name__} has no fixed size; rotations act on its output")
        return None
    kept = [t for i, t in enumerate(transform.transforms) if i != spatial[-1]]
    dataset.transform = Compose(kept, map_items=transform.map_items, unpack_items=transform.unpack_items)
    notes.append(f"the final {type(crop).__name__} to {list(size)} is applied after each rotation")
    return size


def _is_type_only(transform: Any) -> bool:
    return type(transform).__name__ in ("EnsureTyped", "EnsureType", "ToTensord", "ToTensor", "CastToTyped")


def _crop_size(crop: Any) -> tuple[int, ...] | None:
    """The ``roi_size`` of a ``CenterSpatialCropd`` or ``ResizeWithPadOrCropd``; ``None`` when not fixed."""
    inner = getattr(crop, "cropper", None) or getattr(getattr(crop, "padder", None), "cropper", None)
    size = getattr(inner, "roi_size", None)
    if size is None or not all(int(s) > 0 for s in ensure_tuple(size)):
        return None
    return tuple(int(s) for s in ensure_tuple(size))


def read_bundle(
    bundle_dir: str | Path,
    config: str | Sequence[str] | None = None,
    ckpt: str | Path | None = None,
    task: str | None = None,
    evaluator_id: str | None = None,
    crop_after_rotation: bool = True,
    overrides: Mapping[str, Any] | None = None,
) -> BundlePipeline:
    """Parse a bundle and build what its evaluator runs: network (weights loaded), data loader and inferer.

    Args:
        bundle_dir: the bundle folder (``configs/metadata.json`` and the configs).
        config: a config name or a list merged in order (``"inference.json"``,
            ``["train.json", "evaluate.json"]``); default :func:`default_configs`.
        ckpt: a weights file to load instead of the one the config's checkpoint loader names.
        task: ``"classification"`` or ``"segmentation"``; default what the metadata says (:func:`bundle_task`).
        evaluator_id: the evaluator's id; default ``validate#evaluator`` (with ``evaluate.json``) or ``evaluator``.
        crop_after_rotation: where the preprocessing ends with a fixed-size centre crop, apply it after each
            rotation (content rather than padding in the corners), as this package's bundle evaluations do.
        overrides: config values to set (``{"num_test_samples": 64}``); ``bundle_root`` is always the folder.

    Raises:
        FileNotFoundError: no metadata, config or weights file (the path named).
        KeyError: no evaluator, or an evaluator without data loader or network (the id named).
        ValueError: a metadata that names no task.
    """
    bundle_dir = Path(bundle_dir).resolve()
    meta_path = bundle_dir / "configs" / "metadata.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"'{bundle_dir}' is not a bundle: it has no configs/metadata.json.")
    paths = _config_paths(bundle_dir, config)
    parser = ConfigParser()
    parser.read_meta(str(meta_path))
    parser.read_config([str(p) for p in paths])
    parser["bundle_root"] = str(bundle_dir)
    for key, value in (overrides or {}).items():
        parser[key] = value
    metadata = dict(parser.get("_meta_", {}))
    task = bundle_task(metadata, str(meta_path), task)
    eid, _ = _target_of(parser, _evaluator_id(parser, paths, evaluator_id))  # "evaluator": "@other#evaluator"
    loader_id = _required(parser, eid, "val_data_loader", "the data loader")
    network_id = _required(parser, eid, "network", "the network")
    notes: list[str] = []

    loaders = _loader_ids(parser, eid)
    if ckpt is not None:  # before anything is built: setting a value resets the parser's built objects
        for item in loaders:
            parser[f"{item}#load_path"] = str(ckpt)
    network = parser.get_parsed_content(network_id)
    if loaders:
        weights = [_load(parser, item) for item in loaders][-1]
    elif ckpt is not None:
        load_weights(ckpt, network)
        weights = str(ckpt)
    else:
        raise KeyError(
            f"'{eid}#val_handlers' holds no StateDictLoader or CheckpointLoader, so the bundle names no weights; "
            "pass --ckpt."
        )
    data_loader = parser.get_parsed_content(loader_id)
    inferer = parser.get_parsed_content(f"{eid}#inferer") if "inferer" in parser[eid] else None
    crop_size = _move_final_crop(data_loader, notes) if crop_after_rotation else None
    seed = parser.get_parsed_content("seed") if "seed" in parser else None
    seed = 0 if seed is None else int(seed)
    return BundlePipeline(
        bundle_dir,
        [p.name for p in paths],
        task,
        eid,
        network,
        data_loader,
        inferer,
        crop_size,
        seed,
        weights,
        metadata,
        _key_metric(parser, eid),
        notes,
        _config_class_names(parser),
    )


def _config_class_names(parser: ConfigParser) -> list[str] | None:
    """The ``classes`` the configs define, when that is a list of at least two names, else ``None`` (also when
    another bundle's ``classes`` means something else and does not build)."""
    if "classes" not in parser:
        return None
    try:
        names = parser.get_parsed_content("classes")
    except Exception:  # noqa: BLE001 - an id of another meaning: the metadata's names serve
        return None
    if isinstance(names, (list, tuple)) and len(names) >= 2 and all(isinstance(n, str) for n in names):
        return list(names)
    return None

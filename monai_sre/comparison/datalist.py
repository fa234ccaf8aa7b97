# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""``python -m monai_sre compare``: the fair comparison on the user's own datalist, through the generic
classification bundle (``bundles/sre_classification``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from monai_sre.arguments import as_probability
from monai_sre.comparison.compare import DEFAULT_FRACTIONS, EVALUATION_PROTOCOLS, ComparedModel, Comparison

__all__ = [
    "AUGMENTED_SUFFIX",
    "DEFAULT_MODELS",
    "GRID_AVERAGED_SUFFIX",
    "compare_on_datalist",
    "parse_model",
    "parse_models",
]

AUGMENTED_SUFFIX = "+so3"
GRID_AVERAGED_SUFFIX = "+grid"
# the two networks that decide the default: the exactly invariant group network with the bundle's default recipe
# (half its training samples rotated) and the augmented plain CNN (every sample rotated)
DEFAULT_MODELS = ("group_resnet_light+so3=0.5", "plain_resnet_light+so3")


def parse_model(spec: str) -> ComparedModel:
    """A model spec as a :class:`ComparedModel` of the generic bundle (its ``model_name``): ``"NAME"`` (a registered
    classification network, trained upright), then optionally ``"+so3"`` (every training sample rotated by a random
    SO(3) rotation, whatever the bundle's default ``rotation_prob``; ``"+so3=P"`` rotates each with probability ``P``
    and keeps the others upright) and ``"+grid"`` (evaluated as the mean of its softmax over the 48 grid symmetries,
    the bundle's ``grid_average``: exactly invariant on the grid at 48x the inference cost; training and validation
    are the network's own, so it is ``trained_as`` the spec without ``"+grid"`` and evaluates that model's
    checkpoints).

    Raises:
        ValueError: for a name the registry does not hold as a classification network (the message lists them), an
            unknown or repeated suffix, or a rotation probability outside (0, 1].
    """
    from monai_sre.networks.nets import list_models

    network, *suffixes = str(spec).split("+")
    flags = [f"+{suffix.partition('=')[0]}" for suffix in suffixes]
    known_flags = (AUGMENTED_SUFFIX, GRID_AVERAGED_SUFFIX)
    expected = (
        f"expected NAME optionally followed by '{AUGMENTED_SUFFIX}' (SO(3) augmentation; '{AUGMENTED_SUFFIX}=P' "
        f"rotates a share P of the training samples) and '{GRID_AVERAGED_SUFFIX}' (grid averaging at evaluation), "
        "each at most once"
    )
    if any(flag not in known_flags for flag in flags) or len(set(flags)) != len(flags):
        raise ValueError(f"model '{spec}': {expected}.")
    rotation_prob = 1.0
    for flag, has_share, share in (suffix.partition("=") for suffix in suffixes):
        if not has_share:
            continue
        if f"+{flag}" != AUGMENTED_SUFFIX:
            raise ValueError(f"model '{spec}': {expected}.")
        try:
            rotation_prob = as_probability(share)
        except ValueError:
            rotation_prob = None
        if not rotation_prob:  # not a probability, or 0 (that is no augmentation: the spec without "+so3")
            raise ValueError(f"model '{spec}': the share of rotated samples must be in (0, 1], got {share!r}.")
    known = list_models(task="classification")
    if network not in known:
        raise ValueError(
            f"unknown model '{spec}': expected a classification network of the registry, optionally followed by "
            f"'{AUGMENTED_SUFFIX}' (SO(3) augmentation) and '{GRID_AVERAGED_SUFFIX}' (grid averaging): "
            f"{', '.join(known)}."
        )
    augment, averaged = AUGMENTED_SUFFIX in flags, GRID_AVERAGED_SUFFIX in flags
    label = f"{network}, SO(3) augmentation" if augment else f"{network}, no augmentation"
    # an augmented model states its share of rotated samples: its rows mean the same whatever the bundle's default
    training_overrides: dict[str, Any] = {"rotation_prob": rotation_prob} if augment else {}
    if rotation_prob < 1.0:
        label += f" of {rotation_prob * 100:g} % of samples"
    overrides: dict[str, Any] = {"model_name": network}
    if not averaged:
        return ComparedModel(label, overrides, augment, training_overrides=training_overrides)
    source = parse_model(str(spec).replace(GRID_AVERAGED_SUFFIX, ""))
    return ComparedModel(
        f"{label}, grid-averaged (48 passes)", {**overrides, "grid_average": True}, augment, source.name
    )


def parse_models(specs: Sequence[str]) -> list[ComparedModel]:
    """The models of ``specs`` (:func:`parse_model`), followed by the source of each ``"+grid"`` spec that the list
    lacks (the averaged model evaluates its source's checkpoints, so the source trains and gets its rows too)."""
    specs = [str(spec) for spec in specs]
    sources = [spec.replace(GRID_AVERAGED_SUFFIX, "") for spec in specs if GRID_AVERAGED_SUFFIX in spec]
    models: dict[str, ComparedModel] = {}
    for spec in [*specs, *sources]:
        model = parse_model(spec)
        models.setdefault(model.name, model)
    return list(models.values())


def compare_on_datalist(
    datalist: str,
    num_classes: int,
    models: Sequence[str] = DEFAULT_MODELS,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    output: str = "runs/compare",
    resume: bool = False,
    epochs: int | None = None,
    lr_grid: Sequence[float] = (0.001, 0.003, 0.01),
    learning_rate: float | None = None,
    validations: int = 20,
    only: Sequence[str] | None = None,
    protocols: Sequence[str] = EVALUATION_PROTOCOLS,
    **bundle_overrides: Any,
) -> str:
    """Compare ``models`` on a datalist with the fair protocol (:class:`~monai_sre.comparison.Comparison`) and write
    ``results.json``, ``table.md`` and ``comparison.png`` into ``output``. The table pairs every model with the
    first one seed by seed and ends with the model the package's rule picks
    (:func:`~monai_sre.comparison.rule.choose_by_rule`).

    Args:
        datalist: the datalist of the generic bundle (decathlon JSON or CSV with a split column).
        num_classes: the number of classes.
        models: ``"NAME"``, ``"NAME+so3"``, ``"NAME+so3=0.5"``, ``"NAME+so3+grid"``... specs (:func:`parse_model`);
            a ``"+grid"`` model evaluates the checkpoints of its spec without ``"+grid"``, which is compared too
            (trained once).
        seeds: seeds (each draws its own subsample).
        fractions: training fractions in ``(0, 1]``.
        output: the comparison's folder; an existing comparison is refused unless ``resume``.
        resume: continue the comparison in ``output`` (rows already there are kept).
        epochs: epochs of the 100 % run (default: the bundle's ``max_epochs``).
        lr_grid: learning rates tried at 100 % on validation, per model.
        learning_rate: one fixed learning rate for every model instead of the grid.
        validations: validations per run.
        only: run only the models with these specs now (split a long comparison over sittings with ``resume``).
        protocols: rotation protocols of the test (``haar-64`` and any of ``grid48``, ``grid24``); the others'
            columns stay empty in the rows run now.
        bundle_overrides: more overrides of the bundle (``class_names``, ``modality``, ``spacing``, ``input_size``,
            ``device``, ``num_workers``, ...).

    Returns:
        the ``table.md`` text.
    """
    from monai_sre.runs import bundle_root

    parsed = parse_models(_as_list(models))
    fixed = {m.name: learning_rate for m in parsed} if learning_rate is not None else None
    comparison = Comparison(
        bundle_root("sre_classification"),
        output,
        parsed,
        fractions=[float(f) for f in _as_list(fractions)],
        seeds=[int(s) for s in _as_list(seeds)],
        epochs=epochs,
        learning_rates=fixed,
        lr_grid=[float(r) for r in _as_list(lr_grid)],
        validations=validations,
        resume=resume,
        protocols=_as_list(protocols),
        datalist=str(Path(datalist).resolve()),
        num_classes=num_classes,
        **bundle_overrides,
    )
    chosen = None if only is None else [parse_model(spec).name for spec in _as_list(only)]
    comparison.run(chosen)
    return (Path(output) / "table.md").read_text()


def _as_list(value) -> list:
    """A command-line value as a list: fire gives one value, a tuple (``0,1``), a list (``"['a','b']"``) or a string
    with commas (``a+so3,b``)."""
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [value]

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Why does the default group network's accuracy move with the seed? An ablation on the fair protocol.

Each variant is the default bundle's network (``group_resnet_light``, O regular, SO(3) augmentation) with one
change to its recipe, trained by the bundle's own configs under the comparison protocol of
``scripts/benchmark_data_efficiency.py`` (equal optimiser steps at every fraction, checkpoint by best validation
accuracy, test upright and under ``haar-64``/``grid48``/``grid24``). The baseline (learning rate 0.001, the one the
grid chose on validation) is the data-efficiency comparison's own row set, ``results/data_efficiency_cpu``; this
script runs only the changes:

- ``lr 0.003``: the learning rate the bundle shipped with before the grid (the one whose seeds collapsed);
- ``warm-up``: linear warm-up over the first 5 % of the epochs, then the cosine schedule;
- ``instance norm``: statistics per sample over every orientation of a channel instead of batch norm;
- ``rotated validation``: the checkpoint selected on the validation split under one fixed random rotation per patch
  (the distribution ``haar-64`` tests and training sees: resampled patches) instead of upright, unresampled
  patches; the test evaluation is unchanged;
- ``weight averaging``: validate, select and save an exponential moving average of the weights (the bundle's
  ``--weight_averaging_decay 0.995``; in 760 steps the handler's warm-up cap ``(1 + n) / (10 + n)`` rules, so the
  average weighs about the latest ``n / 9`` steps; :class:`monai_sre.handlers.WeightAveraging`) instead of the
  weights themselves;
- ``weight decay``: AdamW's decoupled weight decay 0.05 (the value common in AdamW recipes) instead of the bundle's
  0.0001 (training only: the evaluation has no optimiser);
- ``dropout``: dropout 0.2 on the pooled invariant features before the classifier (the networks' ``dropout``
  argument; identity in eval, so the test network is the same);
- ``half upright``: half of the training patches rotated (resampled), the other half cropped upright without
  resampling (the bundles' ``rotation_prob`` 0.5 instead of 1.0): validation and the upright test are unresampled
  patches, which training with every patch rotated never shows the network;
- ``dropout, half upright``: both (the bundles' default recipe with dropout 0.2): does dropout keep the default
  from the collapses left at 2 % (seed 5) and the low seeds at 10 % (seed 4) and 25 % (seed 3)?
- ``max orientation pool, half upright``: the default recipe with the invariant features pooled by the maximum over
  the 24 orientations instead of the mean;
- ``wide head, half upright``: the default recipe with 16 channels per rotation in the last stage instead of 8 (16
  invariant features for the classifier instead of 8; 230 k parameters instead of 84 k, the added convolutions at
  the coarsest resolution): is the 2 % collapse (deep grey matter and internal CSF confused) the narrow head?
- ``wide stem, half upright``: the default recipe with 2 channels per rotation in the stem and the first stage
  instead of 1 (89 k parameters; the added convolutions at the finest resolution): is it the single lifted
  filter, which must carry the centre intensity that separates those two classes and the context at once?
- ``centre column, half upright``: the default recipe with the head also reading the centre column (the mean over
  the central voxels of the input, the stem's output and every stage's output but the last, pooled over
  orientations; the group network's ``centre_features``): 9 more invariant features, 36 more parameters. Is the
  2 % collapse the global pool mixing the centre, whose intensity separates deep grey matter from internal CSF,
  with its surroundings?
- ``Oh rotations, half upright``: the default recipe on the network exactly invariant to all 48 grid symmetries,
  mirror images included (``group="Oh", space="rotations"``: Oh acting on the 24 rotations, kernels symmetric under
  the point reflection; 44 k parameters, the same feature widths): does the larger symmetry, which a tissue label
  has too, help where data is scarce?
- ``zero-init residual, half upright``: the default recipe with every residual branch's last batch-norm scale
  initialised to zero (the networks' ``zero_init_residual``; torchvision's option of that name): each block starts
  as its shortcut, so training starts from the shallow network of the stem and the shortcuts. The initial scale of
  the group-to-group layers, a candidate the issue names: does the group network, which fits 24 patches slower than
  the plain CNN, collapse less from a shallow start?
- ``label smoothing, half upright``: the default recipe with the cross-entropy's targets smoothed by 0.1 (training
  only): with 6 patches per class at 2 %, does a softer target keep the network from the confident fit that does
  not carry to the test anatomy?
- ``weight averaging, half upright``: the default recipe validating, selecting and saving the exponential moving
  average of the weights (``--weight_averaging_decay 0.995``): on the 10 % subsample of seed 4 averaging halved the
  spread over initialisations with every patch rotated; does it keep the default's low seeds at 10 % and 25 % on the
  fair protocol?
- ``--subset-seed N``: every seed trained on the subsample seed ``N`` draws (the seed then varies only
  initialisation and augmentation): is a low seed a hard subsample or an unlucky initialisation? Alone, the baseline
  recipe; with ``--variants``, those variants, or the control ``plain light`` (plain light with SO(3) augmentation at
  its own learning rate, 0.003: is the plain CNN as sensitive to its initialisation on the same subsample?).
- the control ``plain light, half upright`` (the plain CNN with half its training patches unrotated, at 0.003): does
  the plain CNN gain from ``half upright`` as much as the group network?

Usage::

    python scripts/ablate_group_stability.py --output results/group_stability_cpu --seeds 0 1 2 3 4 --fractions 1.0
    python scripts/ablate_group_stability.py --resume --output results/group_stability_cpu --variants warm-up
    python scripts/ablate_group_stability.py --resume --output results/group_stability_cpu --subset-seed 4 \
        --fractions 0.1 --seeds 0 1 2 3
    python scripts/ablate_group_stability.py --resume --output results/group_stability_cpu --subset-seed 4 \
        --variants "rotated validation" --fractions 0.1 --seeds 0 1 2 3 4
    python scripts/ablate_group_stability.py --resume --output results/group_stability_cpu --subset-seed 4 \
        --variants "plain light" --fractions 0.1 --seeds 0 1 2 3 4
    python scripts/ablate_group_stability.py --resume --output results/group_stability_cpu --subset-seed 4 \
        --variants dropout "weight decay" --fractions 0.1 --seeds 0 1 2 3 4
    python scripts/ablate_group_stability.py --resume --output results/group_stability_cpu --variants "half upright" \
        --fractions 1.0 0.05 --seeds 0 1 2
    python scripts/ablate_group_stability.py --resume --output results/group_stability_cpu \
        --variants "dropout, half upright" --fractions 0.02 --seeds 5
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

# the recipe the variants change (every training patch rotated) and the bundles' half-upright option, as the
# data-efficiency comparison states them, so both scripts' rows mean the same whatever the bundle's default
from benchmark_data_efficiency import ALL_ROTATED, BUNDLE, HALF_UPRIGHT, PLAIN_LIGHT, REPO

from monai_sre.comparison import ComparedModel, Comparison

BASE = "group light (O, regular), SO(3) augmentation"
WARM_UP = {
    "warm_up_epochs": "$max(1, @max_epochs // 20)",
    "lr_scheduler": {
        "_target_": "torch.optim.lr_scheduler.SequentialLR",
        "optimizer": "@optimizer",
        "schedulers": [
            "$torch.optim.lr_scheduler.LinearLR(@optimizer, start_factor=0.1, total_iters=@warm_up_epochs)",
            "$torch.optim.lr_scheduler.CosineAnnealingLR(@optimizer, T_max=@max_epochs - @warm_up_epochs)",
        ],
        "milestones": ["@warm_up_epochs"],
    },
}
INSTANCE_NORM = {
    "network_def": {
        "_target_": "monai_sre.networks.nets.group_resnet_light",
        "n_input_channels": 1,
        "num_classes": "@num_classes",
        "norm": "instance",
    }
}
DEFAULT_NETWORK = json.loads((BUNDLE / "configs" / "inference.json").read_text())["network_def"]
DROPOUT = {"network_def": {**DEFAULT_NETWORK, "dropout": 0.2}}
MAX_ORIENTATION_POOL = {"network_def": {**DEFAULT_NETWORK, "orientation_pool": "max"}}
WIDE_HEAD = {"network_def": {**DEFAULT_NETWORK, "block_inplanes": [1, 2, 4, 16]}}
WIDE_STEM = {"network_def": {**DEFAULT_NETWORK, "block_inplanes": [2, 2, 4, 8]}}
CENTRE_COLUMN = {"network_def": {**DEFAULT_NETWORK, "centre_features": True}}
OH_ROTATIONS = {"network_def": {**DEFAULT_NETWORK, "group": "Oh", "space": "rotations"}}
ZERO_INIT_RESIDUAL = {"network_def": {**DEFAULT_NETWORK, "zero_init_residual": True}}
LABEL_SMOOTHING = {"loss#label_smoothing": 0.1}
WEIGHT_DECAY = {"optimizer#weight_decay": 0.05}
ROTATED_VALIDATION = {
    "validation_rotation": "$monai_sre.transforms.RandSO3RotateCropd(keys='image', roi_size=[@input_size] * 3, "
    "mode='bilinear', padding_mode='zeros').set_random_state(seed=0)",
    "validate#dataset": {
        "_target_": "monai.data.Dataset",
        "data": "$list(map(@validation_rotation, monai_sre.data.TissuePatchDataset(split='val', "
        "patch_size=@patch_size, path=@dataset_dir, transform=@scale_intensity, num_samples=@num_val_samples)))",
        "transform": "@to_tensor",
    },
}
WEIGHT_AVERAGING = {"weight_averaging_decay": 0.995}  # the bundle's option (off by default)
VARIANTS = {
    "lr 0.003": (ComparedModel(f"{BASE}, lr 0.003", {}, True), 0.003),
    "warm-up": (ComparedModel(f"{BASE}, warm-up", WARM_UP, True), 0.001),
    "instance norm": (ComparedModel(f"{BASE}, instance norm", INSTANCE_NORM, True), 0.001),
    "rotated validation": (
        ComparedModel(f"{BASE}, rotated validation", training_overrides=ROTATED_VALIDATION),
        0.001,
    ),
    "weight averaging": (ComparedModel(f"{BASE}, weight averaging", training_overrides=WEIGHT_AVERAGING), 0.001),
    "weight decay": (ComparedModel(f"{BASE}, weight decay", training_overrides=WEIGHT_DECAY), 0.001),
    "dropout": (ComparedModel(f"{BASE}, dropout", DROPOUT, True), 0.001),
    "half upright": (ComparedModel(f"{BASE}, half upright", training_overrides=HALF_UPRIGHT), 0.001),
    "dropout, half upright": (
        ComparedModel(f"{BASE}, dropout, half upright", DROPOUT, True, training_overrides=HALF_UPRIGHT),
        0.001,
    ),
    "max orientation pool, half upright": (
        ComparedModel(
            f"{BASE}, max orientation pool, half upright", MAX_ORIENTATION_POOL, True, training_overrides=HALF_UPRIGHT
        ),
        0.001,
    ),
    "wide head, half upright": (
        ComparedModel(f"{BASE}, wide head, half upright", WIDE_HEAD, True, training_overrides=HALF_UPRIGHT),
        0.001,
    ),
    "wide stem, half upright": (
        ComparedModel(f"{BASE}, wide stem, half upright", WIDE_STEM, True, training_overrides=HALF_UPRIGHT),
        0.001,
    ),
    "centre column, half upright": (
        ComparedModel(f"{BASE}, centre column, half upright", CENTRE_COLUMN, True, training_overrides=HALF_UPRIGHT),
        0.001,
    ),
    "Oh rotations, half upright": (
        ComparedModel(
            "group light (Oh, rotations), SO(3) augmentation, half upright",
            OH_ROTATIONS,
            True,
            training_overrides=HALF_UPRIGHT,
        ),
        0.001,
    ),
    "zero-init residual, half upright": (
        ComparedModel(
            f"{BASE}, zero-init residual, half upright", ZERO_INIT_RESIDUAL, True, training_overrides=HALF_UPRIGHT
        ),
        0.001,
    ),
    "label smoothing, half upright": (
        ComparedModel(
            f"{BASE}, label smoothing, half upright",
            training_overrides={**HALF_UPRIGHT, **LABEL_SMOOTHING},
        ),
        0.001,
    ),
    "weight averaging, half upright": (
        ComparedModel(
            f"{BASE}, weight averaging, half upright",
            training_overrides={**HALF_UPRIGHT, **WEIGHT_AVERAGING},
        ),
        0.001,
    ),
}
CONTROLS = {
    "plain light": (ComparedModel("plain light, SO(3) augmentation", {"network_def": PLAIN_LIGHT}, True), 0.003),
    "plain light, half upright": (
        ComparedModel(
            "plain light, SO(3) augmentation, half upright",
            {"network_def": PLAIN_LIGHT},
            True,
            training_overrides=HALF_UPRIGHT,
        ),
        0.003,
    ),
}


def on_subsample(name: str | None, subset_seed: int) -> tuple[ComparedModel, float]:
    """The variant or control ``name`` (``None``: the baseline recipe) with every seed trained on ``subset_seed``'s
    subsample."""
    model, rate = {**VARIANTS, **CONTROLS}[name] if name is not None else (ComparedModel(BASE), 0.001)
    label = f"{model.name}, subsample of seed {subset_seed}"
    return replace(model, name=label, overrides={**model.overrides, "subset_seed": subset_seed}), rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, default=REPO / "runs" / "group_stability")
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument(
        "--variants", nargs="*", default=None, choices=[*VARIANTS, *CONTROLS], help="default: all variants, or none"
    )
    parser.add_argument(
        "--subset-seed",
        type=int,
        default=None,
        help="train every seed on this seed's subsample (alone: the baseline recipe; with --variants: those)",
    )
    parser.add_argument("--fractions", type=float, nargs="+", default=[1.0, 0.05])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    if args.variants == [] and args.subset_seed is None:
        parser.error("nothing to run: name --variants or a --subset-seed.")
    variants = {**VARIANTS, **CONTROLS}
    if args.subset_seed is None:
        names = args.variants or list(VARIANTS)
    else:
        names = []
        for name in args.variants or [None]:
            model, rate = on_subsample(name, args.subset_seed)
            variants[model.name] = (model, rate)
            names.append(model.name)
    chosen = [variants[name] for name in names]
    comparison = Comparison(
        BUNDLE, args.output, [model for model, _ in variants.values()], fractions=args.fractions, seeds=args.seeds,
        learning_rates={model.name: rate for model, rate in variants.values()}, work_dir=args.work_dir,
        resume=args.resume, **ALL_ROTATED,
    )  # fmt: skip
    comparison.run(models=[model.name for model, _ in chosen])
    print((args.output / "table.md").read_text())


if __name__ == "__main__":
    main()

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
- ``--subset-seed N``: the baseline recipe, every seed trained on the subsample seed ``N`` draws (the seed then
  varies only initialisation and augmentation): is a low seed a hard subsample or an unlucky initialisation?

Usage::

    python scripts/ablate_group_stability.py --output results/group_stability_cpu --seeds 0 1 2 3 4 --fractions 1.0
    python scripts/ablate_group_stability.py --resume --output results/group_stability_cpu --variants warm-up
    python scripts/ablate_group_stability.py --resume --output results/group_stability_cpu --subset-seed 4 \
        --fractions 0.1 --seeds 0 1 2 3
"""

from __future__ import annotations

import argparse
from pathlib import Path

from monai_sre.comparison import ComparedModel, Comparison

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "bundles" / "sre_resnet3d_tissue"
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
VARIANTS = {
    "lr 0.003": (ComparedModel(f"{BASE}, lr 0.003", {}, True), 0.003),
    "warm-up": (ComparedModel(f"{BASE}, warm-up", WARM_UP, True), 0.001),
    "instance norm": (ComparedModel(f"{BASE}, instance norm", INSTANCE_NORM, True), 0.001),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, default=REPO / "runs" / "group_stability")
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--variants", nargs="*", default=None, choices=list(VARIANTS), help="default: all, or none")
    parser.add_argument("--subset-seed", type=int, default=None, help="add the fixed-subsample run (default: not)")
    parser.add_argument("--fractions", type=float, nargs="+", default=[1.0, 0.05])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    names = args.variants if args.variants is not None else [] if args.subset_seed is not None else list(VARIANTS)
    variants = dict(VARIANTS)
    if args.subset_seed is not None:
        name = f"subsample of seed {args.subset_seed}"
        variants[name] = (ComparedModel(f"{BASE}, {name}", {"subset_seed": args.subset_seed}, True), 0.001)
        names.append(name)
    if not names:
        parser.error("nothing to run: name --variants or a --subset-seed.")
    chosen = [variants[name] for name in names]
    comparison = Comparison(
        BUNDLE, args.output, [model for model, _ in variants.values()], fractions=args.fractions, seeds=args.seeds,
        learning_rates={model.name: rate for model, rate in variants.values()}, work_dir=args.work_dir,
        resume=args.resume,
    )  # fmt: skip
    comparison.run(models=[model.name for model, _ in chosen])
    print((args.output / "table.md").read_text())


if __name__ == "__main__":
    main()

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""The fair comparison on the embedded tissue task: equal optimiser steps at every training fraction.

A thin caller of :class:`monai_sre.comparison.Comparison` (the protocol ``python -m monai_sre compare`` runs on a
user's datalist) for the default bundle ``bundles/sre_resnet3d_tissue``: each model is trained by the bundle's own
configs on a class-balanced fraction of the training split (drawn per seed) for the 100 % run's optimiser steps,
its learning rate chosen from a grid at 100 % on the validation split, its checkpoint by best validation accuracy,
and tested upright and under ``haar-64``, ``grid48`` and ``grid24`` (accuracy, worst case, consistency of the
predicted class). ``results.json``, ``table.md`` and ``comparison.png`` go to ``--output``; every row is saved as it
finishes, so a long comparison is split over sittings with ``--models``/``--fractions``/``--seeds`` and ``--resume``.

Usage::

    python scripts/benchmark_data_efficiency.py --output results/data_efficiency_cpu            # everything
    python scripts/benchmark_data_efficiency.py --resume --output results/data_efficiency_cpu \\
        --models "group light" "plain light, SO(3)" --fractions 0.02 0.05 --seeds 0     # one part of it
    python scripts/benchmark_data_efficiency.py --report-only --output results/data_efficiency_cpu
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from monai_sre.comparison import DEFAULT_FRACTIONS, EVALUATION_PROTOCOLS, ComparedModel, Comparison, write_report

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "bundles" / "sre_resnet3d_tissue"
CONFIGS = BUNDLE / "configs"

SRE_LIGHT = json.loads((CONFIGS / "sre_resnet.json").read_text())["network_def"]
PLAIN_LIGHT = json.loads((CONFIGS / "plain_resnet.json").read_text())["network_def"]
# every run states its share of rotated training patches (ALL_ROTATED below, passed to every run): a recipe's rows
# keep their meaning whatever the bundle's default; half upright rotates half the patches and crops the others upright
HALF_UPRIGHT = {"rotation_prob": 0.5}
ALL_ROTATED = {"rotation_prob": 1.0}
MODELS = [  # the bundle's default recipe first: the report's paired differences are against it
    ComparedModel(
        "group light (O, regular), SO(3) augmentation, half upright", {}, True, training_overrides=HALF_UPRIGHT
    ),
    ComparedModel("group light (O, regular), SO(3) augmentation", {}, True),  # the bundle's own network_def
    ComparedModel("plain light, SO(3) augmentation", {"network_def": PLAIN_LIGHT}, True),
    ComparedModel(
        "plain light, SO(3) augmentation, half upright",
        {"network_def": PLAIN_LIGHT},
        True,
        training_overrides=HALF_UPRIGHT,
    ),
    ComparedModel("group light (O, regular), no augmentation", {}, False),
    ComparedModel("plain light, no augmentation", {"network_def": PLAIN_LIGHT}, False),
    ComparedModel("SRE light, SO(3) augmentation", {"network_def": SRE_LIGHT}, True),
    ComparedModel("SRE light, no augmentation", {"network_def": SRE_LIGHT}, False),
    # the checkpoint of plain light with augmentation, evaluated as the mean over the 48 grid symmetries (48 passes)
    ComparedModel(
        "plain light + grid averaging, SO(3) augmentation",
        {"network_def": PLAIN_LIGHT, "grid_average": True},
        True,
        trained_as="plain light, SO(3) augmentation",
    ),
]


def _selects(word: str, name: str) -> bool:
    """``word`` selects the model ``name``: it is that name, or a part of it that is no model's full name."""
    return word == name or (word in name and word not in {m.name for m in MODELS})


def common_overrides(device: str | None) -> dict:
    """The bundle overrides of every run: :data:`ALL_ROTATED` and the ``device`` (``None``: the bundle's choice)."""
    return {**ALL_ROTATED, **({} if device is None else {"device": f"$torch.device({device!r})"})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, default=REPO / "runs" / "data_efficiency")
    parser.add_argument("--work-dir", type=Path, default=None, help="checkpoints and logs (default: OUTPUT/runs)")
    parser.add_argument(
        "--models", nargs="+", default=None,
        help="only these models: a full name, or a part of names (every model whose name contains it)",
    )  # fmt: skip
    parser.add_argument("--fractions", type=float, nargs="+", default=list(DEFAULT_FRACTIONS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--epochs", type=int, default=None, help="epochs at 100 %% (default: the bundle's)")
    parser.add_argument("--lr-grid", type=float, nargs="+", default=[0.001, 0.003, 0.01])
    parser.add_argument("--validations", type=int, default=20)
    parser.add_argument("--num-test", type=int, default=None, help="test patches (default: all)")
    parser.add_argument("--device", default=None, help="'cpu', 'cuda', ... (default: the bundle's choice)")
    parser.add_argument("--resume", action="store_true", help="keep the rows already in OUTPUT/results.json")
    parser.add_argument(
        "--protocols", nargs="+", default=list(EVALUATION_PROTOCOLS), choices=EVALUATION_PROTOCOLS,
        help="rotation protocols of the test (with haar-64); the others' columns stay empty in the rows run now",
    )  # fmt: skip
    parser.add_argument("--report-only", action="store_true", help="rewrite table.md and the plot only")
    args = parser.parse_args()
    if args.report_only:
        write_report(json.loads((args.output / "results.json").read_text()), args.output)
        print((args.output / "table.md").read_text())
        return
    models = MODELS if args.models is None else [m for m in MODELS if any(_selects(w, m.name) for w in args.models)]
    if not models:
        parser.error(f"--models {args.models} matches none of: {', '.join(m.name for m in MODELS)}.")
    common = common_overrides(args.device)
    comparison = Comparison(
        BUNDLE, args.output, MODELS, fractions=sorted({*DEFAULT_FRACTIONS, *args.fractions}),
        seeds=sorted({0, 1, 2, 3, 4, *args.seeds}), epochs=args.epochs,  # the grid trains on seed 0 whatever is run now
        lr_grid=args.lr_grid, validations=args.validations, num_test=args.num_test, work_dir=args.work_dir,
        resume=args.resume, protocols=args.protocols, **common,
    )  # fmt: skip
    comparison.run(models=[m.name for m in models], fractions=args.fractions, seeds=args.seeds)
    print((args.output / "table.md").read_text())


if __name__ == "__main__":
    main()

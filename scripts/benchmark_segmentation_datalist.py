# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Rotation robustness and cost of group, SRE and plain U-Nets trained by the segmentation bundle on any datalist.

For ``bundles/sre_segmentation``: its shipped tissue example or a user's image/label datalist. Every model is
trained and evaluated by the bundle's own configs (``inference.json`` + ``train.json``, then the same +
``evaluate.json``, parsed by MONAI's ``ConfigWorkflow`` as ``python -m monai.bundle run`` parses them, through
``monai_sre.comparison.bundle_runs.train_then_evaluate``), so
the checks of the datalist, preprocessing, class-balanced rotated patches, budget (optimiser, schedule),
checkpoint selection (best validation Dice on whole volumes), sliding-window evaluation and the rotation protocols
are the bundle's. The script sets the datalist, the classes, the network (``--model_name``: ``group_unet_light``,
``sre_unet_light``, ``plain_unet_light``), the rotation-augmentation switch and the seed, and overrides the budget
(epochs, validation interval, patch size, patches per volume), the device and the folders only when asked (when
``--epochs`` is below the validation interval, the interval too, so that a short run still validates and saves
its best model).

For each model and seed a row records: the network's parameters, the training wall time (validation included),
epochs and steps (iterations), the best validation Dice, the test mean foreground Dice upright (the bundle's
``test_mean_dice``) and per class upright, and for every protocol the mean and worst case Dice and label agreement
over its rotations (test split, whole volumes, image and label map rotated together; from the bundle's
``robustness_<protocol>.json``), plus the device. Rows are saved into ``--output/results.json`` as each finishes
(``--resume`` keeps them); ``--output/table.md`` holds mean +- sd over seeds per model, then the per-seed rows.
Checkpoints, logs and the robustness reports go to ``--work-dir`` (default: ``--output``), one folder per
(seed, model). The bundle picks the device (the first GPU when there is one) unless ``--device`` names one.

Usage::

    # the bundle's tissue example (MNI template slabs, 4 classes; shipped in bundles/sre_segmentation/data/, and
    # written again by scripts/build_segmentation_example.py), all six models, seeds 0 1 2, on the CPU
    E=bundles/sre_segmentation/data/tissue_example
    python scripts/benchmark_segmentation_datalist.py --datalist $E/datalist.json --num-classes 4 \\
        --class-names $E/classes.json --patch-size 16 --samples-per-volume 8 --epochs 600 \\
        --val-interval 20 --output results/segmentation_tissue_cpu

    # your own datalist, the bundle's budget, two models, two seeds
    python scripts/benchmark_segmentation_datalist.py --datalist data/datalist.json --num-classes 3 \\
        --models "group U-Net" "plain U-Net, SO(3)" --seeds 0 1 --output results/my_segmentation

    # a smoke test: one model, one seed, one epoch, one protocol
    python scripts/benchmark_segmentation_datalist.py --datalist /tmp/seg_example/datalist.json --num-classes 4 \\
        --models "group U-Net, SO(3)" --seeds 0 --epochs 1 --patch-size 16 --samples-per-volume 2 \\
        --protocols grid48 --output /tmp/segbench_smoke

    # continue an interrupted run, or split the work across runs (rows are saved one by one)
    python scripts/benchmark_segmentation_datalist.py --datalist ... --num-classes 4 ... --resume
    python scripts/benchmark_segmentation_datalist.py --report-only --output results/segmentation_tissue_cpu
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmark_robustness import device_name
from benchmarking import (
    check_device_and_models,
    per_seed_table,
    rows_table,
    run_rows,
    train_then_evaluate,
    write_table_report,
)

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "bundles" / "sre_segmentation"
TRAIN = json.loads((BUNDLE / "configs" / "train.json").read_text())
PROTOCOLS = ("paper", "haar-64", "grid48")

# name: (the bundle's --model_name, rotation augmentation)
MODELS = {
    "group U-Net, SO(3) augmentation": ("group_unet_light", True),
    "group U-Net, no augmentation": ("group_unet_light", False),
    "SRE U-Net, SO(3) augmentation": ("sre_unet_light", True),
    "SRE U-Net, no augmentation": ("sre_unet_light", False),
    "plain U-Net, SO(3) augmentation": ("plain_unet_light", True),
    "plain U-Net, no augmentation": ("plain_unet_light", False),
}


def run_one(name: str, model_name: str, augment: bool, seed: int, args, folder: Path) -> dict:
    """Train and evaluate one (model, seed) through the bundle into ``folder``; its row."""
    common = {"seed": seed}
    if args.device is not None:
        common["device"] = f"$torch.device({args.device!r})"
    train = {
        "datalist": str(args.datalist.resolve()),
        "num_classes": args.num_classes,
        "model_name": model_name,
        "augment_rotation": augment,
    }
    if args.class_names is not None:
        train["class_names"] = str(args.class_names.resolve())
    for key, value in (("max_epochs", args.epochs), ("patch_size", args.patch_size),
                       ("samples_per_volume", args.samples_per_volume)):  # fmt: skip
        if value is not None:
            train[key] = value
    val_interval = args.val_interval or TRAIN["val_interval"]
    if args.epochs is not None:
        val_interval = min(val_interval, args.epochs)  # validate (and save the best model) at least once
    if val_interval != TRAIN["val_interval"]:
        train["val_interval"] = val_interval
    run = train_then_evaluate(BUNDLE, [], folder, args.protocols, train_overrides=train, **common)
    evaluate = run.evaluate
    network = evaluate.parser.get_parsed_content("network")  # holds the weights its evaluation loaded
    steps = run.trainer.state.iteration
    metrics = dict(line.split(",") for line in (folder / "eval" / "metrics.csv").read_text().splitlines())
    row = {
        "model": name,
        "seed": seed,
        "model_name": model_name,
        "augment": augment,
        "datalist": train["datalist"],
        "device": device_name(next(network.parameters()).device),
        "params": sum(p.numel() for p in network.parameters()),
        "patch_size": evaluate.parser.get_parsed_content("patch_size"),
        "samples_per_volume": train.get("samples_per_volume", TRAIN["samples_per_volume"]),
        "epochs": run.trainer.state.epoch,
        "steps": steps,
        "train_seconds": run.train_seconds,
        "train_step_seconds": run.train_seconds / steps,
        "best_validation_dice": run.best_validation,
        "test_mean_dice": float(metrics["test_mean_dice"]),
    }
    for protocol in args.protocols:
        report = json.loads((folder / "eval" / f"robustness_{protocol}.json").read_text())
        if protocol == args.protocols[0]:  # the same upright pass under every protocol
            classes = [key for key in report["upright"] if key.startswith("dice_")]
            row.update({f"{key}_upright": report["upright"][key] for key in classes})
        for metric in ("dice", "agreement"):
            for stat in ("mean", "worst"):
                row[f"{protocol}_{metric}_{stat}"] = report["summary"][f"{metric}_{stat}"]
    return row


def columns(rows: list[dict]) -> list[tuple[str, str, str]]:
    """The table's ``(header, key, format)`` columns: cost, Dice upright (mean and per class), then per protocol
    the Dice and agreement (mean, worst), for the classes and protocols that every row has."""
    shared = [key for key in rows[0] if all(key in r for r in rows)]
    out = [("train s", "train_seconds", ".0f"), ("steps", "steps", ".0f"), ("Dice upright", "test_mean_dice", ".3f")]
    out += [(f"{k[5:-8]} upright", k, ".3f") for k in shared if k.startswith("dice_") and k.endswith("_upright")]
    for protocol in [k[: -len("_dice_mean")] for k in shared if k.endswith("_dice_mean")]:
        out += [
            (f"Dice {protocol}", f"{protocol}_dice_mean", ".3f"),
            (f"worst {protocol}", f"{protocol}_dice_worst", ".3f"),
            (f"agreement {protocol}", f"{protocol}_agreement_mean", ".3f"),
            (f"agreement worst {protocol}", f"{protocol}_agreement_worst", ".3f"),
        ]
    return out


def table(rows: list[dict]) -> str:
    """Mean +- sd over seeds of every model, then every seed's row, as markdown tables."""
    if not rows:
        return "No rows."
    spec = columns(rows)
    return rows_table(rows, spec) + "\n\nPer seed:\n\n" + per_seed_table(rows, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datalist", type=Path, default=None, help="the bundle's --datalist (JSON or CSV)")
    parser.add_argument("--num-classes", type=int, default=None, help="classes, background included")
    parser.add_argument("--class-names", type=Path, default=None, help="JSON list or text file (background first)")
    parser.add_argument("--models", nargs="+", default=None, help="only models whose name contains one of these")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=None, help=f"(default: the bundle's {TRAIN['max_epochs']})")
    parser.add_argument("--val-interval", type=int, default=None, help=f"(default: {TRAIN['val_interval']})")
    parser.add_argument("--patch-size", type=int, default=None, help=f"(default: {TRAIN['patch_size']})")
    parser.add_argument(
        "--samples-per-volume", type=int, default=None, help=f"(default: {TRAIN['samples_per_volume']})"
    )
    parser.add_argument("--protocols", nargs="+", default=list(PROTOCOLS), help="rotation protocols to evaluate")
    parser.add_argument("--output", type=Path, default=REPO / "results" / "segmentation_datalist")
    parser.add_argument("--work-dir", type=Path, default=None, help="checkpoints and logs (default: --output)")
    parser.add_argument("--device", default=None, help="'cpu', 'cuda', 'cuda:1'... (default: the bundle's choice)")
    parser.add_argument("--report-only", action="store_true", help="table of --output/results.json only")
    parser.add_argument("--resume", action="store_true", help="keep the (model, seed) rows already in results.json")
    args = parser.parse_args()
    if not args.report_only:
        if args.datalist is None or args.num_classes is None:
            parser.error("--datalist and --num-classes are required (except with --report-only).")
        if not args.datalist.is_file():
            parser.error(f"--datalist {args.datalist} is not a file.")
        if args.class_names is not None and not args.class_names.is_file():
            parser.error(f"--class-names {args.class_names} is not a file.")
        for option in ("num_classes", "epochs", "val_interval", "patch_size", "samples_per_volume"):
            value = getattr(args, option)
            if value is not None and value < 1:
                parser.error(f"--{option.replace('_', '-')} must be at least 1, got {value}.")
        results = args.output / "results.json"
        if args.resume and results.exists():
            datalist = str(args.datalist.resolve())
            other = {r.get("datalist") for r in json.loads(results.read_text())} - {datalist}
            if other:
                parser.error(f"{results} holds rows of another datalist ({', '.join(map(str, other))}).")
    models = check_device_and_models(parser, args.device, MODELS, args.models)
    rows = run_rows(parser, args, models, list(MODELS), run_one)
    write_table_report(rows, table(rows), args.output)


if __name__ == "__main__":
    main()

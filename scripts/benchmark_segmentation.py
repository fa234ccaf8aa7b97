# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Rotation robustness and cost of SRE U-Nets against plain and group U-Nets on the embedded tissue segmentation data.

The segmentation sibling of ``benchmark_robustness.py``. Every model is trained and evaluated by the segmentation
bundle's own configs (``bundles/sre_unet3d_tissue_seg``: ``inference.json`` + ``train.json`` with the model's
overlay, then the same + ``evaluate.json``, parsed by MONAI's ``ConfigWorkflow`` as ``python -m monai.bundle run``
parses them), so preprocessing, budget (epochs, optimiser, schedule), checkpoint selection (best validation Dice),
weight loading and evaluation are the bundle's; the script overrides only the seed, the rotation-augmentation
switch, the sample counts, the device and the output folders (and, when ``--epochs`` is below the bundle's
validation interval, the interval, so that a short run still validates and saves its best model). The networks
are the bundle's default (``sre_unet_light``), ``plain_unet.json``'s and ``group_unet.json``'s ``network_def``.
For each model and seed it records: parameters, training wall time, training step time (wall time over
iterations, validation included), mean foreground Dice upright and per class upright, and the mean and worst case
Dice and label agreement under the protocols ``paper``, ``haar-64`` and ``grid48`` (test split, image and label map
rotated together). It prints a markdown table (mean +- sd over seeds) and writes ``results.json`` and ``table.md``
into ``--output`` (checkpoints, logs and the robustness reports go to ``--work-dir``, by default the same folder).
The bundle picks the device (the first GPU when there is one) unless ``--device`` names one; each row records it.

Usage::

    python scripts/benchmark_segmentation.py --seeds 0 1 2                       # the five models, bundle budget
    python scripts/benchmark_segmentation.py --models "SRE U-Net" "plain U-Net" --seeds 0 1 --epochs 50
    python scripts/benchmark_segmentation.py --models "SRE U-Net, SO(3)" --seeds 0 --epochs 1 --num-train 8 \\
        --num-test 2 --output /tmp/segbench_smoke                                # smoke test
    python scripts/benchmark_segmentation.py --resume        # continue an interrupted run (rows are saved one by one)
    python scripts/benchmark_segmentation.py --models "group" --seeds 0 --resume   # split the work across runs
    python scripts/benchmark_segmentation.py --report-only --output results/segmentation_cpu   # table only
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmark_robustness import device_name
from benchmarking import check_device_and_models, rows_table, run_rows, train_then_evaluate, write_table_report

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "bundles" / "sre_unet3d_tissue_seg"
TRAIN = json.loads((BUNDLE / "configs" / "train.json").read_text())
# the reported (foreground) classes: evaluate.json leaves the background out
CLASSES = json.loads((BUNDLE / "configs" / "inference.json").read_text())["class_names"][1:]
PROTOCOLS = ("paper", "haar-64", "grid48")

# name: (the overlay config on top of train.json, None for the bundle's default network; rotation augmentation)
MODELS = {
    "SRE U-Net, no augmentation": (None, False),
    "SRE U-Net, SO(3) augmentation": (None, True),
    "plain U-Net, no augmentation": ("plain_unet", False),
    "plain U-Net, SO(3) augmentation": ("plain_unet", True),
    "group U-Net, SO(3) augmentation": ("group_unet", True),
}


def run_one(name: str, overlay: str | None, augment: bool, seed: int, args, folder: Path) -> dict:
    common = {"seed": seed, "augment_rotation": augment}
    for key, value in (("max_epochs", args.epochs), ("num_train_samples", args.num_train),
                       ("num_val_samples", args.num_val)):  # fmt: skip
        if value is not None:
            common[key] = value
    if args.epochs is not None and args.epochs < TRAIN["val_interval"]:
        common["val_interval"] = args.epochs  # validate (and save the best model) at least once
    if args.device is not None:
        common["device"] = f"$torch.device({args.device!r})"
    overlays = [] if overlay is None else [overlay]
    run = train_then_evaluate(BUNDLE, overlays, folder, PROTOCOLS, args.num_test, **common)
    train_seconds, trainer, evaluate = run.train_seconds, run.trainer, run.evaluate
    iterations, epochs = trainer.state.iteration, trainer.state.epoch
    network = evaluate.parser.get_parsed_content("network")  # holds the weights its evaluation loaded
    device = next(network.parameters()).device
    row = {
        "model": name,
        "seed": seed,
        "augment": augment,
        "device": device_name(device),
        "params": sum(p.numel() for p in network.parameters()),
        "epochs": epochs,
        "iterations": iterations,
        "train_seconds": train_seconds,
        "train_step_seconds": train_seconds / iterations,
    }
    for protocol in PROTOCOLS:
        summary = json.loads((folder / "eval" / f"robustness_{protocol}.json").read_text())["summary"]
        if protocol == PROTOCOLS[0]:  # the same upright pass under every protocol
            row["dice_upright"] = summary["dice_upright"]
            row.update({f"dice_{c}_upright": summary[f"dice_{c}_upright"] for c in CLASSES})
        for metric in ("dice", "agreement"):
            row[f"{protocol}_{metric}_mean"] = summary[f"{metric}_mean"]
            row[f"{protocol}_{metric}_worst"] = summary[f"{metric}_worst"]
    return row


def table(rows: list[dict]) -> str:
    """Mean +- sd over seeds of every model, as a markdown table."""
    columns = [("train s", "train_seconds", ".0f"), ("step s", "train_step_seconds", ".3f"),
               ("Dice upright", "dice_upright", ".3f")]  # fmt: skip
    columns += [(f"{c} upright", f"dice_{c}_upright", ".3f") for c in CLASSES]
    columns += [
        ("Dice paper", "paper_dice_mean", ".3f"),
        ("worst paper", "paper_dice_worst", ".3f"),
        ("Dice haar-64", "haar-64_dice_mean", ".3f"),
        ("worst haar-64", "haar-64_dice_worst", ".3f"),
        ("worst grid48", "grid48_dice_worst", ".3f"),
        ("agreement grid48 worst", "grid48_agreement_worst", ".3f"),
    ]
    return rows_table(rows, columns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=None, help=f"(default: the bundle's {TRAIN['max_epochs']})")
    parser.add_argument("--num-train", type=int, default=None, help="training patches (default: all)")
    parser.add_argument("--num-val", type=int, default=None, help="validation patches (default: all)")
    parser.add_argument("--num-test", type=int, default=None, help="test patches (default: all)")
    parser.add_argument("--output", type=Path, default=REPO / "results" / "segmentation_cpu")
    parser.add_argument("--work-dir", type=Path, default=None, help="checkpoints and logs (default: --output)")
    parser.add_argument("--device", default=None, help="'cpu', 'cuda', 'cuda:1'... (default: the bundle's choice)")
    parser.add_argument("--report-only", action="store_true", help="table of --output/results.json only")
    parser.add_argument("--resume", action="store_true", help="keep the (model, seed) rows already in results.json")
    parser.add_argument("--models", nargs="+", default=None, help="only models whose name contains one of these")
    args = parser.parse_args()
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}.")
    models = check_device_and_models(parser, args.device, MODELS, args.models)
    rows = run_rows(parser, args, models, list(MODELS), run_one)
    write_table_report(rows, table(rows), args.output)


if __name__ == "__main__":
    main()

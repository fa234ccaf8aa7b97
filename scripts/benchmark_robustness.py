# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Rotation robustness and cost of SRE networks against plain CNNs on the embedded tissue dataset.

Every model is trained and evaluated by the default bundle's own configs (``bundles/sre_resnet3d_tissue``:
``inference.json`` + ``train.json``, then the same + ``evaluate.json``, parsed by MONAI's ``ConfigWorkflow`` and run
as ``python -m monai.bundle run`` runs them), so preprocessing, budget (epochs, optimiser, schedule), checkpoint
selection (best validation accuracy), weight loading and evaluation are the bundle's; the script overrides only the
network (``network_def``; the group-network rows keep the bundle's own), the seed, the rotation-augmentation switch,
the sample counts, the device and the output folders. ``--num-train N`` trains on the first ``N`` patches for the
optimiser steps of ``--epochs`` over the whole training split (the epochs grow as ``N`` shrinks,
:class:`monai_sre.comparison.EqualStepsBudget`, the fair comparison's budget), so a quick run on fewer patches is a
shorter epoch, not a shorter training; data efficiency itself (class-balanced subsamples drawn per seed, the learning
rate chosen on validation) is ``scripts/benchmark_data_efficiency.py``'s. The inputs of the throughput and invariance
measurements are the bundle's preprocessed test batches (``validate#dataloader`` of the evaluation config). For each
model and seed it records: the budget (training patches, epochs, optimiser steps), parameters, training wall time,
inference throughput (volumes/s, eval mode), upright and rotated accuracy and AUC (protocols ``paper``, ``haar-64``,
``grid48`` on the test split) and the invariance error of the logits under the grid symmetries and under 8 random
rotations. It prints a markdown table (mean +- sd over seeds) and writes ``results.json``, ``table.md`` and
``robustness.png`` into ``--output`` (checkpoints and logs go to ``--work-dir``, by default the same folder). The
bundle picks the device (the first GPU when there is one) unless ``--device`` names one; each row records it.

Usage::

    python scripts/benchmark_robustness.py --seeds 0 1 2                 # the nine default models
    python scripts/benchmark_robustness.py --models "group light" "plain light" --seeds 0 1 2 --num-train 120
    python scripts/benchmark_robustness.py --seeds 0 --epochs 1 --num-train 64 --num-test 64   # smoke test
    python scripts/benchmark_robustness.py --resume          # continue an interrupted run (rows are saved one by one)
    python scripts/benchmark_robustness.py --models "MONAI" --seeds 0 --resume   # split the work across runs
    python scripts/benchmark_robustness.py --report-only --output results/robustness   # table and plot only
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from benchmarking import check_device_and_models, rows_table, run_rows, train_then_evaluate, write_table_report

from monai_sre.comparison import EqualStepsBudget, RunBudget
from monai_sre.comparison.bundle_runs import TRAIN_CONFIGS, bundle_parser
from monai_sre.evaluation import invariance_error

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "bundles" / "sre_resnet3d_tissue"
CONFIGS = BUNDLE / "configs"
PROTOCOLS = ("paper", "haar-64", "grid48")

SRE_LIGHT = json.loads((CONFIGS / "sre_resnet.json").read_text())["network_def"]
MONAI_RESNET18 = {
    "_target_": "monai.networks.nets.resnet18",
    "spatial_dims": 3,
    "n_input_channels": 1,
    "num_classes": "@num_classes",
}
SRE_PAPER = {
    "_target_": "monai_sre.networks.nets.sre_resnet18_paper",
    "n_input_channels": 1,
    "num_classes": "@num_classes",
}
PLAIN_LIGHT = json.loads((CONFIGS / "plain_resnet.json").read_text())["network_def"]  # SRE light's widths
GROUP_LIGHT = None  # the bundle's own network_def (monai_sre.networks.nets.group_resnet_light)
# trained with one random grid symmetry per step, evaluated as the mean over all 48 (48 forward passes)
PLAIN_LIGHT_AVERAGED = {"_target_": "monai_sre.networks.nets.GridAveraged", "model": PLAIN_LIGHT, "train_samples": 1}
MODELS = {
    "SRE light, no augmentation": (SRE_LIGHT, False),
    "SRE light, SO(3) augmentation": (SRE_LIGHT, True),
    "MONAI resnet18, no augmentation": (MONAI_RESNET18, False),
    "MONAI resnet18, SO(3) augmentation": (MONAI_RESNET18, True),
    "plain light, no augmentation": (PLAIN_LIGHT, False),
    "plain light, SO(3) augmentation": (PLAIN_LIGHT, True),
    "group light (O, regular), no augmentation": (GROUP_LIGHT, False),
    "group light (O, regular), SO(3) augmentation": (GROUP_LIGHT, True),
    "plain light + grid averaging, SO(3) augmentation": (PLAIN_LIGHT_AVERAGED, True),
}
PAPER_MODEL = {"SRE ResNet-18 paper preset (k=5), no augmentation": (SRE_PAPER, False)}


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


def throughput(network: torch.nn.Module, images: torch.Tensor, repeats: int = 3) -> float:
    """Volumes per second of eval-mode inference, batches of 64 already on the network's device."""
    device = next(network.parameters()).device
    images = images.to(device)

    def synchronize() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    network.eval()
    with torch.no_grad():
        network(images[:64])
        times = []
        for _ in range(repeats):
            synchronize()
            start = time.perf_counter()
            for batch in images.split(64):
                network(batch)
            synchronize()
            times.append(time.perf_counter() - start)
    return len(images) / statistics.median(times)


def training_budget(epochs: int, num_train: int | None) -> RunBudget:
    """The optimiser steps of ``epochs`` over the bundle's whole training split, spread over its first ``num_train``
    patches (``None``: all of them), validating as often as the whole-split run does (once per epoch).

    Raises:
        ValueError: ``num_train`` is not an int between 1 and the training split's size.
    """
    parser = bundle_parser(BUNDLE, TRAIN_CONFIGS)
    full = len(parser.get_parsed_content("train#dataset"))
    budget = EqualStepsBudget(full, int(parser.get_parsed_content("batch_size")), epochs, validations=epochs)
    return budget.for_size(full if num_train is None else num_train)


def run_one(name: str, network_def: dict | None, augment: bool, seed: int, args, folder: Path) -> dict:
    common = {
        "seed": seed,
        "augment_rotation": augment,
        "rotation_prob": 1.0,  # "SO(3) augmentation" rotates every training patch, whatever the bundle's default
        "max_epochs": args.budget.epochs,
        "val_interval": args.budget.val_interval,
        "num_train_samples": args.num_train,
        "num_val_samples": args.num_val,
    }
    if network_def is not None:
        common["network_def"] = network_def
    if args.device is not None:
        common["device"] = f"$torch.device({args.device!r})"
    if args.num_workers is not None:
        common["num_workers"] = args.num_workers
        common["train#dataloader#persistent_workers"] = args.num_workers > 0
        common["validate#dataloader#persistent_workers"] = args.num_workers > 0
    run = train_then_evaluate(BUNDLE, [], folder, PROTOCOLS, args.num_test, **common)
    train_seconds, evaluate = run.train_seconds, run.evaluate
    network = evaluate.parser.get_parsed_content("network").eval()  # holds the weights its evaluation loaded
    device = next(network.parameters()).device
    test_batches = evaluate.parser.get_parsed_content("validate#dataloader")  # test split, bundle preprocessing
    inputs = torch.cat([batch["image"] for batch in test_batches]).to(device)
    row = {
        "model": name,
        "seed": seed,
        "augment": augment,
        "device": device_name(device),
        "num_train": args.budget.num_train,
        "epochs": args.budget.epochs,
        "steps": args.budget.steps,
        "params": sum(p.numel() for p in network.parameters()),
        "train_seconds": train_seconds,
        "volumes_per_second": throughput(network, inputs),
        "invariance_error_grid48": invariance_error(network, inputs[:32], "grid48"),
        "invariance_error_haar8": invariance_error(network, inputs[:32], "haar-8"),
    }
    for protocol in PROTOCOLS:
        summary = json.loads((folder / "eval" / f"robustness_{protocol}.json").read_text())["summary"]
        for metric in ("accuracy", "auc"):
            row[f"{metric}_upright"] = summary[f"{metric}_upright"]
            row[f"{protocol}_{metric}_mean"] = summary[f"{metric}_mean"]
            row[f"{protocol}_{metric}_worst"] = summary[f"{metric}_worst"]
    return row


def table(rows: list[dict]) -> str:
    """Mean +- sd over seeds of every model, as a markdown table."""
    columns = [("train s", "train_seconds", ".0f"), ("vol/s", "volumes_per_second", ".0f"),
               ("acc upright", "accuracy_upright", ".3f"), ("AUC upright", "auc_upright", ".3f")]  # fmt: skip
    for protocol in PROTOCOLS:
        columns += [
            (f"acc {protocol}", f"{protocol}_accuracy_mean", ".3f"),
            (f"worst {protocol}", f"{protocol}_accuracy_worst", ".3f"),
            (f"AUC {protocol}", f"{protocol}_auc_mean", ".3f"),
        ]
    columns += [
        ("inv. error grid48", "invariance_error_grid48", ".1e"),
        ("inv. error haar-8", "invariance_error_haar8", ".3f"),
    ]
    return rows_table(rows, columns)


def plot(rows: list[dict], path: Path) -> None:
    from matplotlib.figure import Figure

    from monai_sre.evaluation.plot import legend_outside

    models = list(dict.fromkeys(r["model"] for r in rows))
    keys = ["accuracy_upright"] + [f"{p}_accuracy_mean" for p in PROTOCOLS] + ["grid48_accuracy_worst"]
    labels = ["upright"] + [f"{p} mean" for p in PROTOCOLS] + ["grid48 worst"]
    figure = Figure(figsize=(12, 4.8), layout="constrained")
    axis = figure.add_subplot()
    width = 0.8 / len(models)
    for i, model in enumerate(models):
        group = [r for r in rows if r["model"] == model]
        means = [statistics.mean(r[k] for r in group) for k in keys]
        sds = [statistics.stdev([r[k] for r in group]) if len(group) > 1 else 0 for k in keys]
        axis.bar([j + i * width for j in range(len(keys))], means, width, yerr=sds, label=model, capsize=2)
    axis.set_xticks([j + 0.4 - width / 2 for j in range(len(keys))], labels)
    axis.set_ylabel("test accuracy (mean ± sd over seeds)")
    axis.set_ylim(0.5, 1.0)
    axis.grid(axis="y", alpha=0.3)
    legend_outside(figure, fontsize=7)  # beside the panel: never over a bar
    figure.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=20, help="epochs over the whole training split")
    parser.add_argument(
        "--num-train", type=int, default=None, help="the first N training patches, same optimiser steps (default: all)"
    )
    parser.add_argument("--num-val", type=int, default=None, help="validation patches (default: all)")
    parser.add_argument("--num-test", type=int, default=None, help="test patches (default: all)")
    parser.add_argument("--with-paper", action="store_true", help="also the paper-style preset (slow on CPU)")
    parser.add_argument("--output", type=Path, default=REPO / "runs" / "robustness")
    parser.add_argument("--work-dir", type=Path, default=None, help="checkpoints and logs (default: --output)")
    parser.add_argument("--num-workers", type=int, default=None, help="data-loader workers (bundle default: 0)")
    parser.add_argument("--device", default=None, help="'cpu', 'cuda', 'cuda:1'... (default: the bundle's choice)")
    parser.add_argument("--report-only", action="store_true", help="table and plot of --output/results.json only")
    parser.add_argument("--resume", action="store_true", help="keep the (model, seed) rows already in results.json")
    parser.add_argument("--models", nargs="+", default=None, help="only models whose name contains one of these")
    args = parser.parse_args()
    offered = {**MODELS, **(PAPER_MODEL if args.with_paper else {})}
    models = check_device_and_models(parser, args.device, offered, args.models)
    if not args.report_only:
        try:
            args.budget = training_budget(args.epochs, args.num_train)
        except ValueError as error:
            parser.error(f"--epochs {args.epochs} --num-train {args.num_train}: {error}")
    rows = run_rows(parser, args, models, list({**MODELS, **PAPER_MODEL}), run_one)
    plot(rows, args.output / "robustness.png")
    write_table_report(rows, table(rows), args.output)


if __name__ == "__main__":
    main()

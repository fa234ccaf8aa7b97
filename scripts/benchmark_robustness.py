# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Rotation robustness and cost of SRE networks against plain CNNs on the embedded tissue dataset.

Every model is trained and evaluated by the default bundle's own configs (``bundles/sre_resnet3d_tissue``),
so pipeline, budget (epochs, optimiser, schedule) and checkpoint selection (best validation accuracy) are the
same; only the network and the rotation-augmentation switch change. For each model and seed it records:
parameters, training wall time, inference throughput (volumes/s, eval mode), upright and rotated accuracy and AUC
(protocols ``paper``, ``haar-64``, ``grid48`` on the test split) and the invariance error of the logits under
the grid symmetries and under 8 random rotations. It prints a markdown table (mean +- sd over seeds) and writes
``results.json`` and ``robustness.png`` into ``--output``.

Usage::

    python scripts/benchmark_robustness.py --seeds 0 1 2                 # the four default models
    python scripts/benchmark_robustness.py --seeds 0 --epochs 1 --num-train 64 --num-test 64   # smoke test
    python scripts/benchmark_robustness.py --resume          # continue an interrupted run (rows are saved one by one)
    python scripts/benchmark_robustness.py --models "MONAI" --seeds 0 --resume   # split the work across runs
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from monai.bundle import ConfigWorkflow

from monai_sre.data import TissuePatchDataset
from monai_sre.evaluation import invariance_error
from monai_sre.evaluation.robustness import centre_crop

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "bundles" / "sre_resnet3d_tissue"
CONFIGS = BUNDLE / "configs"
PROTOCOLS = ("paper", "haar-64", "grid48")

SRE_LIGHT = {"_target_": "monai_sre.networks.nets.sre_resnet_light", "n_input_channels": 1, "num_classes": 4}
MONAI_RESNET18 = {
    "_target_": "monai.networks.nets.resnet18",
    "spatial_dims": 3,
    "n_input_channels": 1,
    "num_classes": 4,
}
SRE_PAPER = {"_target_": "monai_sre.networks.nets.sre_resnet18_paper", "n_input_channels": 1, "num_classes": 4}
MODELS = {
    "SRE light, no augmentation": (SRE_LIGHT, False),
    "SRE light, SO(3) augmentation": (SRE_LIGHT, True),
    "MONAI resnet18, no augmentation": (MONAI_RESNET18, False),
    "MONAI resnet18, SO(3) augmentation": (MONAI_RESNET18, True),
}
PAPER_MODEL = {"SRE ResNet-18 paper preset (k=5), no augmentation": (SRE_PAPER, False)}


def workflow(files: list[str], **overrides) -> ConfigWorkflow:
    flow = ConfigWorkflow(
        config_file=[str(CONFIGS / f"{name}.json") for name in files],
        meta_file=str(CONFIGS / "metadata.json"),
        logging_file=str(CONFIGS / "logging.conf"),
        workflow_type="train",
        bundle_root=str(BUNDLE),
        **overrides,
    )
    flow.initialize()
    return flow


def throughput(network: torch.nn.Module, images: torch.Tensor, repeats: int = 3) -> float:
    network.eval()
    with torch.no_grad():
        network(images[:8])
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            for batch in images.split(64):
                network(batch)
            times.append(time.perf_counter() - start)
    return len(images) / statistics.median(times)


def run_one(name: str, network_def: dict, augment: bool, seed: int, args, folder: Path) -> dict:
    common = {
        "network_def": network_def,
        "seed": seed,
        "augment_rotation": augment,
        "max_epochs": args.epochs,
        "num_train_samples": args.num_train,
        "num_val_samples": args.num_val,
    }
    train = workflow(["train"], ckpt_dir=str(folder / "models"), output_dir=str(folder / "train"), **common)
    start = time.perf_counter()
    train.run()
    train_seconds = time.perf_counter() - start
    train.finalize()
    evaluate = workflow(
        ["train", "evaluate"],
        ckpt_path=str(folder / "models" / "model.pt"),
        eval_dir=str(folder / "eval"),
        rotation_protocols=list(PROTOCOLS),
        num_test_samples=args.num_test,
        **common,
    )
    evaluate.run()
    evaluate.finalize()
    network = evaluate.parser.get_parsed_content("network").eval()
    test = TissuePatchDataset("test", num_samples=args.num_test)
    patches = torch.stack([torch.as_tensor(item["image"]) for item in test]) / 127.5 - 1.0
    inputs = centre_crop(patches, (16, 16, 16))
    row = {
        "model": name,
        "seed": seed,
        "augment": augment,
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


def mean_sd(values: list[float], spec: str) -> str:
    mean = statistics.mean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:{spec}} ± {sd:{spec}}"


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
    lines = [
        "| model | seeds | params | " + " | ".join(c[0] for c in columns) + " |",
        "|---|---|---|" + "---|" * len(columns),
    ]
    for model in dict.fromkeys(r["model"] for r in rows):
        group = [r for r in rows if r["model"] == model]
        cells = [mean_sd([r[key] for r in group], spec) for _, key, spec in columns]
        lines.append(f"| {model} | {len(group)} | {group[0]['params']:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(r["model"] for r in rows))
    keys = ["accuracy_upright"] + [f"{p}_accuracy_mean" for p in PROTOCOLS] + ["grid48_accuracy_worst"]
    labels = ["upright"] + [f"{p} mean" for p in PROTOCOLS] + ["grid48 worst"]
    figure, axis = plt.subplots(figsize=(10, 4))
    width = 0.8 / len(models)
    for i, model in enumerate(models):
        group = [r for r in rows if r["model"] == model]
        means = [statistics.mean(r[k] for r in group) for k in keys]
        sds = [statistics.stdev([r[k] for r in group]) if len(group) > 1 else 0 for k in keys]
        axis.bar([j + i * width for j in range(len(keys))], means, width, yerr=sds, label=model, capsize=2)
    axis.set_xticks([j + 0.4 - width / 2 for j in range(len(keys))], labels)
    axis.set_ylabel("test accuracy")
    axis.set_ylim(0.25, 1.0)
    axis.legend(fontsize=7)
    axis.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--num-train", type=int, default=None, help="training patches (default: all)")
    parser.add_argument("--num-val", type=int, default=None, help="validation patches (default: all)")
    parser.add_argument("--num-test", type=int, default=None, help="test patches (default: all)")
    parser.add_argument("--with-paper", action="store_true", help="also the paper-style preset (slow on CPU)")
    parser.add_argument("--output", type=Path, default=REPO / "runs" / "robustness")
    parser.add_argument("--resume", action="store_true", help="keep the (model, seed) rows already in results.json")
    parser.add_argument("--models", nargs="+", default=None, help="only models whose name contains one of these")
    args = parser.parse_args()
    models = {**MODELS, **(PAPER_MODEL if args.with_paper else {})}
    if args.models:
        models = {name: spec for name, spec in models.items() if any(word in name for word in args.models)}
        if not models:
            parser.error(f"--models {args.models} matches none of: {', '.join(MODELS)}.")
    results = args.output / "results.json"
    rows = json.loads(results.read_text()) if args.resume and results.exists() else []
    args.output.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        for index, (name, (network_def, augment)) in enumerate(models.items()):
            if any(r["model"] == name and r["seed"] == seed for r in rows):
                continue
            folder = args.output / f"seed{seed}" / f"model{index}"
            rows.append(run_one(name, network_def, augment, seed, args, folder))
            print(json.dumps(rows[-1]), flush=True)
            results.write_text(json.dumps(rows, indent=2))
    plot(rows, args.output / "robustness.png")
    print(table(rows))


if __name__ == "__main__":
    main()

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Side-by-side cost of random SO(3) augmentation: the previous pipeline, the fused transform, the batched one.

Two tables, each the median of ``--repeats`` interleaved runs (every variant once per repeat, in turn, so that
drift on a shared machine hits all alike), with ratios:

(a) per-sample time of the augmentation step on stored tissue patches (``--patch`` ^3 -> ``--size`` ^3, a batch of
    ``--batch``), after ``ScaleIntensityRanged`` as in the bundle (so the inputs are MetaTensors):

    - ``crop only``: ``ResizeWithPadOrCropd`` (the pipeline without augmentation);
    - ``previous``: ``RandSO3Rotated`` + ``ResizeWithPadOrCropd`` (resamples the whole patch, then crops);
    - ``fused``: ``RandSO3RotateCropd`` (resamples only the crop; the bundles' default);
    - ``batched``: ``BatchRandSO3Rotate`` on the collated batch (one ``grid_sample`` call), divided by the batch.

(b) the tissue bundle's training epoch time (``bundles/sre_resnet3d_tissue/configs``: ``inference.json`` +
    ``train.json`` through MONAI's ``ConfigWorkflow``, bundle files untouched; overrides only), without
    augmentation, with the previous augmentation, with the fused transform (the bundle as shipped) and with the
    batched ``prepare_batch``, and the ratio of each to the run without augmentation. The trainer's handlers are
    overridden to none (no validation, checkpoints or logs: the epoch is data loading, preprocessing, forward,
    backward and optimiser steps); ``--num-train`` keeps the first samples of the training split.

Usage::

    python scripts/benchmark_augmentation.py                                  # both tables
    python scripts/benchmark_augmentation.py --epochs 1 --num-train 320 --repeats 5
    python scripts/benchmark_augmentation.py --skip-training --repeats 15     # table (a) only
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from pathlib import Path

import torch
from benchmarking import TRAIN_CONFIGS, interleaved_medians, machine_description
from monai.bundle import ConfigWorkflow
from monai.data import list_data_collate
from monai.transforms import Compose, ResizeWithPadOrCropd, ScaleIntensityRanged
from monai.utils import set_determinism

from monai_sre.data import TissuePatchDataset
from monai_sre.transforms import BatchRandSO3Rotate, RandSO3RotateCropd, RandSO3Rotated

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "bundles" / "sre_resnet3d_tissue"
PROB = "$1.0 if monai_sre.runs.as_flag(@augment_rotation, 'augment_rotation') else 0.0"

# train#preprocessing (and prepare_batch) per variant: overrides of the bundle's config, as a user would write them
VARIANTS = {
    "no augmentation": {
        "train#preprocessing": {"_target_": "Compose", "transforms": ["@scale_intensity", "@crop", "@to_tensor"]},
    },
    "previous (RandSO3Rotated + crop)": {
        "train#preprocessing": {
            "_target_": "Compose",
            "transforms": [
                "@scale_intensity",
                {
                    "_target_": "monai_sre.transforms.RandSO3Rotated",
                    "keys": "image",
                    "prob": PROB,
                    "mode": "bilinear",
                    "padding_mode": "zeros",
                },
                "@crop",
                "@to_tensor",
            ],
        },
    },
    "bundle default (fused RandSO3RotateCropd)": {},
    "batched (prepare_batch)": {
        "train#preprocessing": {"_target_": "Compose", "transforms": ["@scale_intensity", "@to_tensor"]},
        "train#trainer#prepare_batch": {
            "_target_": "monai_sre.engines.PrepareBatchRandSO3Rotate",
            "roi_size": "$[@input_size] * 3",
            "prob": PROB,
            "mode": "bilinear",
            "padding_mode": "zeros",
        },
    },
}


def transform_tasks(patch: int, size: int, batch: int) -> dict:
    """Table (a): one call per variant over ``batch`` scaled tissue patches."""
    items = [dict(item) for item in TissuePatchDataset("train", patch_size=patch, num_samples=batch)]
    items = [ScaleIntensityRanged("image", 0, 255, -1, 1)(item) for item in items]
    crop = ResizeWithPadOrCropd("image", [size] * 3)
    previous = Compose([RandSO3Rotated("image", mode="bilinear", padding_mode="zeros"), crop]).set_random_state(0)
    fused = RandSO3RotateCropd("image", size, mode="bilinear", padding_mode="zeros").set_random_state(0)
    batched = BatchRandSO3Rotate(size, mode="bilinear", padding_mode="zeros", seed=0)
    images = list_data_collate(items)["image"].as_tensor()  # the collated batch, as the trainer receives it
    return {
        "crop only (no augmentation)": lambda: [crop(item) for item in items],
        "previous (RandSO3Rotated + crop)": lambda: [previous(item) for item in items],
        "fused (RandSO3RotateCropd)": lambda: [fused(item) for item in items],
        "batched (BatchRandSO3Rotate)": lambda: batched(images),
    }


def bundle_trainer(overrides: dict, run_dir: Path, epochs: int, num_train: int | None, batch: int, device: str):
    """The tissue bundle's trainer, built by ConfigWorkflow from its training configs with ``overrides`` (files
    untouched)."""
    workflow = ConfigWorkflow(
        config_file=[str(BUNDLE / "configs" / f"{name}.json") for name in TRAIN_CONFIGS],
        meta_file=str(BUNDLE / "configs" / "metadata.json"),
        workflow_type="train",
        bundle_root=str(BUNDLE),
        run_dir=str(run_dir),
        overwrite=True,
        max_epochs=epochs,
        num_train_samples=num_train,
        batch_size=batch,
        device=f"$torch.device('{device}')",
        rotation_prob=1.0,  # every variant rotates every patch, whatever the bundle's default share
        **{"train#handlers": []},
        **overrides,
    )
    workflow.initialize()
    trainer = workflow.parser.get_parsed_content("train#trainer")
    trainer.logger.setLevel(logging.WARNING)  # no per-run log lines between the timings
    return trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="'cpu' or a CUDA device such as 'cuda'")
    parser.add_argument("--patch", type=int, default=30, help="stored patch side (the bundle's patch_size)")
    parser.add_argument("--size", type=int, default=16, help="network input side (the bundle's input_size)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=1, help="epochs per timed training run")
    parser.add_argument("--num-train", type=int, default=320, help="training samples (0: the whole split)")
    parser.add_argument("--skip-training", action="store_true", help="only table (a)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    set_determinism(0)
    print(f"# {machine_description()}")
    results: dict = {"machine": machine_description(), "args": {k: str(v) for k, v in vars(args).items()}}

    print(f"\n(a) augmentation per sample, {args.patch}^3 -> {args.size}^3, batch {args.batch} (median ms/sample)")
    medians = interleaved_medians(transform_tasks(args.patch, args.size, args.batch), args.repeats, args.warmup)
    reference = medians["previous (RandSO3Rotated + crop)"]
    results["per_sample_ms"] = {}
    for name, seconds in medians.items():
        per_sample = 1e3 * seconds / args.batch
        results["per_sample_ms"][name] = per_sample
        print(f"  {name:34s} {per_sample:8.3f} ms   x{seconds / reference:5.3f} of previous")

    if not args.skip_training:
        num_train = args.num_train or None
        print(f"\n(b) tissue bundle training, {args.epochs} epoch(s), {num_train or 'all'} samples, batch {args.batch}")
        with tempfile.TemporaryDirectory() as tmp:
            trainers = {
                name: bundle_trainer(overrides, Path(tmp) / str(index), args.epochs, num_train, args.batch, args.device)
                for index, (name, overrides) in enumerate(VARIANTS.items())
            }
            shapes: dict = {}  # the network's input shape per variant: every variant trains on --size^3 crops
            for name, trainer in trainers.items():
                trainer.network.register_forward_pre_hook(lambda _, x, name=name: shapes.update({name: x[0].shape}))
            tasks = {name: trainer.run for name, trainer in trainers.items()}
            medians = interleaved_medians(tasks, args.repeats, args.warmup, args.device)
        baseline = medians["no augmentation"]
        results["epoch_s"] = {}
        for name, seconds in medians.items():
            results["epoch_s"][name] = seconds / args.epochs
            print(f"  {name:34s} {seconds / args.epochs:8.3f} s/epoch   x{seconds / baseline:5.3f} of no augmentation"
                  f"   (network input {tuple(shapes[name])})")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

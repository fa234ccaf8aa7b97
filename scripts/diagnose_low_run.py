# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Which classes does a low run confuse, and does its training subsample tell them apart at the patch centre?

The diagnosis behind the 2 % collapse in ``docs/comparison.md``: for each checkpoint given with ``--run`` (a model
of ``scripts/benchmark_data_efficiency.py`` or ``scripts/ablate_group_stability.py``, by its full name, and the
``model.pt`` of one of its runs), the confusion matrix on the tissue bundle's validation split (the inputs its
validation saw: upright centre crops); then, for the class-balanced subsample that ``--subset-seed`` draws at
``--fraction`` (the comparison's own draw), the mean intensity of each training patch's central 2 x 2 x 2 voxels
per class, after the bundle's intensity scaling. Classes whose centre intensities do not overlap in the subsample
are separable by the voxel the label belongs to; a network that confuses them has fitted something else.

Usage::

    python scripts/diagnose_low_run.py --fraction 0.02 --subset-seed 5 \\
        --run "group light (O, regular), SO(3) augmentation, half upright" \\
              WORK/<model>/f0.02/seed5/train/models/model.pt \\
        --run "plain light, SO(3) augmentation" WORK2/<model>/f0.02/seed5/train/models/model.pt
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from ablate_group_stability import CONTROLS, VARIANTS
from benchmark_data_efficiency import BUNDLE, MODELS
from monai.bundle import ConfigParser

from monai_sre.comparison import TRAIN_CONFIGS, bundle_parser
from monai_sre.data.subsets import balanced_indices, dataset_labels
from monai_sre.networks.nets.symmetric_resnet import centre_mean
from monai_sre.networks.weights import load_weights

# every model of the two scripts, by the name its rows carry
KNOWN_MODELS = {
    model.name: model for model in [*MODELS, *(model for model, _ in [*VARIANTS.values(), *CONTROLS.values()])]
}


def confusion(network: torch.nn.Module, images: torch.Tensor, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Rows: the true class; columns: the predicted one (eval mode, batches of 64)."""
    network.eval()
    with torch.no_grad():
        predicted = torch.cat([network(batch).argmax(1) for batch in images.split(64)]).numpy()
    matrix = np.zeros((num_classes, num_classes), dtype=int)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def centre_intensities(parser: ConfigParser, fraction: float, subset_seed: int) -> dict[int, list[float]]:
    """Per class, the scaled mean of the central voxels (2^3 at an even size) of each training patch in the
    subsample: what the networks' centre column reads from the input (``symmetric_resnet.centre_mean``)."""
    from monai_sre.data import TissuePatchDataset

    patch_size = parser.get_parsed_content("patch_size")
    train = TissuePatchDataset(split="train", patch_size=patch_size, path=parser.get_parsed_content("dataset_dir"),
                               transform=parser.get_parsed_content("scale_intensity"))  # fmt: skip
    labels = dataset_labels(train)
    values: dict[int, list[float]] = {}
    for index in balanced_indices(labels, fraction, subset_seed):
        centre = centre_mean(torch.as_tensor(train[index]["image"])[None])  # (1, channels): the one channel
        values.setdefault(int(labels[index]), []).append(round(float(centre[0, 0]), 3))
    return dict(sorted(values.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", nargs=2, action="append", metavar=("MODEL", "CHECKPOINT"), required=True,
                        help="a model's full name and the model.pt of one of its runs (repeat for more)")  # fmt: skip
    parser.add_argument("--fraction", type=float, required=True, help="the training fraction of the runs")
    parser.add_argument("--subset-seed", type=int, required=True, help="the seed that drew their subsample")
    parser.add_argument("--output", type=Path, default=None, help="also write the numbers to this JSON file")
    args = parser.parse_args()
    for name, checkpoint in args.run:
        if name not in KNOWN_MODELS:
            parser.error(f"unknown model {name!r}; expected one of: {', '.join(sorted(KNOWN_MODELS))}.")
        if not Path(checkpoint).is_file():
            parser.error(f"checkpoint of {name!r} not found: '{checkpoint}'.")
    base = bundle_parser(BUNDLE, TRAIN_CONFIGS)
    classes = base.get_parsed_content("_meta_#training_domain#classes")
    validation = base.get_parsed_content("validate#dataset")
    images = torch.stack([torch.as_tensor(item["image"]) for item in validation]).float()
    labels = np.array([int(item["label"]) for item in validation])
    report = {"fraction": args.fraction, "subset_seed": args.subset_seed, "classes": classes, "runs": {}}
    for name, checkpoint in args.run:
        network_def = KNOWN_MODELS[name].overrides.get("network_def")
        overrides = {} if network_def is None else {"network_def": network_def}
        network = bundle_parser(BUNDLE, TRAIN_CONFIGS, **overrides).get_parsed_content("network_def")
        network.load_state_dict(load_weights(checkpoint))
        matrix = confusion(network, images, labels, len(classes))
        accuracy = float(np.trace(matrix) / matrix.sum())
        report["runs"][name] = {"checkpoint": str(checkpoint), "accuracy": accuracy, "confusion": matrix.tolist()}
        print(f"\n{name} ({checkpoint}): validation accuracy {accuracy:.3f}; rows true, columns predicted")
        print("| true \\ predicted | " + " | ".join(classes) + " |\n|---|" + "---|" * len(classes))
        for index, row in enumerate(matrix):
            print(f"| {classes[index]} | " + " | ".join(str(count) for count in row) + " |")
    centres = centre_intensities(base, args.fraction, args.subset_seed)
    report["centre_intensity"] = {classes[label]: values for label, values in centres.items()}
    print(f"\nCentre intensity of the training patches of subsample seed {args.subset_seed} at {args.fraction:g}:")
    for label, values in centres.items():
        print(f"- {classes[label]}: {min(values):.2f} to {max(values):.2f} ({', '.join(f'{v:.2f}' for v in values)})")
    if args.output is not None:
        args.output.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()

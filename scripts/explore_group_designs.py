# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Quick design exploration of group-equivariant networks on the embedded tissue task (one run per call).

The tissue bundle's recipe without the ignite machinery, so that several designs fit one sitting on 2 CPU cores:
AdamW (lr 3e-3, weight decay 1e-4) with cosine decay over 20 epochs, batch 32, the checkpoint of best validation
accuracy; intensity to [-1, 1], optional ``RandSO3Rotated`` on the stored 30^3 patch, 16^3 centre crop. The test
split is evaluated upright and under ``haar-64`` and ``grid48`` with the library's
``evaluate_rotation_robustness``. Final, multi-seed rows come from ``scripts/benchmark_robustness.py``, which
trains through the bundle's own configs.

A design is ``GROUP:SPACE:W1,W2,W3,W4`` (a :class:`~monai_sre.networks.nets.GroupResNet` with ``[1, 1, 1, 1]``
basic blocks and those channels per orientation), ``plain`` (the tissue bundle's plain light baseline) or ``sre``
(``sre_resnet_light``).

Usage::

    python scripts/explore_group_designs.py O:regular:1,2,4,8 --augment --seed 0 --output results/group_designs_cpu
    python scripts/explore_group_designs.py Oh:axes:8,16,32,64 --num-train 120 --output results/group_designs_cpu
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import torch
from monai.data import DataLoader
from monai.networks.nets import ResNet
from monai.transforms import CenterSpatialCropd, Compose, EnsureTyped, ScaleIntensityRanged
from monai.utils import set_determinism

from monai_sre import GroupResNet, create_model
from monai_sre.data import TissuePatchDataset
from monai_sre.evaluation import evaluate_rotation_robustness
from monai_sre.transforms import RandSO3Rotated


def build(design: str, classes: int = 4) -> torch.nn.Module:
    if design == "plain":
        return ResNet("basic", [1, 1, 1, 1], [16, 32, 64, 128], spatial_dims=3, n_input_channels=1,
                      num_classes=classes, conv1_t_size=3, conv1_t_stride=1)  # fmt: skip
    if design == "sre":
        return create_model("sre_resnet_light", n_input_channels=1, num_classes=classes)
    try:
        group, space, widths = design.split(":")
        planes = [int(w) for w in widths.split(",")]
    except ValueError as error:
        raise ValueError(f"design must be 'plain', 'sre' or GROUP:SPACE:W1,W2,W3,W4, got '{design}'.") from error
    return GroupResNet([1] * len(planes), planes, group=group, space=space, num_classes=classes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("design")
    parser.add_argument("--augment", action="store_true", help="uniform SO(3) rotations before the crop")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-train", type=int, default=None, help="training patches (default: all 1200)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", type=Path, required=True, help="folder for <design>_<aug>_<n>_s<seed>.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    set_determinism(args.seed)
    net = build(args.design)

    scale = ScaleIntensityRanged("image", a_min=0, a_max=255, b_min=-1, b_max=1)
    crop, typed = CenterSpatialCropd("image", [16] * 3), EnsureTyped("image", track_meta=False)
    rotate = [RandSO3Rotated("image", prob=1.0, mode="bilinear")] if args.augment else []
    train_data = TissuePatchDataset("train", 30, Compose([scale, *rotate, crop, typed]), num_samples=args.num_train)
    train = DataLoader(train_data, batch_size=32, shuffle=True)
    val = DataLoader(TissuePatchDataset("val", 30, Compose([scale, crop, typed])), batch_size=64)
    test = DataLoader(TissuePatchDataset("test", 30, Compose([scale, typed])), batch_size=64)

    optimizer = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, args.epochs)
    best, best_epoch, best_state, start = -1.0, -1, None, time.perf_counter()
    for epoch in range(args.epochs):
        net.train()
        for batch in train:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(batch["image"]), batch["label"].long().flatten())
            loss.backward()
            optimizer.step()
        schedule.step()
        net.eval()
        with torch.no_grad():
            hits = sum((net(b["image"]).argmax(1) == b["label"].flatten()).sum().item() for b in val)
        accuracy = hits / len(val.dataset)
        if accuracy > best:
            best, best_epoch, best_state = accuracy, epoch, copy.deepcopy(net.state_dict())
        print(f"epoch {epoch} val {accuracy:.4f} ({time.perf_counter() - start:.0f} s)", flush=True)
    train_s = time.perf_counter() - start
    net.load_state_dict(best_state)
    result = dict(design=args.design, augment=args.augment, seed=args.seed, num_train=len(train.dataset),
                  params=sum(p.numel() for p in net.parameters()), best_val=best, best_epoch=best_epoch,
                  train_s=round(train_s, 1))  # fmt: skip
    for protocol in ("haar-64", "grid48"):
        report = evaluate_rotation_robustness(net, test, protocol, metrics=("accuracy",), progress=False,
                                              crop_size=16, seed=args.seed)  # fmt: skip
        result[protocol] = report.summary()
        print(protocol, result[protocol], flush=True)
    args.output.mkdir(parents=True, exist_ok=True)
    name = f"{args.design.replace(':', '_').replace(',', '-')}_{'aug' if args.augment else 'noaug'}"
    path = args.output / f"{name}_n{len(train.dataset)}_s{args.seed}.json"
    path.write_text(json.dumps(result, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

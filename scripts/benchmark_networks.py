# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Side-by-side cost of whole networks: a plain MONAI baseline against the equivariant presets.

Two sets (``--set``): ``resnet18`` (MONAI's 3D resnet18 against the SRE presets, the default) and ``light``
(the default bundle's scale: plain light, the MONAI ResNet with SRE light's widths as in the tissue bundle's
``configs/plain_resnet.json``, against SRE light, the group-equivariant networks and plain light averaged over
the 48 grid symmetries).

For each network: parameters, eval forward time, train-step time (forward, cross-entropy, backward, SGD
step), each the median of ``--repeats`` interleaved runs, and the peak-resident-set growth of one train step
and one eval forward in a fresh process (on a CUDA ``--device``: the growth of the caching allocator's peak, in
process, with cuDNN autotuning on). Ratios are to the first network of the set.

Usage::

    python scripts/benchmark_networks.py                   # input (4, 1, 32, 32, 32), 11 classes
    python scripts/benchmark_networks.py --skip-paper      # without the (slow) paper-style preset
    python scripts/benchmark_networks.py --device cuda --batch 16 --size 64 --repeats 15
    python scripts/benchmark_networks.py --set light --batch 32 --size 16 --classes 4 --repeats 15
"""

from __future__ import annotations

import argparse
import json

import torch
from benchmarking import (
    add_common_arguments,
    cuda_peak_growth_mib,
    device_description,
    interleaved_medians,
    peak_memory_in_child,
    report_peak_growth,
)
from monai.networks.nets import ResNet, resnet18
from torch import nn

from monai_sre import create_model
from monai_sre.networks.nets.grid_average import GridAveraged


def plain_light(classes: int) -> nn.Module:
    """The tissue bundle's plain baseline (configs/plain_resnet.json): MONAI ResNet, SRE light's widths."""
    return ResNet("basic", [1, 1, 1, 1], [16, 32, 64, 128], spatial_dims=3, n_input_channels=1,
                  num_classes=classes, conv1_t_size=3, conv1_t_stride=1)  # fmt: skip


NETWORK_SETS = {
    "resnet18": {
        "MONAI resnet18": lambda classes: resnet18(spatial_dims=3, n_input_channels=1, num_classes=classes),
        "sre_resnet18 (k=3)": lambda classes: create_model("sre_resnet18", num_classes=classes),
        "group_resnet18 (O, regular)": lambda classes: create_model("group_resnet18", num_classes=classes),
        "sre_resnet_light": lambda classes: create_model("sre_resnet_light", num_classes=classes),
        "sre_resnet18_paper (k=5)": lambda classes: create_model("sre_resnet18_paper", num_classes=classes),
        "sre_resnet18_paper (k=5), use_checkpoint": lambda classes: create_model(
            "sre_resnet18_paper", num_classes=classes, use_checkpoint=True
        ),
    },
    "light": {
        "plain light": plain_light,
        "sre_resnet_light": lambda classes: create_model("sre_resnet_light", num_classes=classes),
        "group_resnet_light (O, regular, 1-8)": lambda classes: create_model("group_resnet_light", num_classes=classes),
        "group_resnet_light (Oh, regular, 1-8)": lambda classes: create_model(
            "group_resnet_light", num_classes=classes, group="Oh"
        ),
        "group_resnet_light (Oh, axes, 8-64)": lambda classes: create_model(
            "group_resnet_light", num_classes=classes, group="Oh", space="axes", block_inplanes=[8, 16, 32, 64]
        ),
        "plain light, grid-averaged (48 passes)": lambda classes: GridAveraged(plain_light(classes)),
    },
}
NETWORKS = {name: build for networks in NETWORK_SETS.values() for name, build in networks.items()}


def make_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, phase: str):
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def train_step() -> None:
        model.train()
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        optimizer.step()

    def eval_forward() -> None:
        model.eval()
        with torch.no_grad():
            model(x)

    return train_step if phase == "train step" else eval_forward


def inputs(batch: int, size: int, classes: int, device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 1, size, size, size, generator=generator)
    return x.to(device), torch.randint(0, classes, (batch,), generator=generator).to(device)


def child(name: str, batch: int, size: int, classes: int, phase: str) -> None:
    torch.set_num_threads(2)
    torch.manual_seed(0)
    model = NETWORKS[name](classes)
    report_peak_growth(make_step(model, *inputs(batch, size, classes), phase))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--classes", type=int, default=11)
    parser.add_argument("--skip-paper", action="store_true", help="leave out the paper-style preset")
    parser.add_argument("--set", choices=sorted(NETWORK_SETS), default="resnet18", help="which networks (see above)")
    add_common_arguments(parser, repeats=5, warmup=1)
    args = parser.parse_args()
    if args.child:
        child(*json.loads(args.child))
        return

    torch.set_num_threads(args.threads)
    on_cuda = torch.device(args.device).type == "cuda"
    torch.backends.cudnn.benchmark = on_cuda
    names = [n for n in NETWORK_SETS[args.set] if not (args.skip_paper and "paper" in n)]
    x, y = inputs(args.batch, args.size, args.classes, args.device)
    torch.manual_seed(0)
    models = {name: NETWORKS[name](args.classes).to(args.device) for name in names}
    tasks = {f"{n}|{p}": make_step(models[n], x, y, p) for n in names for p in ("train step", "eval fwd")}
    medians = interleaved_medians(tasks, args.repeats, args.warmup, args.device)

    print(f"# {device_description(args.device)}")
    print(f"# input {tuple(x.shape)}, {args.classes} classes, median of {args.repeats}\n")
    header = "| network | params | params ratio | train step ms | train ratio | eval fwd ms | eval ratio |"
    if not args.no_memory:
        header += " train-step peak MiB | eval peak MiB |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    base = names[0]
    base_params = sum(p.numel() for p in models[base].parameters())
    rows = []
    for name in names:
        params = sum(p.numel() for p in models[name].parameters())
        row = {
            "network": name,
            "params": params,
            "params_ratio": params / base_params,
            "train_ms": medians[f"{name}|train step"] * 1e3,
            "train_ratio": medians[f"{name}|train step"] / medians[f"{base}|train step"],
            "eval_ms": medians[f"{name}|eval fwd"] * 1e3,
            "eval_ratio": medians[f"{name}|eval fwd"] / medians[f"{base}|eval fwd"],
        }
        line = (
            f"| {name} | {params:,} | {row['params_ratio']:.3f} | {row['train_ms']:.1f} | {row['train_ratio']:.2f} | "
            f"{row['eval_ms']:.1f} | {row['eval_ratio']:.2f} |"
        )
        if not args.no_memory and on_cuda:
            row["train_peak_mib"] = cuda_peak_growth_mib(tasks[f"{name}|train step"], args.device)
            row["eval_peak_mib"] = cuda_peak_growth_mib(tasks[f"{name}|eval fwd"], args.device)
        elif not args.no_memory:
            common = [name, args.batch, args.size, args.classes]
            row["train_peak_mib"] = peak_memory_in_child(__file__, [*common, "train step"])
            row["eval_peak_mib"] = peak_memory_in_child(__file__, [*common, "eval fwd"])
        if not args.no_memory:
            line += f" {row['train_peak_mib']:.0f} | {row['eval_peak_mib']:.0f} |"
        print(line, flush=True)
        rows.append(row)
    if args.json:
        summary = {"machine": device_description(args.device), "input": list(x.shape), "rows": rows}
        args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Side-by-side speed and memory of one 3D convolution layer: nn.Conv3d, SREConv, the authors' SRE_Conv3d.

Phases, each timed as the median of ``--repeats`` runs (variants interleaved within every repeat, so drift
hits all alike) after ``--warmup`` runs:

- ``fwd``: train-mode forward with autograd recording;
- ``fwd+bwd``: train-mode forward, ``sum()`` and backward, including the input gradient (as for a layer inside
  a network);
- ``eval fwd``: eval-mode forward under ``torch.no_grad()``.

Peak memory is the growth of the peak resident set of a fresh process over one train step (forward and
backward) and over one eval forward, after the layer and the input exist (CPU torch keeps no allocator
statistics); on a CUDA ``--device`` it is the growth of the caching allocator's peak, in process, and cuDNN
autotuning is on (it serves ``nn.Conv3d`` and the dense path alike). Ratios are to ``nn.Conv3d`` at the same
kernel size.

SREConv is timed on both of its paths: ``dense`` (the expanded k^3 kernel, one convolution) and ``bands``
(shift-and-add band pooling with a self-adjoint backward, then 1x1x1 mixing; ``path="auto"`` picks it on CPU
from k=5 on because of this benchmark). Both are checked equal to float64 round-off first. ``--depthwise`` adds
the band path explored first and dropped (band pooling as a fixed depthwise convolution). The authors' layer is
included when the ``SRE-Conv`` wheel is installed (its ``sre_conv.py`` is loaded alone by
``scripts/authors_sre_conv.py``, since the package ``__init__`` imports torchvision).

Usage::

    python scripts/benchmark_layers.py                      # input (4, 32, 32, 32, 32), k = 3, 5, 7
    python scripts/benchmark_layers.py --kernel-sizes 3 --repeats 5 --depthwise
    python scripts/benchmark_layers.py --device cuda --batch 8 --size 64 --repeats 25
"""

from __future__ import annotations

import argparse
import json

import torch
import torch.nn.functional as F
from authors_sre_conv import authors_sre_conv_module
from benchmarking import (
    add_common_arguments,
    cuda_peak_growth_mib,
    device_description,
    interleaved_medians,
    peak_memory_in_child,
    report_peak_growth,
)
from torch import nn

from monai_sre import SREConv


def load_authors_conv3d() -> type | None:
    """The authors' ``SRE_Conv3d`` from an installed ``SRE-Conv`` wheel, or ``None``."""
    module = authors_sre_conv_module()
    return None if module is None else module.SRE_Conv3d


class DepthwiseBandConv3d(nn.Module):
    """Explored and dropped: band pooling as a fixed depthwise convolution, then 1x1x1 channel mixing."""

    def __init__(self, layer: SREConv) -> None:
        super().__init__()
        self.layer = layer
        k = layer.kernel_size
        basis = layer.band_basis.reshape(layer.num_bands, 1, *k)
        self.register_buffer("pool_kernel", basis.repeat(layer.in_channels, 1, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        layer = self.layer
        bands = F.conv3d(x, self.pool_kernel, padding=layer.padding, groups=layer.in_channels)
        mix = layer.weight.reshape(layer.out_channels, layer.in_channels * layer.num_bands, 1, 1, 1)
        return F.conv3d(bands, mix, layer.bias)


def build(variant: str, channels: int, k: int) -> nn.Module:
    torch.manual_seed(0)
    if variant == "nn.Conv3d":
        return nn.Conv3d(channels, channels, k, padding=k // 2)
    if variant == "SREConv dense":
        return SREConv(3, channels, channels, k, path="dense")
    if variant == "SREConv bands":
        return SREConv(3, channels, channels, k, path="bands")
    if variant == "depthwise bands":
        return DepthwiseBandConv3d(SREConv(3, channels, channels, k))
    if variant == "authors SRE_Conv3d":
        return load_authors_conv3d()(channels, channels, k, padding=k // 2)
    raise ValueError(f"unknown variant {variant!r}.")


def run_phase(module: nn.Module, x: torch.Tensor, phase: str) -> None:
    if phase == "eval fwd":
        with torch.no_grad():
            module(x)
    elif phase == "fwd":
        module(x)
    else:
        module(x).sum().backward()


PHASES = ("fwd", "fwd+bwd", "eval fwd")


def make_input(shape: tuple[int, ...], device: str = "cpu") -> torch.Tensor:
    """The input of a layer inside a network: backward computes the input gradient too."""
    return torch.randn(shape, device=device, requires_grad=True)


def time_variants(variants: list[str], shape: tuple[int, ...], k: int, repeats: int, warmup: int, device: str) -> dict:
    x = make_input(shape, device)
    modules = {v: build(v, shape[1], k).to(device) for v in variants}

    def task(module: nn.Module, phase: str):
        def run() -> None:
            module.train(phase != "eval fwd")
            run_phase(module, x, phase)
            module.zero_grad(set_to_none=True)

        return run

    tasks = {(v, p): task(modules[v], p) for v in variants for p in PHASES}
    named = interleaved_medians({f"{v}|{p}": t for (v, p), t in tasks.items()}, repeats, warmup, device)
    return {tuple(name.split("|")): seconds for name, seconds in named.items()}


def peak_memory(variant: str, shape: tuple[int, ...], k: int, phase: str, device: str) -> float:
    if torch.device(device).type != "cuda":
        return peak_memory_in_child(__file__, [variant, list(shape), k, phase])
    module = build(variant, shape[1], k).to(device).train(phase != "eval fwd")
    x = make_input(shape, device)
    return cuda_peak_growth_mib(lambda: run_phase(module, x, phase), device)


def peak_memory_child(variant: str, shape: tuple[int, ...], k: int, phase: str) -> None:
    torch.set_num_threads(2)
    module = build(variant, shape[1], k).train(phase != "eval fwd")
    x = make_input(shape)
    report_peak_growth(lambda: run_phase(module, x, phase))


def check_band_paths(k: int, device: str) -> tuple[float, float]:
    """Largest difference to the dense path (float64) of the shift-and-add and the depthwise band paths."""
    dense = SREConv(3, 4, 6, k, path="dense").double().to(device)
    bands = SREConv(3, 4, 6, k, path="bands").double().to(device)
    bands.load_state_dict(dense.state_dict())
    x = torch.randn(2, 4, 9, 9, 9, dtype=torch.float64, device=device)
    with torch.no_grad():
        reference = dense(x)
        return float((bands(x) - reference).abs().max()), float((DepthwiseBandConv3d(dense)(x) - reference).abs().max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--kernel-sizes", type=int, nargs="+", default=[3, 5, 7])
    parser.add_argument("--depthwise", action="store_true", help="also time the dropped depthwise band path")
    add_common_arguments(parser, repeats=7, warmup=2)
    args = parser.parse_args()
    if args.child:
        variant, shape, k, phase = json.loads(args.child)
        peak_memory_child(variant, tuple(shape), k, phase)
        return

    torch.set_num_threads(args.threads)
    torch.backends.cudnn.benchmark = torch.device(args.device).type == "cuda"
    shape = (args.batch, args.channels, args.size, args.size, args.size)
    variants = ["nn.Conv3d", "SREConv dense", "SREConv bands"]
    if args.depthwise:
        variants.append("depthwise bands")
    if load_authors_conv3d() is not None:
        variants.append("authors SRE_Conv3d")
    print(f"# {device_description(args.device)}")
    print(f"# input {shape}, {args.channels} -> {args.channels} channels, median of {args.repeats} (ms)\n")
    for k in args.kernel_sizes:
        shift_add, depthwise = check_band_paths(k, args.device)
        print(f"# k={k}, float64, max |difference| to the dense path: bands {shift_add:.1e}, depthwise {depthwise:.1e}")
    print()

    header = "| k | layer | params | fwd ms | fwd+bwd ms | eval fwd ms | fwd+bwd ratio | eval fwd ratio |"
    if not args.no_memory:
        header += " train-step peak MiB | eval peak MiB |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    results = []
    for k in args.kernel_sizes:
        measured = time_variants(variants, shape, k, args.repeats, args.warmup, args.device)
        base_train = measured[("nn.Conv3d", "fwd+bwd")]
        base_eval = measured[("nn.Conv3d", "eval fwd")]
        for variant in variants:
            row = {
                "k": k,
                "layer": variant,
                "params": sum(p.numel() for p in build(variant, args.channels, k).parameters()),
                "fwd_ms": measured[(variant, "fwd")] * 1e3,
                "fwd_bwd_ms": measured[(variant, "fwd+bwd")] * 1e3,
                "eval_fwd_ms": measured[(variant, "eval fwd")] * 1e3,
            }
            row["fwd_bwd_ratio"] = row["fwd_bwd_ms"] / (base_train * 1e3)
            row["eval_fwd_ratio"] = row["eval_fwd_ms"] / (base_eval * 1e3)
            line = (
                f"| {k} | {variant} | {row['params']:,} | {row['fwd_ms']:.1f} | {row['fwd_bwd_ms']:.1f} | "
                f"{row['eval_fwd_ms']:.1f} | {row['fwd_bwd_ratio']:.2f} | {row['eval_fwd_ratio']:.2f} |"
            )
            if not args.no_memory:
                row["train_peak_mib"] = peak_memory(variant, shape, k, "fwd+bwd", args.device)
                row["eval_peak_mib"] = peak_memory(variant, shape, k, "eval fwd", args.device)
                line += f" {row['train_peak_mib']:.0f} | {row['eval_peak_mib']:.0f} |"
            print(line, flush=True)
            results.append(row)
    if args.json:
        machine = device_description(args.device)
        summary = {"machine": machine, "shape": shape, "threads": args.threads, "rows": results}
        args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Convert MONAI networks to SRE networks and measure their symmetry error under the 48 grid symmetries.

For each network (small 3D widths), in eval mode: parameters before and after, and the largest relative error
over the 48 axis permutations and flips of the output, ``||f(g x) - g f(x)|| / ||g f(x)||`` for segmentation
nets (equivariance) and ``||f(g x) - f(x)|| / ||f(x)||`` for classifiers (invariance), at an even and an odd
input size, for the original and the converted network.

Usage::

    python scripts/converter_report.py
"""

from __future__ import annotations

import torch
from monai.networks import nets

from monai_sre import convert_to_sre
from monai_sre.evaluation import equivariance_error, invariance_error

NETWORKS = {
    "ResNet (basic, 4 stages)": (
        lambda: nets.ResNet("basic", [1, 1, 1, 1], [8, 16, 32, 64], n_input_channels=1, num_classes=3),
        (32, 33),
        False,
    ),
    "DenseNet121 (3 blocks)": (
        lambda: nets.DenseNet121(
            spatial_dims=3, in_channels=1, out_channels=3, init_features=8, growth_rate=4, block_config=(2, 2, 2)
        ),
        (32, 33),
        False,
    ),
    "SEResNet50": (
        lambda: nets.SEResNet50(spatial_dims=3, in_channels=1, num_classes=3, layers=(1, 1, 1, 1)),
        (32, 33),
        False,
    ),
    "SegResNet": (
        lambda: nets.SegResNet(
            spatial_dims=3, in_channels=1, out_channels=2, init_filters=8, blocks_down=(1, 1, 1), blocks_up=(1, 1)
        ),
        (32, 48),
        True,
    ),
    "BasicUNet": (
        lambda: nets.BasicUNet(spatial_dims=3, in_channels=1, out_channels=2, features=(4, 4, 8, 8, 16, 4)),
        (32, 48),
        True,
    ),
    "UNet (2 strides, residual units)": (
        lambda: nets.UNet(
            spatial_dims=3, in_channels=1, out_channels=2, channels=(4, 8, 16), strides=(2, 2), num_res_units=1
        ),
        (32, 48),
        True,
    ),
}


def main() -> None:
    torch.manual_seed(0)
    print("| network | kind | params before | params after | sizes | max error original | max error SRE |")
    print("|---|---|---|---|---|---|---|")
    for name, (build, sizes, segmentation) in NETWORKS.items():
        original = build().eval()
        converted, report = convert_to_sre(original)
        converted.eval()
        measure = equivariance_error if segmentation else invariance_error
        before, after = [], []
        for size in sizes:
            x = torch.randn(1, 1, size, size, size)
            before.append(measure(original, x))
            after.append(measure(converted, x))
        kind = "equivariant (segmentation)" if segmentation else "invariant (classification)"
        print(
            f"| {name} | {kind} | {report.params_before:,} | {report.params_after:,} | {sizes[0]}, {sizes[1]} | "
            f"{max(before):.2g} | {max(after):.1e} |",
            flush=True,
        )


if __name__ == "__main__":
    main()

# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Timing and memory helpers shared by the benchmark scripts (not part of the package).

- :func:`interleaved_medians` runs every task once per repeat, in turn, so that machine drift hits all tasks
  alike, and returns the median seconds of each after the warm-up repeats;
- :func:`peak_memory_in_child` reruns the calling script with ``--child ARGS`` in a fresh process and reads
  back the growth of its peak resident set (VmHWM) over one measured phase, printed by
  :func:`report_peak_growth`. CPU torch keeps no allocator statistics; a fixed glibc mmap threshold makes large
  buffers map and unmap with the tensors, so the high-water mark follows the tensors alive at once;
- on a CUDA device, :func:`cuda_peak_growth_mib` reads the caching allocator's peak instead (in process), and
  :func:`interleaved_medians` synchronises the device after every task so that the wall time covers its kernels;
- the scripts that train and evaluate through a bundle use the library's :mod:`monai_sre.comparison.bundle_runs`
  (``bundle_workflow``, ``train_then_evaluate``, ``TRAIN_CONFIGS``: ``inference.json``, the base every bundle
  command starts from, then ``train.json``), re-exported here.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from monai_sre.comparison.bundle_runs import TRAIN_CONFIGS, bundle_workflow, train_then_evaluate
from monai_sre.comparison.report import mean_sd

__all__ = [
    "TRAIN_CONFIGS",
    "add_common_arguments",
    "bundle_workflow",
    "train_then_evaluate",
    "cuda_peak_growth_mib",
    "device_description",
    "interleaved_medians",
    "machine_description",
    "peak_memory_in_child",
    "per_seed_table",
    "report_peak_growth",
    "resident_high_water_kib",
]


def add_common_arguments(parser: argparse.ArgumentParser, repeats: int, warmup: int) -> None:
    """The options every benchmark script shares: timing, threads, device, memory, JSON output, child runs."""
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--warmup", type=int, default=warmup)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="'cpu' or a CUDA device such as 'cuda'")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", help=argparse.SUPPRESS)


def check_device_and_models(
    parser: argparse.ArgumentParser, device: str | None, models: dict, patterns: list[str] | None
) -> dict:
    """Stop with a parser error on a device torch does not know; the models whose name contains one of
    ``patterns`` (all of them for ``None``), or a parser error when none does."""
    import torch

    if device is not None:
        try:
            torch.device(device)
        except RuntimeError as error:
            parser.error(f"--device {device!r} is not a torch device: {error}")
    if not patterns:
        return models
    chosen = {name: spec for name, spec in models.items() if any(word in name for word in patterns)}
    if not chosen:
        parser.error(f"--models {patterns} matches none of: {', '.join(models)}.")
    return chosen


def run_rows(parser: argparse.ArgumentParser, args, models: dict, all_names: list[str], run_one: Callable) -> list:
    """The rows of ``args.output/results.json``: read back with ``--resume`` / ``--report-only``, then one
    ``run_one(name, spec, augment, seed, args, folder)`` per missing (model, seed), saved after each.

    ``models`` maps names to ``(spec, augment)``; a run's folder is ``work_dir/seed{S}/model{i}`` with ``i`` the
    index of its name in ``all_names``, so that runs split by ``--models`` never share a folder.
    """
    results = args.output / "results.json"
    if args.report_only and not results.exists():
        parser.error(f"--report-only needs {results}, which does not exist.")
    rows = json.loads(results.read_text()) if (args.resume or args.report_only) and results.exists() else []
    args.output.mkdir(parents=True, exist_ok=True)
    work_dir = args.work_dir or args.output
    for seed in [] if args.report_only else args.seeds:
        for name, (spec, augment) in models.items():
            if any(r["model"] == name and r["seed"] == seed for r in rows):
                continue
            folder = work_dir / f"seed{seed}" / f"model{all_names.index(name)}"
            rows.append(run_one(name, spec, augment, seed, args, folder))
            print(json.dumps(rows[-1]), flush=True)
            results.write_text(json.dumps(rows, indent=2))
    return rows


def rows_table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """A markdown table, one line per model (in order of first appearance): seeds, parameters, then every
    ``(header, key, format)`` column as mean ± sd over the model's rows."""
    lines = [
        "| model | seeds | params | " + " | ".join(c[0] for c in columns) + " |",
        "|---|---|---|" + "---|" * len(columns),
    ]
    for model in dict.fromkeys(r["model"] for r in rows):
        group = [r for r in rows if r["model"] == model]
        cells = [mean_sd([r[key] for r in group], spec) for _, key, spec in columns]
        lines.append(f"| {model} | {len(group)} | {group[0]['params']:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_seed_table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """A markdown table, one line per row (model, then seed, in order of first appearance): every
    ``(header, key, format)`` column as the row's own value; the per-seed companion of :func:`rows_table`."""
    lines = ["| model | seed | " + " | ".join(c[0] for c in columns) + " |", "|---|---|" + "---|" * len(columns)]
    for model in dict.fromkeys(r["model"] for r in rows):
        for row in sorted((r for r in rows if r["model"] == model), key=lambda r: r["seed"]):
            cells = [f"{row[key]:{spec}}" for _, key, spec in columns]
            lines.append(f"| {model} | {row['seed']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_table_report(rows: list[dict], table: str, output: Path) -> None:
    """Print the rows' devices and ``table`` (markdown) and write both to ``output / "table.md"``."""
    devices = ", ".join(sorted({row.get("device", "unknown") for row in rows}))
    report = f"Device: {devices}.\n\n{table}\n"
    (output / "table.md").write_text(report)
    print(report)


def interleaved_medians(
    tasks: dict[str, Callable[[], object]], repeats: int, warmup: int, device: str = "cpu"
) -> dict[str, float]:
    """Median wall time (s) of each task over ``repeats`` interleaved runs after ``warmup`` runs.

    On a CUDA ``device`` the device is synchronised before the clock starts and after each task.
    """
    if repeats < 5:
        raise ValueError(f"repeats must be at least 5 for a meaningful median, got {repeats}.")
    import torch

    on_cuda = torch.device(device).type == "cuda"
    times: dict[str, list[float]] = {name: [] for name in tasks}
    for index in range(warmup + repeats):
        for name, task in tasks.items():
            if on_cuda:
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            task()
            if on_cuda:
                torch.cuda.synchronize(device)
            elapsed = time.perf_counter() - start
            if index >= warmup:
                times[name].append(elapsed)
    return {name: statistics.median(values) for name, values in times.items()}


def machine_description() -> str:
    """CPU model, cores, torch version and threads, for the header of a results table."""
    import platform

    import torch

    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads"


def device_description(device: str) -> str:
    """:func:`machine_description`, plus the GPU name, CUDA version and cuDNN autotuning on a CUDA device."""
    import torch

    if torch.device(device).type != "cuda":
        return machine_description()
    name = torch.cuda.get_device_name(device)
    return (
        f"{name}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()} "
        f"(benchmark={torch.backends.cudnn.benchmark}); host: {machine_description()}"
    )


def cuda_peak_growth_mib(phase: Callable[[], object], device: str) -> float:
    """Growth of the CUDA caching allocator's peak allocation (MiB) over one run of ``phase``."""
    import torch

    torch.cuda.synchronize(device)
    before = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    phase()
    torch.cuda.synchronize(device)
    return (torch.cuda.max_memory_allocated(device) - before) / 2**20


def resident_high_water_kib() -> int:
    """Peak resident set of this process (VmHWM; unlike ru_maxrss it is not inherited from the parent at exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("/proc/self/status has no VmHWM line: peak memory needs Linux; use --no-memory.")


def report_peak_growth(phase: Callable[[], object]) -> None:
    """In the child: run ``phase`` once and print the growth of the peak resident set in MiB as JSON."""
    before = resident_high_water_kib()
    phase()
    print(json.dumps({"peak_mib": (resident_high_water_kib() - before) / 1024}))


def peak_memory_in_child(script: str, child_args: list) -> float:
    """Run ``script --child <json child_args>`` in a fresh process; return the MiB it reports."""
    command = [sys.executable, script, "--child", json.dumps(child_args)]
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(output.strip().splitlines()[-1])["peak_mib"]

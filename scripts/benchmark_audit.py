# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Side-by-side wall time of a bundle's own rotation evaluation and ``python -m monai_sre audit`` of it.

Both commands run the same rotated passes (the bundle's ``evaluate.json`` with ``--rotation_protocols`` and the
audit with ``--protocol``, same test patches, same seed) as separate processes, start-up included, interleaved
within every repeat so that drift hits both alike; the report gives each one's median and the ratio (the target:
the audit takes at most 2x the evaluation). Each process runs with ``OMP_NUM_THREADS`` threads.

Usage::

    python scripts/benchmark_audit.py                                 # tissue bundle, haar-64, 128 patches
    python scripts/benchmark_audit.py --num-test-samples 520 --repeats 5 --output results/audit_timing_cpu
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarking import interleaved_medians, machine_description

ROOT = Path(__file__).resolve().parents[1]


def commands(bundle: Path, protocol: str, samples: int, out: Path) -> dict[str, list[str]]:
    """The two command lines: the bundle's evaluation and the audit, on the same patches and protocol, writing
    under ``out`` (a new folder for every run: neither command overwrites its outputs)."""
    configs = [str(bundle / "configs" / name) for name in ("inference.json", "train.json", "evaluate.json")]
    evaluate = [
        sys.executable, "-m", "monai_sre", "run", "--config_file", str(configs), "--bundle_root", str(bundle),
        "--num_test_samples", str(samples), "--rotation_protocols", f"['{protocol}']", "--eval_dir", str(out / "eval"),
    ]  # fmt: skip
    audit = [
        sys.executable, "-m", "monai_sre", "audit", str(bundle), "--protocol", protocol,
        "--num_test_samples", str(samples), "--output", str(out / "audit"),
    ]  # fmt: skip
    return {"bundle evaluation": evaluate, "audit": audit}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, default=ROOT / "bundles" / "sre_resnet3d_tissue")
    parser.add_argument("--protocol", default="haar-64")
    parser.add_argument("--num-test-samples", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS of each command")
    parser.add_argument("--output", type=Path, default=None, help="folder for results.json (optional)")
    args = parser.parse_args()

    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONPATH": str(ROOT)}
    runs = itertools.count()  # a new output folder for every run

    def task(name: str, work: Path):
        def run() -> None:
            line = commands(args.bundle.resolve(), args.protocol, args.num_test_samples, work / str(next(runs)))[name]
            done = subprocess.run(line, env=env, capture_output=True, text=True, cwd=ROOT)
            if done.returncode:
                raise RuntimeError(f"{name} failed ({' '.join(line)}):\n{done.stderr[-3000:]}")

        return run

    with tempfile.TemporaryDirectory() as work:
        tasks = {name: task(name, Path(work)) for name in ("bundle evaluation", "audit")}
        medians = interleaved_medians(tasks, args.repeats, args.warmup)
    ratio = medians["audit"] / medians["bundle evaluation"]
    result = {
        "bundle": os.path.relpath(args.bundle.resolve(), ROOT),
        "protocol": args.protocol,
        "num_test_samples": args.num_test_samples,
        "repeats": args.repeats,
        "threads": args.threads,
        "machine": machine_description(),
        "median_seconds": medians,
        "ratio": ratio,
        "target_ratio": 2.0,
    }
    print(f"{args.bundle.name}, {args.protocol}, {args.num_test_samples} patches, median of {args.repeats}:")
    print("| command | median wall time (s) |\n| --- | --- |")
    for name, seconds in medians.items():
        print(f"| {name} | {seconds:.1f} |")
    print(f"ratio audit / evaluation: {ratio:.2f}x (target <= 2x)")
    if args.output is not None:
        args.output.mkdir(parents=True, exist_ok=True)
        (args.output / "results.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

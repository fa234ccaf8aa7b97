#!/usr/bin/env bash
# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
#
# The GPU benchmarks in one run (about 10 minutes on one H200: 4 for the benchmarks, 6 for robustness): the
# layer and the network benchmarks on the first CUDA device, each alone on the machine, then the
# rotation-robustness benchmark: a 1-epoch smoke run
# (it stops here, printing the root cause, if that fails), then one process per (model, seed), all at once
# (15 single-threaded processes without DataLoader workers: the models are small, so one run at a time leaves
# the GPU waiting for the data pipeline; training and inference times of these runs are therefore not
# isolated measurements: the network benchmark gives those). Results land in OUTPUT (default runs/gpu):
#   log.txt                   everything printed, the markdown tables included
#   layers.json networks.json the layer and network benchmark rows
#   robustness_results.json   every finished (model, seed) row, merged (rewritten every 15 s)
#   robustness_logs.txt       the last lines of each run's log, or its first traceback
# Table and plot of the robustness rows: copy robustness_results.json to FOLDER/results.json, then
#   python scripts/benchmark_robustness.py --report-only --output FOLDER
#
# Usage: bash scripts/benchmark_gpu.sh [OUTPUT] [all|benchmarks|robustness]
# Environment: DEVICE (default cuda; every benchmark and every robustness run uses it), ROBUSTNESS_TIMEOUT
# (seconds per run, default 420), SMOKE=1 (tiny sizes; with DEVICE=cpu, to check this script on a CPU).
set -u
out=${1:-runs/gpu}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.."
device=${DEVICE:-cuda}
work=$(mktemp -d)
log="$out/log.txt"
export PYTHONUNBUFFERED=1

if [ "${SMOKE:-0}" = 1 ]; then
    layer_args=(--batch 1 --channels 4 --size 8 --kernel-sizes 3 --repeats 5 --warmup 1 --no-memory)
    network_args=(--batch 2 --size 16 --repeats 5 --skip-paper --no-memory)
    throughput_args=(--batch 8 --size 16 --repeats 5 --skip-paper --no-memory)
    robustness_args=(--epochs 1 --num-train 64 --num-val 32 --num-test 32)
    models=("SRE light, no" "MONAI resnet18, SO(3)")
    seeds=(0)
else
    layer_args=(--batch 8 --size 64 --kernel-sizes 3 5 7 --repeats 25 --warmup 5)
    network_args=(--batch 8 --size 64 --repeats 15 --warmup 3)
    throughput_args=(--batch 64 --size 16 --classes 4 --repeats 15 --warmup 3 --no-memory)
    robustness_args=()
    models=("SRE light, no" "SRE light, SO(3)" "MONAI resnet18, no" "MONAI resnet18, SO(3)" "paper preset")
    seeds=(0 1 2)
fi

parts=${2:-all}
{
    date -u
    nvidia-smi -L 2>/dev/null || echo "no nvidia-smi"
    python3 -c "import torch, monai; print('torch', torch.__version__, 'monai', monai.__version__)"
    [ "$parts" = all ] || [ "$parts" = benchmarks ] || exit 0
    echo "## layers"
    python3 scripts/benchmark_layers.py --device "$device" "${layer_args[@]}" --json "$out/layers.json"
    echo "## networks"
    python3 scripts/benchmark_networks.py --device "$device" "${network_args[@]}" --json "$out/networks.json"
    echo "## networks at the robustness benchmark's inference batch (64 volumes of 16^3)"
    python3 scripts/benchmark_networks.py --device "$device" "${throughput_args[@]}"
} 2>&1 | tee "$log"

[ "$parts" = all ] || [ "$parts" = robustness ] || exit 0
first_traceback() {  # the root cause of a failed run: its first traceback, then the last lines
    grep -v "rotation sweep" "$1" | grep -m1 -A40 Traceback
    tail -n 3 "$1"
}
echo "## robustness smoke run (1 epoch, 64 patches)" | tee -a "$log"
python3 scripts/benchmark_robustness.py --seeds 0 --epochs 1 --num-train 64 --num-val 32 --num-test 32 \
    --models "SRE light, no" --device "$device" --output "$work/smoke" >"$work/smoke.log" 2>&1 || {
    first_traceback "$work/smoke.log" | tee -a "$log"
    exit 1
}

echo "## robustness: one process per (model, seed), ${#models[@]} models x seeds ${seeds[*]}" | tee -a "$log"
start=$(date +%s)
runs=()
for seed in "${seeds[@]}"; do
    for index in "${!models[@]}"; do
        run="m${index}_s${seed}"
        runs+=("$run")
        OMP_NUM_THREADS=1 timeout "${ROBUSTNESS_TIMEOUT:-420}" python3 scripts/benchmark_robustness.py \
            "${robustness_args[@]}" --seeds "$seed" --models "${models[$index]}" --with-paper --device "$device" \
            --output "$work/$run" >"$work/$run.log" 2>&1 &
    done
done
merge() {  # every finished row into one results.json
    python3 - "$work" "$out/robustness_results.json" <<'PY'
import json, sys
from pathlib import Path
rows = [row for f in sorted(Path(sys.argv[1]).glob("m*_s*/results.json")) for row in json.loads(f.read_text())]
Path(sys.argv[2]).write_text(json.dumps(rows, indent=2))
PY
}
while [ -n "$(jobs -rp)" ]; do
    sleep 15
    merge
done
wait
merge
for run in "${runs[@]}"; do
    echo "### $run"
    if [ -f "$work/$run/results.json" ]; then tail -n 2 "$work/$run.log"; else first_traceback "$work/$run.log"; fi
done >"$out/robustness_logs.txt"
rows=$(python3 -c "import json, sys; print(len(json.load(open(sys.argv[1]))))" "$out/robustness_results.json")
echo "robustness: ${rows} of ${#runs[@]} runs in $(($(date +%s) - start)) s" | tee -a "$log"
mkdir -p "$work/merged" && cp "$out/robustness_results.json" "$work/merged/results.json"
python3 scripts/benchmark_robustness.py --report-only --output "$work/merged" 2>&1 | tail -n 8 | tee -a "$log"
[ "$rows" = "${#runs[@]}" ]

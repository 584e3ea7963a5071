#!/usr/bin/env bash
# Train and measure the whole first zoo on one GPU machine: five generators in parallel under a
# time budget (resumable chunks, a valid model after each), then the card measurements in
# parallel under a deadline (metrics.json is rewritten after every finished part).
# Usage: bash benchmarks/zoo/gpu_run.sh DATA_ROOT OUT_DIR FIT_BUDGET_S MEASURE_BUDGET_S [NAMES...]
set -u
root=$1; out=$2; fitb=$3; measb=$4; shift 4
names=${*:-gtsrb-brightness gtsrb-contrast mnist-background-color gtsrb-snow gtsrb-haze}
mkdir -p "$out"
export OMP_NUM_THREADS=3 PYTHONUNBUFFERED=1
for n in $names; do
  python3 -m benchmarks.zoo.fit_zoo "$n" --device cuda --data-root "$root" --out "$out" --iterations 50000 \
    --time-budget "$fitb" --chunk 500 --batch-size 16 --no-progress > "$out/fit_$n.log" 2>&1 &
done
wait
for n in $names; do
  timeout "$measb" python3 -m benchmarks.zoo.measure_zoo "$n" --model "$out/$n/model" --device cuda \
    --data-root "$root" --out "$out" > "$out/measure_$n.log" 2>&1 &
done
wait

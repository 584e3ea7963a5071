#!/usr/bin/env bash
# Run full reproduction rows one after another, in the background, on one torch thread each, so a
# 2-core machine can run two such queues side by side. Every row resumes where a killed run
# stopped (finished units are kept in OUT/ROW.json, the unit in flight in OUT/.work/ROW/), so
# the same line restarts a queue after a reboot. Copy the JSONs into docs/results/ and run
# `nuisance-zoo reproduce --report` to see them.
#
# Usage (from the repository root):
#   nohup bash benchmarks/reproduce_background.sh OUT DATA_ROOT ROW [ROW ...] >> OUT/queue.log 2>&1 &
# Example, the two GTSRB rows of Table 2 in two queues:
#   mkdir -p /tmp/repro && cp docs/results/t2-gtsrb-*.json /tmp/repro/   # keep the finished seeds
#   nohup bash benchmarks/reproduce_background.sh /tmp/repro ../shared/data t2-gtsrb-contrast >> /tmp/repro/a.log 2>&1 &
#   nohup bash benchmarks/reproduce_background.sh /tmp/repro ../shared/data t2-gtsrb-brightness >> /tmp/repro/b.log 2>&1 &
set -u
if [ $# -lt 3 ]; then
  echo "usage: $0 OUT DATA_ROOT ROW [ROW ...]   (rows: nuisance-zoo reproduce --list)" >&2
  exit 2
fi
out=$1; root=$2; shift 2
cd "$(dirname "$0")/.."
bin=${NUISANCE_ZOO_BIN:-.venv/bin/nuisance-zoo}
# One thread per queue, so two queues share a 2-core machine without contending.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONUNBUFFERED=1
mkdir -p "$out"
for row in "$@"; do
  echo "=== $(date -u +%FT%TZ) $row"
  # A failing row is logged and the queue goes on to the next one.
  "$bin" reproduce "$row" --out "$out" --data-root "$root" --no-progress || echo "=== $row failed (exit $?)"
done
echo "=== $(date -u +%FT%TZ) queue done"

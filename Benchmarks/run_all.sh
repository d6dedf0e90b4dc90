#!/usr/bin/env bash
# Runs every benchmark workload on both sides (sensorium-bench and the PyTorch reference) in one
# go, appends the JSON lines to Benchmarks/results/<timestamp>.jsonl and prints a markdown table
# (Documentation/Performance.md explains the columns).
#
#   Benchmarks/run_all.sh                      # all workloads, default runs
#   WORKLOADS="conv-spatial conv-temporal" RUNS=3 Benchmarks/run_all.sh
#   ROUNDS=2 Benchmarks/run_all.sh             # alternate Swift / PyTorch twice per workload
#
# Needs: a Swift toolchain, python3 with torch and numpy. Threads: 2 on both sides (OpenBLAS and
# the SDK's own threads use the core count; PyTorch gets torch.set_num_threads(THREADS)).
set -euo pipefail
cd "$(dirname "$0")/.."

WORKLOADS=${WORKLOADS:-"sgemm-1024 conv-spatial conv-temporal factorized-small factorized-paper readout-8k loader swin-step vivit-step dwiseneuro-step"}
ROUNDS=${ROUNDS:-1}
THREADS=${THREADS:-2}
MOUSE_ROOT=${MOUSE_ROOT:-.build/bench-mouse}  # the loader's synthetic mouse, generated once (relative to the package)
PYTHON=${PYTHON:-python3}

swift build -c release --product sensorium-bench >&2
BENCH=.build/release/sensorium-bench

mkdir -p Benchmarks/results
OUT=Benchmarks/results/$(date +%Y%m%d-%H%M%S).jsonl
: > "$OUT"

runs_arg=()
if [[ -n "${RUNS:-}" ]]; then runs_arg=(--runs "$RUNS"); fi

for w in $WORKLOADS; do
  for ((r = 0; r < ROUNDS; r++)); do
    echo "== $w (round $((r + 1))/$ROUNDS): swift" >&2
    line=$(OPENBLAS_NUM_THREADS=$THREADS "$BENCH" "$w" "${runs_arg[@]}" --mouse "$MOUSE_ROOT")
    echo "$line" >> "$OUT"
    echo "$line" >&2
    extra=()
    if [[ "$w" == loader ]]; then
      extra=(--mouse "$(echo "$line" | $PYTHON -c 'import json,sys; print(json.load(sys.stdin)["mouse"])')")
    fi
    echo "== $w (round $((r + 1))/$ROUNDS): pytorch" >&2
    line=$($PYTHON Benchmarks/pytorch_reference.py "$w" "${runs_arg[@]}" --threads "$THREADS" "${extra[@]}")
    echo "$line" >> "$OUT"
    echo "$line" >&2
  done
done

echo "results: $OUT" >&2
$PYTHON Benchmarks/make_table.py "$OUT"

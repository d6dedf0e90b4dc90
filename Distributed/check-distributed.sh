#!/usr/bin/env bash
# The MPI check of `make test` (issue #19), on a tiny synthetic mouse with a small model that draws
# nothing at random while training (factorised readout, no shifter), batch normalisation synchronised:
#  1. `mpiexec -n 2` with batch 1 per rank gives the validation correlations and weights of one
#     process with batch 2 (to Float summation order);
#  2. a 2-rank run stopped after 4 steps and resumed ends with the weights of the uninterrupted run, bit for bit;
#  3. a killed rank stops the job with an error (MPICH's process manager), and a stopped (hung) rank
#     makes the others give up after SENSORIUM_MPI_TIMEOUT seconds with a clear message.
set -euo pipefail
cd "$(dirname "$0")"
SWIFT=${SWIFT:-swift}
MPIEXEC=${MPIEXEC:-mpiexec}
$SWIFT build --product sensorium-mpi
BIN="$($SWIFT build --show-bin-path)/sensorium-mpi"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export SENSORIUM_THREADS=1 OPENBLAS_NUM_THREADS=1

"$BIN" synth --tiny --output "$WORK/mice" --log-level error
cat > "$WORK/config.json" <<'JSON'
{
  "model": {
    "seed": 4,
    "core": {"type": "factorized3d", "hiddenChannels": [6], "spatialInputKernel": [5, 5], "temporalInputKernel": 5,
             "bias": false},
    "readout": {"type": "factorized"},
    "shifter": {"type": "none"}
  },
  "trainer": {"seed": 3, "earlyStopping": {"restoreBest": false}, "validationSkipFrames": 10},
  "data": {"frames": 24, "validationBatchSize": 2, "validationMaxFrames": 60, "prefetch": 0}
}
JSON
train() { "$@" --config "$WORK/config.json" --epochs 3 --plain --log-level error; }
# The failure checks need a run that is still going when a rank is killed: no early stopping
# (a tiny model's epoch takes 0.1 s, so patience alone would end the run within seconds).
sed 's/"earlyStopping": {"restoreBest": false}/"earlyStopping": {"restoreBest": false, "patience": 1000000}/' \
    "$WORK/config.json" > "$WORK/config-long.json"
grep -q '"patience": 1000000' "$WORK/config-long.json" || { echo "FAIL: could not write config-long.json"; exit 1; }

echo "== 1 process, batch 2"
train "$BIN" train "$WORK/mice" -o "$WORK/one" --batch-size 2 | tee "$WORK/one.txt"
echo "== mpiexec -n 2, batch 1 per rank"
train "$MPIEXEC" -n 2 "$BIN" train --distributed "$WORK/mice" -o "$WORK/two" --batch-size 1 | tee "$WORK/two.txt"
"$BIN" compare-runs "$WORK/one" "$WORK/two" --weight-tolerance 1e-4 --correlation-tolerance 1e-4

echo "== mpiexec -n 2: stop after 4 of 9 steps, resume"
train "$MPIEXEC" -n 2 "$BIN" train --distributed "$WORK/mice" -o "$WORK/resumed" --batch-size 1 --max-steps 4 >/dev/null
"$MPIEXEC" -n 2 "$BIN" train --distributed "$WORK/mice" -o "$WORK/resumed" --resume --plain --log-level error >/dev/null
"$BIN" compare-runs "$WORK/two" "$WORK/resumed" --weight-tolerance 0 --correlation-tolerance 0

# The pid of rank $1 of the running job (MPICH's process manager sets PMI_RANK).
rank_pid() {
    for p in $(pgrep -f "sensorium-mpi train --distributed" || true); do
        if tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep -qx "PMI_RANK=$1"; then echo "$p"; return; fi
    done
}
failing_run() {  # $1: signal for rank 1, $2: expected text in the output
    local log="$WORK/fail-$1.txt"
    SENSORIUM_MPI_TIMEOUT=15 "$MPIEXEC" -n 2 "$BIN" train --distributed "$WORK/mice" -o "$WORK/fail-$1" --batch-size 1 \
        --config "$WORK/config-long.json" --epochs 100000 --plain --log-level error >"$log" 2>&1 &
    local job=$!
    local victim=""
    for _ in $(seq 1 300); do victim=$(rank_pid 1); [ -n "$victim" ] && break; sleep 0.2; done
    [ -n "$victim" ] || { echo "rank 1 never started"; kill "$job"; exit 1; }
    sleep 4
    kill -0 "$victim" 2>/dev/null || { echo "FAIL: rank 1 ended before it could be sent SIG$1:"; cat "$log"; exit 1; }
    kill -"$1" "$victim"
    local waited=0
    while kill -0 "$job" 2>/dev/null; do
        sleep 1; waited=$((waited + 1))
        if [ $waited -gt 120 ]; then echo "FAIL: the job still runs 120 s after SIG$1 to rank 1"; kill -KILL "$victim" "$job" 2>/dev/null; exit 1; fi
    done
    if wait "$job"; then echo "FAIL: the job succeeded although rank 1 got SIG$1"; exit 1; fi
    kill -KILL "$victim" 2>/dev/null || true
    grep -q "$2" "$log" || { echo "FAIL: expected '$2' in the output:"; cat "$log"; exit 1; }
    echo "SIG$1 to rank 1: the job stopped after ${waited} s with: $(grep -m1 "$2" "$log")"
}
echo "== a killed rank"
failing_run KILL "BAD TERMINATION\|killed\|Killed"
echo "== a hung rank (stopped), timeout 15 s"
failing_run STOP "got no answer from the other ranks"
echo "distributed check passed"

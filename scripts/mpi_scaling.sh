#!/usr/bin/env bash
# The README's scaling table: one epoch of the seed model and of classifier-large, as
# 1 process x 1 thread, 1 process x 2 threads and 2 MPI ranks x 1 thread. Each setting
# runs REPEATS times and the best epoch time counts (other work on the machine only ever
# slows a run down). Efficiency: the 1x1 time over (cores x time). Allreduce: rank 0's
# mean time per call, waiting for the slower rank included.
# Usage: scripts/mpi_scaling.sh [DATA_DIR] [REPEATS] [SEED_LIMIT] [LARGE_LIMIT] [WORK_DIR]
#   (defaults data/mnist, 3, 0 = all 55,000 training images, 12000, runs/mpi-scaling)
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-data/mnist} repeats=${2:-3} seed_limit=${3:-0} large_limit=${4:-12000} work=${5:-runs/mpi-scaling}
exe=$PWD/build/denoise
mkdir -p "$work"
# OpenMPI refuses root unless told; only mpirun's environment gets these.
mpirun=(env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe -np 2)

# one NAME LAUNCH(1|2) THREADS ARGS...: prints "epoch_seconds allreduce_ms" of the best repeat
one() {
  local name=$1 ranks=$2 threads=$3; shift 3
  local best="" line
  for ((k = 1; k <= repeats; ++k)); do
    rm -rf "$work/$name"
    if [[ $ranks == 1 ]]; then
      "$exe" "$@" --threads "$threads" --verbose 0 --out "$work/$name" > "$work/$name.log"
    else
      "${mpirun[@]}" "$exe" "$@" --threads "$threads" --verbose 0 --out "$work/$name" > "$work/$name.log"
    fi
    line=$(python3 - "$work/$name" <<'PY'
import json, re, sys
run = sys.argv[1]
seconds = json.load(open(run + "/history.json"))[0]["seconds"]
m = re.search(r"([0-9.]+) ms each", open(run + ".log").read())
print(seconds, m.group(1) if m else "-")
PY
)
    if [[ -z $best || $(python3 -c "print(${line%% *} < ${best%% *})") == True ]]; then best=$line; fi
  done
  echo "$best"
}

row() {  # MODEL_LABEL ARGS...
  local label=$1; shift
  read -r t11 _ < <(one "$label-1x1" 1 1 "$@")
  read -r t12 _ < <(one "$label-1x2" 1 2 "$@")
  read -r t21 ar < <(one "$label-2x1" 2 1 "$@")
  python3 - "$label" "$t11" "$t12" "$t21" "$ar" <<'PY'
import sys
label, t11, t12, t21, ar = sys.argv[1], *map(float, sys.argv[2:5]), sys.argv[5]
print(f"| {label} | {t11:.2f} | {t12:.2f} ({t11 / (2 * t12):.0%}) | {t21:.2f} ({t11 / (2 * t21):.0%}) | {ar} |")
PY
}

echo "| model | 1 process x 1 thread, s/epoch | 1 process x 2 threads, s/epoch (efficiency) | 2 ranks x 1 thread, s/epoch (efficiency) | allreduce, ms/step |"
echo "|---|---|---|---|---|"
row seed train --epochs 1 --limit "$seed_limit" --data-dir "$data"
row classifier-large classify train --model classifier-large --epochs 1 --limit "$large_limit" --data-dir "$data"

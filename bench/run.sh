#!/usr/bin/env bash
# The speed benchmark, project and PyTorch side by side in one run:
#   bench/run.sh [DATA_DIR]
# DATA_DIR holds MNIST's raw IDX files (default data/mnist; synthetic digits when absent).
# Builds a release tree in $BUILD (default build-bench, $JOBS compile jobs, default all
# cores), measures the project on every SIMD target `denoise --version` lists but scalar
# (TARGETS="avx2 ..." picks them) and PyTorch once, writes every result and results.json
# under $OUT (default $BUILD/bench-results) and prints the table. About 5-10 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
data_dir=${1:-data/mnist}
build=${BUILD:-build-bench}
out=${OUT:-$build/bench-results}
python=/usr/bin/python3  # Debian's interpreter, where python3-torch lives

if ! "$python" -c 'import torch' 2>/dev/null; then
  echo "== installing python3-torch"
  apt-get install -y python3-torch >/dev/null
fi

echo "== building $build (release)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"${JOBS:-$(nproc)}" --target bench_train denoise >/dev/null

# "SIMD target: avx512 (available: avx512, avx2, scalar; ...)": scalar is the fallback,
# not a contender, so it runs only when named in TARGETS or when nothing else is there.
available=$("$build/denoise" --version | sed -n 's/.*(available: \([^;]*\);.*/\1/p' | tr -d ',')
targets=${TARGETS:-$(printf '%s\n' $available | { grep -vx scalar || true; } | xargs)}
targets=${targets:-scalar}
echo "== SIMD targets: $targets (available: $available)"

mkdir -p "$out"
rm -f "$out"/*.json
bench=("$build/bench/bench_train" --data-dir "$data_dir")

for target in $targets; do
  echo "== project on $target: training, one epoch per configuration; inference"
  for threads in 2 1; do
    DENOISE_SIMD=$target "${bench[@]}" --mode train --threads "$threads" --batch 32 \
      --json "$out/project_train_${target}_t${threads}_b32.json" >/dev/null
  done
  DENOISE_SIMD=$target "${bench[@]}" --mode infer --threads 2 --batch 256 \
    --json "$out/project_infer_${target}_t2_b256.json" >/dev/null
done

best=$("$python" -c 'import json, sys
print(min(sys.argv[2:], key=lambda t: json.load(open(f"{sys.argv[1]}/project_train_{t}_t2_b32.json"))["seconds_per_epoch"]))' \
  "$out" $targets)
export DENOISE_SIMD=$best  # the rest of the project's runs
echo "== project on $best (the fastest): OMP_WAIT_POLICY=passive, 2 threads"
OMP_WAIT_POLICY=passive "${bench[@]}" --mode train --threads 2 --batch 32 \
  --json "$out/project_train_${best}_t2_b32_passive.json" >/dev/null
echo "== project on $best: time per layer"
"${bench[@]}" --mode layers --threads 2 --batch 32 --samples 8000 --json "$out/project_layers_${best}_t2_b32.json" |
  sed -n '1,/^peak:/p'
# classifier-large at `denoise classify train`'s default batch; a few thousand samples
# give its time per sample (a whole epoch takes a minute).
echo "== project on $best: classifier-large training"
"${bench[@]}" --model classifier-large --mode train --threads 2 --batch 128 --samples 6400 --warmup 5 --epochs 2 \
  --json "$out/project_classifier_${best}_t2_b128.json" >/dev/null

if [[ -f "$data_dir/train-images-idx3-ubyte" ]]; then
  echo "== project on $best: peak memory of 'denoise train --epochs 1'"
  run_dir=$(mktemp -d)
  /usr/bin/time -f '%M' -o "$out/denoise_train_maxrss_kb.txt" \
    "$build/denoise" train --data-dir "$data_dir" --epochs 1 --threads 2 --out "$run_dir/run" >/dev/null
  cp "$run_dir/run/history.json" "$out/denoise_train_history.json"
  rm -rf "$run_dir"
fi
unset DENOISE_SIMD

# PyTorch's best configuration: its 2 threads spin-wait for each other, so 1 thread
# and OMP_WAIT_POLICY=passive each get their try.
echo "== PyTorch (timed steps scaled to one epoch): 1 and 2 threads, default and passive waiting"
torch=("$python" bench/torch_seed.py --data-dir "$data_dir")
for suffix in "" _passive; do
  for threads in 2 1; do
    env ${suffix:+OMP_WAIT_POLICY=passive} "${torch[@]}" --threads "$threads" --batch 32 --steps 150 \
      --infer-images 5120 --json "$out/torch_train_t${threads}_b32$suffix.json" >/dev/null
  done
done
echo "== PyTorch: classifier-large training"
"${torch[@]}" --model classifier-large --threads 2 --batch 128 --samples 6400 --warmup 5 --steps 40 \
  --infer-images 2560 --json "$out/torch_classifier_t2_b128.json" >/dev/null

"$python" bench/report.py "$out"

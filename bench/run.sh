#!/usr/bin/env bash
# The speed benchmark of issue 5, project and PyTorch side by side in one run:
#   bench/run.sh [DATA_DIR]
# DATA_DIR holds MNIST's raw IDX files (default data/mnist; synthetic digits when absent).
# Builds a release tree in $BUILD (default build-bench), writes every result and
# results.json under $OUT (default $BUILD/bench-results) and prints the table.
# About 5-10 minutes, most of it PyTorch.
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
cmake --build "$build" -j"$(nproc)" --target bench_train denoise >/dev/null

mkdir -p "$out"
rm -f "$out"/*.json
bench=("$build/bench/bench_train" --data-dir "$data_dir")

echo "== project: training, one epoch per configuration"
for cfg in "1 32" "2 32" "2 128"; do
  set -- $cfg
  "${bench[@]}" --mode train --threads "$1" --batch "$2" --json "$out/project_train_t$1_b$2.json" >/dev/null
done
echo "== project: inference"
"${bench[@]}" --mode infer --threads 2 --batch 256 --json "$out/project_infer_t2_b256.json" >/dev/null
echo "== project: time per layer"
"${bench[@]}" --mode layers --threads 2 --batch 32 --samples 8000 --json "$out/project_layers_t2_b32.json" |
  sed -n '1,/as s\/epoch/p'

if [[ -f "$data_dir/train-images-idx3-ubyte" ]]; then
  echo "== project: peak memory of 'denoise train --epochs 1'"
  run_dir=$(mktemp -d)
  /usr/bin/time -f '%M' -o "$out/denoise_train_maxrss_kb.txt" \
    "$build/denoise" train --data-dir "$data_dir" --epochs 1 --threads 2 --out "$run_dir/run" >/dev/null
  cp "$run_dir/run/history.json" "$out/denoise_train_history.json"
  rm -rf "$run_dir"
fi

echo "== PyTorch (timed steps scaled to one epoch)"
torch=("$python" bench/torch_seed.py --data-dir "$data_dir")
"${torch[@]}" --threads 2 --batch 32 --steps 200 --json "$out/torch_train_t2_b32.json" >/dev/null
"${torch[@]}" --threads 1 --batch 32 --steps 100 --infer-images 2560 --json "$out/torch_train_t1_b32.json" >/dev/null
"${torch[@]}" --threads 2 --batch 128 --steps 50 --infer-images 2560 --json "$out/torch_train_t2_b128.json" >/dev/null

"$python" bench/report.py "$out"

#!/usr/bin/env bash
# The most accurate digit pipeline measured at gaussian:0.5: four classifier-deep networks
# averaged, two trained on noisy digits (30 epochs) and two on digits denoised by the shipped
# unet-xl (15 epochs), each from fresh weights with noise drawn afresh every epoch; then
# `denoise classify eval` over five draws of the test noise (seeds 0-4) and their mean.
# About 45 minutes on 2 cores: the members train two at a time, one thread each.
# Usage: scripts/digits_deep.sh [WORK_DIR]   (default runs/digits-deep; needs build/denoise and MNIST)
# A trained run folder is reused; WORK_DIR/times.txt gets each training's seconds and
# WORK_DIR/accuracy.txt the ensemble's accuracy per draw and their mean.
set -euo pipefail
cd "$(dirname "$0")/.."
d=${1:-runs/digits-deep}
xl=models/unet-xl-mnist-gaussian0.1-1.0
mkdir -p "$d"
train() {
  local name=$1 threads=$2; shift 2
  [[ -f "$d/$name/model.safetensors" ]] && return
  local start=$(date +%s)
  ./build/denoise classify train --model classifier-deep --lr-schedule cosine --threads "$threads" --verbose 2 \
    --out "$d/$name" "$@" > "$d/$name.log"
  echo "$name $(( $(date +%s) - start )) s" >> "$d/times.txt"
}
noisy=(--on noisy --noise gaussian:0.5 --shift-augment 1 --epochs 30)
denoised=(--on denoised --denoiser "$xl" --noise gaussian:0.5 --epochs 15)
# The clean-trained one is the evaluation's reference column (clean-trained on noisy digits).
train clean 2 --epochs 10 --seed 0
train noisy-s2 1 "${noisy[@]}" --seed 2 & train noisy-s4 1 "${noisy[@]}" --seed 4 & wait
train unet-xl-s0 1 "${denoised[@]}" --seed 0 & train unet-xl-s3 1 "${denoised[@]}" --shift-augment 1 --seed 3 & wait
for m in noisy-s2 noisy-s4 unet-xl-s0 unet-xl-s3; do
  [[ -f "$d/$m/model.safetensors" ]] || { echo "digits_deep.sh: $m did not train (see $d/$m.log)" >&2; exit 1; }
done
: > "$d/accuracy.txt"
for seed in 0 1 2 3 4; do
  ./build/denoise classify eval --classifier "$d/clean" --noise-levels 0.5 --seed "$seed" --threads 2 \
    --ensemble "$d/noisy-s2" "$d/noisy-s4" "$d/unet-xl-s0" "$d/unet-xl-s3" --out "$d/eval-s$seed" > /dev/null
  python3 -c "import json, sys; r = json.load(open(sys.argv[1]))
print(sys.argv[2], 100 * r['levels'][0]['accuracy']['ensemble_of_many'])" \
    "$d/eval-s$seed/classify.json" "$seed" >> "$d/accuracy.txt"
done
awk '{s += $2; printf "draw %d: %.2f%%\n", $1, $2} END {printf "mean of %d draws: %.2f%%\n", NR, s / NR}' "$d/accuracy.txt"

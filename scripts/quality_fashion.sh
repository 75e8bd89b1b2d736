#!/usr/bin/env bash
# The quality table's rows on Fashion-MNIST at gaussian:0.5: trains each denoiser of the MNIST
# table on Fashion-MNIST (Debian's dataset-fashion-mnist; one thread each, shorter schedules than
# MNIST's U-Net and seed + Adam rows) and runs `denoise quality` on its test set.
# Usage: scripts/quality_fashion.sh [WORK_DIR]   (default runs/fashion; needs build/denoise)
# A trained run folder is reused; WORK_DIR/times.txt gets each training's seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
d=${1:-runs/fashion}
mkdir -p "$d"
train() {
  local name=$1; shift
  [[ -f "$d/$name/model.safetensors" ]] && return
  local start=$(date +%s)
  ./build/denoise train --dataset fashion-mnist --threads 1 --verbose 2 --out "$d/$name" "$@"
  echo "$name $(( $(date +%s) - start )) s" >> "$d/times.txt"
}
train seed
train unet --model unet --optimizer adam --epochs 6 --train-noise-range 0.1,1.0
train seed-adam --optimizer adam --lr 0.002 --lr-schedule cosine --epochs 20
train dncnn --model dncnn --loss mean_squared_error --optimizer adam --epochs 4 --train-noise-range 0.1,1.0
# The PSNR fine-tunings of the MNIST table, with fresh noise every epoch, on half its epochs.
psnr=(--optimizer adam --lr 0.0005 --lr-schedule cosine --loss psnr --fresh-noise --train-noise-range 0.1,1.0)
train unet-psnr --model unet "${psnr[@]}" --epochs 4 --init-from "$d/unet"
train unet-large --model unet-large --optimizer adam --lr-schedule cosine --fresh-noise --epochs 4 \
  --train-noise-range 0.1,1.0
train unet-large-psnr --model unet-large "${psnr[@]}" --epochs 2 --init-from "$d/unet-large"
train unet-xl --model unet-xl --optimizer adam --lr-schedule cosine --fresh-noise --epochs 4 --train-noise-range 0.1,1.0
train unet-xl-psnr --model unet-xl "${psnr[@]}" --epochs 2 --init-from "$d/unet-xl"
./build/denoise quality --dataset fashion-mnist --threads 2 --tune-images 500 --noise gaussian:0.5 --out "$d/quality" \
  --model "seed (seed's training)=$d/seed" --model "seed + adam 20 ep=$d/seed-adam" \
  --model "dncnn (4 ep)=$d/dncnn" --model "unet (6 ep)=$d/unet" --model "unet + psnr (6 + 4 ep)=$d/unet-psnr" \
  --model "unet-large + psnr (4 + 2 ep)=$d/unet-large-psnr" --model "unet-xl + psnr (4 + 2 ep)=$d/unet-xl-psnr"

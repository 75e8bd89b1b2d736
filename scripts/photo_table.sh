#!/usr/bin/env bash
# The photograph table of the README: trains the seed model on patches of scikit-image's
# standard photographs (Debian's python3-skimage, unpacked, not installed) and denoises five
# held-out ones at gaussian sigma 25/255 and 50/255 with `denoise apply`.
# Usage: scripts/photo_table.sh [WORK_DIR]   (default runs/photos; needs build/denoise)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-runs/photos}
mkdir -p "$work"
if [[ ! -d "$work/skimage" ]]; then
  (cd "$work" && apt-get download python3-skimage >/dev/null && dpkg-deb -x python3-skimage_*.deb pkg)
  mv "$work"/pkg/usr/lib/python3/dist-packages/skimage/data "$work/skimage"
  rm -rf "$work/pkg" "$work"/python3-skimage_*.deb
fi
# Held out for the table: camera, coins, text (gray), astronaut, coffee (colour).
mkdir -p "$work/train" "$work/test"
for f in brick grass gravel page moon horse cell microaneurysms ihc chelsea motorcycle_left rocket hubble_deep_field retina; do
  cp "$work"/skimage/$f.* "$work/train/"
done
for f in camera coins text astronaut coffee; do cp "$work/skimage/$f.png" "$work/test/"; done

for sigma in 25 50; do
  noise=$(python3 -c "print(f'gaussian:{$sigma/255:.4f}')")
  ./build/denoise train --dataset "folder:$work/train" --patch 64 --flips --noise "$noise" \
    --loss mean_squared_error --optimizer adam --epochs 30 --batch-size 32 --seed 0 --out "$work/run-s$sigma"
  ./build/denoise apply "$work/run-s$sigma" "$work/test" --out "$work/out-s$sigma" --noise "$noise" --seed 1 \
    --reference "$work/test" --compare
done

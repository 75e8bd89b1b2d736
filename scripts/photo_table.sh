#!/usr/bin/env bash
# The photograph table of the README: trains the seed model and dncnn on patches of
# scikit-image's standard photographs (Debian's python3-skimage, unpacked, not installed) at
# gaussian sigma 25/255 and 50/255, and denoises five held-out ones with `denoise apply`, beside
# the OpenCV baselines with their parameter tuned on the training photos (never the held-out ones).
# Usage: scripts/photo_table.sh [WORK_DIR]   (default runs/photos; needs build/denoise)
# Writes WORK_DIR/table.md and table.json; a trained run-MODEL-sN/ is reused when present.
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

declare -A grid=([median]="3 5 7 9" [gaussian_blur]="0.5 0.75 1 1.5 2 2.5 3"
                 [bilateral]="0.05 0.1 0.2 0.3 0.5 0.75 1" [nl_means]="10 15 20 25 30 40 50 60 70 80 100")
mean_psnr() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['mean_psnr'])" "$1/apply.json"; }

for sigma in 25 50; do
  noise=$(python3 -c "print(f'gaussian:{$sigma/255:.4f}')")
  for model in seed dncnn; do
    run="$work/run-$model-s$sigma"
    if [[ ! -f "$run/model.safetensors" ]]; then
      ./build/denoise train --model $model --dataset "folder:$work/train" --patch 64 --flips --noise "$noise" \
        --loss mean_squared_error --optimizer adam --lr-schedule cosine --epochs 30 --batch-size 32 --seed 0 \
        --verbose 2 --out "$run"
    fi
    ./build/denoise apply "$run" "$work/test" --out "$work/out-s$sigma/$model" --noise "$noise" --seed 1 \
      --reference "$work/test" --compare
  done
  for method in median gaussian_blur bilateral nl_means; do
    best="" best_psnr=-1
    for value in ${grid[$method]}; do  # tuned on the training photos, other noise (seed 2)
      tune="$work/tune-s$sigma/$method-$value"
      ./build/denoise apply "baseline:$method:$value" "$work/train" --out "$tune" --noise "$noise" --seed 2 \
        --reference "$work/train" >/dev/null
      psnr=$(mean_psnr "$tune")
      if python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)" "$psnr" "$best_psnr"; then
        best=$value best_psnr=$psnr
      fi
    done
    echo "sigma $sigma/255: $method tuned to $best (training photos: $best_psnr dB)"
    ./build/denoise apply "baseline:$method:$best" "$work/test" --out "$work/out-s$sigma/$method" --noise "$noise" \
      --seed 1 --reference "$work/test" >/dev/null
  done
done

python3 - "$work" <<'PY'
import json, sys, pathlib
work = pathlib.Path(sys.argv[1])
methods = ["median", "gaussian_blur", "bilateral", "nl_means", "seed", "dncnn"]
labels = {"median": "median (OpenCV)", "gaussian_blur": "gaussian blur (OpenCV)", "bilateral": "bilateral (OpenCV)",
          "nl_means": "non-local means (OpenCV)", "seed": "seed model, 3,279 params", "dncnn": "dncnn, 9,585 params"}
table = {}
for sigma in (25, 50):
    for m in methods:
        s = json.load(open(work / f"out-s{sigma}" / m / "apply.json"))
        table.setdefault(f"s{sigma}", {})[m] = {
            "denoiser": s["denoiser"], "mean_input_psnr": s["mean_input_psnr"], "mean_psnr": s["mean_psnr"],
            "mean_input_ssim": s["mean_input_ssim"], "mean_ssim": s["mean_ssim"],
            "files": {pathlib.Path(f["input"]).stem: {k: f[k] for k in ("input_psnr", "psnr", "input_ssim", "ssim")}
                      for f in s["files"]}}
json.dump(table, open(work / "table.json", "w"), indent=2)
lines = ["| method | PSNR at 25/255 | SSIM at 25/255 | PSNR at 50/255 | SSIM at 50/255 | setting (tuned on training photos) |",
         "|---|---:|---:|---:|---:|---|"]
t25, t50 = table["s25"], table["s50"]
lines.append(f"| noisy input | {t25['seed']['mean_input_psnr']:.2f} | {t25['seed']['mean_input_ssim']:.3f} | "
             f"{t50['seed']['mean_input_psnr']:.2f} | {t50['seed']['mean_input_ssim']:.3f} | |")
for m in methods:
    setting = "" if m in ("seed", "dncnn") else \
        " / ".join(t[m]["denoiser"].split(":")[-1] for t in (t25, t50)) + " (" + \
        {"median": "ksize", "gaussian_blur": "sigma", "bilateral": "sigma_color", "nl_means": "h"}[m] + ")"
    lines.append(f"| {labels[m]} | {t25[m]['mean_psnr']:.2f} | {t25[m]['mean_ssim']:.3f} | "
                 f"{t50[m]['mean_psnr']:.2f} | {t50[m]['mean_ssim']:.3f} | {setting} |")
lines += ["", "| picture | noisy 25/255 | dncnn | non-local means | noisy 50/255 | dncnn | non-local means |",
          "|---|---:|---:|---:|---:|---:|---:|"]
for n in sorted(t25["dncnn"]["files"]):
    cells = []
    for t in (t25, t50):
        f = lambda m, k="psnr": t[m]["files"][n][k]
        cells += [f"{f('dncnn', 'input_psnr'):.2f}", f"{f('dncnn'):.2f}", f"{f('nl_means'):.2f}"]
    lines.append(f"| {n} | " + " | ".join(cells) + " |")
(work / "table.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
PY

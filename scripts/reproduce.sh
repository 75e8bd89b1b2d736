#!/usr/bin/env bash
# The main job: set-up (scripts/setup.sh, without the sanitizer build), then the
# seed report's experiment end to end on real MNIST (`denoise reproduce`).
# Extra arguments go to `denoise reproduce` (e.g. --sweep-repeats 0).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --no-asan
./build/denoise reproduce "$@"

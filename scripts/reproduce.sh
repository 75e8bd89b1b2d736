#!/usr/bin/env bash
# The main job: set-up (scripts/setup.sh --main-job: the program alone), then the
# seed report's experiment end to end on real MNIST (`denoise reproduce`).
# Extra arguments go to `denoise reproduce` (e.g. --sweep-repeats 0).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --main-job
./build/denoise reproduce "$@"

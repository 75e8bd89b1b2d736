#!/usr/bin/env bash
# Set-up (scripts/setup.sh), then the whole test suite through CTest:
# every test in the release build, and again under ASan + UBSan except the
# end-to-end training tests (label e2e), which are too slow sanitized.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
jobs=$(nproc)
echo "== tests (release)"
ctest --test-dir build --output-on-failure -j"$jobs"
echo "== tests (address + undefined sanitizers)"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs" -LE e2e

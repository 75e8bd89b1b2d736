#!/usr/bin/env bash
# Set-up (scripts/setup.sh), then the whole test suite through CTest:
# every test in the release build; again with the SIMD kernels pinned to each other
# target this CPU runs (DENOISE_SIMD; the kernel tests cover every target anyway, this
# runs the models too), except the end-to-end training tests (label e2e), the page in
# a browser (label browser) and mpirun's (label mpi), which the kernels do not change; the
# kernel, layer and model tests under each OpenBLAS kernel the CPU runs; under
# ASan + UBSan, again except e2e (too slow sanitized) and browser; and, where clang-14 is
# installed, every libFuzzer target for 10 s on its corpus (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
jobs=$(nproc)
echo "== tests (release)"
ctest --test-dir build --output-on-failure -j"$jobs"
best=$(./build/denoise --version | sed -n 's/^SIMD target: \([a-z0-9]*\).*/\1/p')
for target in $(./build/denoise --version | sed -n 's/.*available: \([a-z0-9, ]*\);.*/\1/p' | tr -d ,); do
  [[ "$target" == "$best" || "$target" == scalar ]] && continue
  echo "== tests (release, DENOISE_SIMD=$target)"
  DENOISE_SIMD=$target ctest --test-dir build --output-on-failure -j"$jobs" -LE "e2e|browser|mpi"
done
# OpenBLAS picks its GEMM kernel by the CPU it finds, and where the kernels still call it
# the bits they promise must hold with each: the kernel, layer and model tests again under
# every OpenBLAS kernel this CPU can run (OPENBLAS_CORETYPE).
for core in Haswell:avx2 SkylakeX:avx512f; do
  grep -qw "${core#*:}" /proc/cpuinfo || continue
  echo "== kernel, layer and model tests (release, OPENBLAS_CORETYPE=${core%:*})"
  OPENBLAS_CORETYPE=${core%:*} ctest --test-dir build --output-on-failure -j"$jobs" -L '^test_(kernels|layers|model)$'
done
echo "== tests (address + undefined sanitizers)"
# tests/lsan.supp: what third-party libraries hold until exit (fontconfig's cache).
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs" -LE "e2e|browser"
if command -v clang++-14 >/dev/null; then
  echo "== fuzzing (10 s per target)"
  # A crash found in 10 s of random inputs is reported (its input kept under build-fuzz/),
  # not a failed suite: the search is random, and the regression tests hold each fixed find.
  scripts/fuzz.sh 10 || echo "== fuzzing found a crash: see build-fuzz/crash-* and scripts/fuzz.sh"
else
  echo "== fuzzing skipped: clang++-14 not installed"
fi

#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/, clang-14 with ASan + UBSan, into build-fuzz/)
# and runs each for SECONDS on its corpus, one at a time, then prints each target's
# executions and CPU time. New inputs that widen coverage go to build-fuzz/corpus/<target>/
# (tests/fuzz/corpus/ is only read); a crash stops the run with the input saved as
# build-fuzz/crash-<target>-*: fix it, add it to tests/fuzz/corpus/<target>/ and a test
# to tests/test_fuzz_regressions.cpp.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]   (default 60 s, every target)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
cxx=${FUZZ_CXX:-clang++-14}
command -v "$cxx" >/dev/null || { echo "fuzz.sh: $cxx not found (apt-get install clang-14 libfuzzer-14-dev)" >&2; exit 1; }

echo "== building fuzz targets (build-fuzz/, $cxx; the compute kernels with g++)"
# clang 14 cannot compile src/kernels/ (see tests/fuzz/CMakeLists.txt): g++ builds them.
cmake -S . -B build-fuzz/gcc-kernels -DCMAKE_BUILD_TYPE=Release -DDENOISE_TESTS=OFF -DDENOISE_BENCH=OFF >/dev/null
cmake --build build-fuzz/gcc-kernels -j"$(nproc)" --target dn_kernels >/dev/null
cmake -S tests/fuzz -B build-fuzz -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=None \
  -DDN_KERNELS_LIB="$PWD/build-fuzz/gcc-kernels/libdn_kernels.a" >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null

targets=("$@")
((${#targets[@]})) || targets=(idx image safetensors config_json noise_spec noise_levels http)
# Leaks count as bugs (LeakSanitizer). One allocation over -rss_limit_mb is reported as
# out-of-memory: a memory bomb, a bug too.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}  # fontconfig's cache
summary=()
status=0
for t in "${targets[@]}"; do
  mkdir -p "build-fuzz/corpus/$t"
  log="build-fuzz/fuzz_$t.log"
  echo "== fuzz_$t for ${seconds}s"
  start=$(date +%s.%N)
  rc=0
  # -rss_limit_mb: 2 GB; -max_len 64 KB: larger inputs only slow the search. -timeout: a
  # single input taking 10 s is reported as a hang.
  TIMEFORMAT='%U %S'
  { time "build-fuzz/fuzz_$t" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="build-fuzz/crash-$t-" \
    "build-fuzz/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?; } 2>"build-fuzz/fuzz_$t.time"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  read -r user sys < "build-fuzz/fuzz_$t.time" || true
  cpu=$(awk -v u="${user:-0}" -v s="${sys:-0}" 'BEGIN { printf "%.1f", u + s }')
  if ((rc != 0)); then
    status=1
    echo "   fuzz_$t FAILED (exit $rc); last lines of $log:"
    grep -E 'ERROR|SUMMARY|Test unit written|==[0-9]+==' "$log" | head -20 | sed 's/^/   /'
  fi
  summary+=("$(printf '%-14s %12s executions %8s s CPU  %s' "$t" "${execs:-?}" "$cpu" "$([[ $rc == 0 ]] && echo ok || echo CRASH)")")
done
echo "== fuzz summary (${seconds}s each)"
printf '%s\n' "${summary[@]}"
exit $status

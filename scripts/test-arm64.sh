#!/usr/bin/env bash
# Cross-builds the kernel and layer tests (tests/test_kernels.cpp, tests/test_layers.cpp)
# for aarch64 with Debian's cross compiler and multiarch arm64 libraries, and runs them
# under qemu-user through CTest (the toolchain file sets CMAKE_CROSSCOMPILING_EMULATOR).
# The kernel tests run every SIMD target the ARM64 build holds and qemu's CPU offers
# (with Highway 1.0.3 that was NEON only: the SVE targets are disabled in CMakeLists.txt).
#
# Installs what is missing (adds the arm64 dpkg architecture; apt-get update first).
# Idempotent: a second run reuses what is installed and built (build dir: build-arm64/).
#
# Usage: scripts/test-arm64.sh [--check-toolchain] [-- extra ctest arguments]
#   --check-toolchain  only cross-compile and run a tiny program (OpenBLAS, Highway,
#                      OpenMP, fmt, GTest) with the same toolchain, in build-arm64/toolchain-check/
# Environment: JOBS (parallel build jobs and tests; default: nproc).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

check_only=0
ctest_extra=()
while (($#)); do
  case "$1" in
    --check-toolchain) check_only=1 ;;
    --) shift; ctest_extra=("$@"); break ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

triple=aarch64-linux-gnu
build=build-arm64
toolchain=$root/cmake/$triple.cmake
jobs=${JOBS:-$(nproc)}
tests=(test_kernels test_layers)

# --- packages ---------------------------------------------------------------------------
# Host tools, then the arm64 libraries that a kernels-only build (CMake's
# DENOISE_KERNELS_ONLY: the kernel and layer libraries and their tests) asks for
# (OpenMP comes with the cross compiler; OpenBLAS and Highway through pkg-config; fmt and
# GTest through CMake package files). nlohmann-json is header-only, Architecture: all,
# so the host's package serves both.
host_packages=(g++-"$triple" cmake make pkg-config file nlohmann-json3-dev)
# libgomp1 and libstdc++6 are run-time only: the cross compiler links against its own
# copies in /usr/aarch64-linux-gnu, but the programs run with the multiarch ones.
arm64_packages=(libopenblas-dev libhwy-dev libfmt-dev libgtest-dev libgomp1 libstdc++6)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing=()
for p in "${host_packages[@]}"; do installed "$p" || missing+=("$p"); done
for p in "${arm64_packages[@]}"; do installed "$p:arm64" || missing+=("$p:arm64"); done
command -v qemu-aarch64 >/dev/null || command -v qemu-aarch64-static >/dev/null || missing+=(qemu-user)

add_arch=0
dpkg --print-foreign-architectures | grep -qx arm64 || add_arch=1
if ((add_arch || ${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  if ((add_arch)); then
    echo "== dpkg --add-architecture arm64"
    dpkg --add-architecture arm64
  fi
  echo "== installing: ${missing[*]}"
  apt-get update -qq
  # The arm64 -dev packages are Multi-Arch: same, so each must have exactly the amd64
  # package's version: apt upgrades the amd64 one alongside where they differ.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

qemu=$(command -v qemu-aarch64 || command -v qemu-aarch64-static)
# Arm64 programs run as plain `qemu-aarch64 ./prog`: the loader /lib/ld-linux-aarch64.so.1
# and every library come from the multiarch :arm64 packages. No QEMU_LD_PREFIX: with
# /usr/aarch64-linux-gnu the cross libc's ld.so would be paired with the multiarch
# libc.so.6 of another Debian revision, and such programs hang (cmake/aarch64-linux-gnu.cmake).
unset QEMU_LD_PREFIX
# pkg-config outside CMake (the toolchain file sets the same for CMake's own runs).
export PKG_CONFIG_LIBDIR=/usr/lib/$triple/pkgconfig:/usr/share/pkgconfig

echo "== toolchain: $("$triple-g++" --version | head -1); $("$qemu" --version | head -1)"

# --- toolchain check --------------------------------------------------------------------
# A tiny CMake project built with the same toolchain file and the same dependencies as
# the kernels (OpenBLAS and Highway through pkg-config, OpenMP, fmt, GTest), run under
# qemu: tells a broken cross set-up apart from a source that does not build for ARM64.
toolchain_check() {
  local dir=$build/toolchain-check
  mkdir -p "$dir/src"
  cat > "$dir/src/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.25)
project(toolchain_check LANGUAGES CXX)
set(CMAKE_CXX_STANDARD 20)
find_package(OpenMP REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(OPENBLAS REQUIRED IMPORTED_TARGET openblas)
pkg_check_modules(HWY REQUIRED IMPORTED_TARGET libhwy)
find_package(fmt REQUIRED)
find_package(GTest REQUIRED)
include(GoogleTest)
add_executable(check check.cpp)
target_link_libraries(check PRIVATE OpenMP::OpenMP_CXX PkgConfig::OPENBLAS PkgConfig::HWY fmt::fmt GTest::gtest_main)
enable_testing()
gtest_discover_tests(check)
EOF
  cat > "$dir/src/check.cpp" <<'EOF'
#include <cblas.h>
#include <fmt/core.h>
#include <gtest/gtest.h>
#include <hwy/targets.h>
#include <omp.h>

TEST(Toolchain, OpenBLAS) {
  const float a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8};
  float c[4] = {};
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 2, 2, 2, 1.f, a, 2, b, 2, 0.f, c, 2);
  EXPECT_EQ(c[0], 19.f); EXPECT_EQ(c[1], 22.f); EXPECT_EQ(c[2], 43.f); EXPECT_EQ(c[3], 50.f);
}

TEST(Toolchain, OpenMP) {
  int sum = 0;
#pragma omp parallel for reduction(+ : sum) num_threads(2)
  for (int i = 1; i <= 100; ++i) sum += i;
  EXPECT_EQ(sum, 5050);
}

TEST(Toolchain, Highway) {
  std::string names;
  for (int64_t t : hwy::SupportedAndGeneratedTargets()) names += fmt::format(" {}", hwy::TargetName(t));
  fmt::print("Highway targets on this CPU:{}; OpenMP max threads {}\n", names, omp_get_max_threads());
  EXPECT_FALSE(names.empty());
}
EOF
  cmake -S "$dir/src" -B "$dir/build" -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$dir/build" -j"$jobs"
  file -b "$dir/build/check" | cut -d, -f1-2
  "$qemu" "$dir/build/check"                        # by hand
  ctest --test-dir "$dir/build" --output-on-failure  # through CMAKE_CROSSCOMPILING_EMULATOR
}

if ((check_only)); then
  echo "== toolchain check ($build/toolchain-check/)"
  toolchain_check
  echo "== toolchain check passed"
  exit 0
fi

# --- configure and build ----------------------------------------------------------------
summary_header() {
  echo
  echo "== summary (aarch64, run under qemu-user)"
  echo "   compiler: $("$triple-g++" --version | head -1)"
  echo "   emulator: $("$qemu" --version | head -1)"
}

echo "== configuring $build/ (toolchain $(realpath --relative-to="$root" "$toolchain"))"
mkdir -p "$build"
cmake -S . -B "$build" -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DCMAKE_BUILD_TYPE=Release \
  -DDENOISE_KERNELS_ONLY=ON -DDENOISE_TESTS=ON -DDENOISE_BENCH=OFF >"$build/configure.log" 2>&1 ||
  { cat "$build/configure.log"; echo "== configure failed" >&2; exit 1; }
# What was found, read back from the cache (a re-run of cmake prints nothing of it).
cache() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }
echo "   OpenMP         $(cache OpenMP_CXX_FLAGS) $(cache OpenMP_gomp_LIBRARY)"
echo "   openblas       $(cache OPENBLAS_VERSION) (pkg-config) $(pkg-config --variable=libdir openblas)"
echo "   libhwy         $(cache HWY_VERSION) (pkg-config) $(pkg-config --variable=libdir libhwy)"
for p in fmt nlohmann_json GTest; do printf '   %-14s %s\n' "$p" "$(cache "${p}_DIR")"; done
echo "   emulator       $qemu -L / (CMAKE_CROSSCOMPILING_EMULATOR, set by the toolchain file)"
# Nothing of the amd64 libraries may leak into the arm64 build.
if grep -rqs "x86_64-linux-gnu" "$build/CMakeCache.txt" "$build"/CMakeFiles/*.dir/{flags.make,link.txt}; then
  echo "== configure picked up amd64 paths (x86_64-linux-gnu); see $build/CMakeCache.txt" >&2
  exit 1
fi

echo "== building ${tests[*]} (-j$jobs)"
# Building a test also runs it under qemu once (gtest_discover_tests lists its tests).
# -k: go on past a failing source file, so the log names every one that fails.
build_log=$build/build.log
keep_going=(-k)
grep -q "^CMAKE_GENERATOR:INTERNAL=Ninja" "$build/CMakeCache.txt" && keep_going=(-k 0)
if ! cmake --build "$build" -j"$jobs" --target "${tests[@]}" -- "${keep_going[@]}" 2>&1 | tee "$build_log"; then
  summary_header
  echo "   configure: OK (all dependencies found, see above)"
  echo "   build: FAILED; sources that did not compile:"
  grep -oE "\*\*\* \[[^]]*build\.make:[0-9]+: [^]]*\.o\]" "$build_log" |
    sed -E 's/.*: (.*)\]$/\1/; s#.*\.dir/##; s/\.o$//' | sort -u | sed 's/^/     /'
  echo "   first distinct errors:"
  grep -E "error:" "$build_log" | sort -u | head -5 | sed 's/^/     /'
  echo "== arm64 build FAILED (full log: $build_log)"
  exit 1
fi

# --- run --------------------------------------------------------------------------------
label_regex="^($(IFS='|'; echo "${tests[*]}"))\$"
echo "== running ${tests[*]} under $(basename "$qemu") (ctest -L '$label_regex')"
log=$build/ctest.log
status=0
ctest --test-dir "$build" -L "$label_regex" -j"$jobs" --timeout 1800 --output-on-failure \
  "${ctest_extra[@]}" 2>&1 | tee "$log" || status=$?

summary_header
for t in "${tests[@]}"; do
  echo "   $t: $(file -b "$build/tests/$t" | cut -d, -f1-2)"
done
grep -E "tests passed|Total Test time" "$log" | sed 's/^/   /' || true
if grep -q "The following tests FAILED" "$log"; then
  sed -n '/The following tests FAILED/,$p' "$log" | grep -E '^\s+[0-9]+ - ' | sed 's/^ */   FAILED /'
fi
if ((status)); then
  echo "== arm64 tests FAILED (full log: $log)"
else
  echo "== arm64 tests passed (log: $log)"
fi
exit "$status"

#include <cstdlib>
#include <mutex>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include "core/error.hpp"
#include "hwy/targets.h"
#include "kernels/simd/simd.hpp"

namespace dn::kernels::simd {

namespace {

struct Named {
  const char* name;
  std::int64_t target;
};

// Our names for Highway's targets, best first; the ones the build disables
// (CMakeLists.txt, HWY_DISABLED_TARGETS) never show up as available.
constexpr Named kTargets[] = {
    {"avx512", HWY_AVX3}, {"avx2", HWY_AVX2}, {"neon", HWY_NEON}, {"scalar", HWY_SCALAR}, {"emu128", HWY_EMU128}};

// The targets this build holds and this CPU runs. Read once, before any pin: use_target
// asks for it before it pins.
std::int64_t cpu_targets() {
  static const std::int64_t mask = [] {
    std::int64_t m = 0;
    for (std::int64_t t : hwy::SupportedAndGeneratedTargets()) m |= t;
    return m;
  }();
  return mask;
}

std::once_flag environment_applied;

}  // namespace

std::string target() {
  apply_environment();
  const std::int64_t chosen = hwy::SupportedAndGeneratedTargets().front();
  for (const Named& t : kTargets)
    if (t.target == chosen) return t.name;
  return hwy::TargetName(chosen);
}

std::vector<std::string> available_targets() {
  std::vector<std::string> names;
  for (const Named& t : kTargets)
    if (cpu_targets() & t.target) names.push_back(t.name);
  return names;
}

void use_target(const std::string& name) {
  const std::int64_t available = cpu_targets();
  for (const Named& t : kTargets) {
    if (name != t.name) continue;
    if (!(available & t.target))
      throw UsageError(fmt::format("SIMD target '{}' is not available on this CPU and build (available: {})", name,
                                   fmt::join(available_targets(), ", ")));
    hwy::SetSupportedTargetsForTest(t.target);
    return;
  }
  throw UsageError(fmt::format("unknown SIMD target '{}' (expected one of: avx512, avx2, neon, scalar)", name));
}

void apply_environment() {
  std::call_once(environment_applied, [] {
    const char* pinned = std::getenv("DENOISE_SIMD");
    if (pinned && *pinned) use_target(pinned);
  });
}

}  // namespace dn::kernels::simd

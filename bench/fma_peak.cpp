// The core's multiply-add rate on the SIMD target in use (DENOISE_SIMD pins it as it
// pins the kernels): independent fused multiply-add chains, enough of them to hide the
// instruction's latency, nothing loaded or stored. The layers table measures each layer
// against it, so that "close to what the hardware allows" is a number.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "fma_peak.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "fma_peak.hpp"
#include "kernels/simd/simd.hpp"

HWY_BEFORE_NAMESPACE();
namespace dn::bench::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Multiply-adds per second of one thread over `rounds` rounds of kChains vectors.
double chains_per_second(std::int64_t rounds) {
  constexpr int kChains = 10;  // > latency x throughput on every target; fits 16 registers
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  V acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = hn::Set(d, 1.0f + 1e-3f * static_cast<float>(i));
  const V scale = hn::Set(d, 0.9999999f), shift = hn::Set(d, 1e-7f);
  const auto start = std::chrono::steady_clock::now();
  for (std::int64_t r = 0; r < rounds; ++r) {
#pragma GCC unroll 10
    for (int i = 0; i < kChains; ++i) acc[i] = hn::MulAdd(acc[i], scale, shift);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  V sum = acc[0];
  for (int i = 1; i < kChains; ++i) sum = hn::Add(sum, acc[i]);
  volatile float keep = hn::GetLane(sum);  // the chains must not be optimised away
  (void)keep;
  return static_cast<double>(rounds) * kChains * static_cast<double>(hn::Lanes(d)) / seconds;
}

}  // namespace dn::bench::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace dn::bench {

HWY_EXPORT(chains_per_second);

double multiply_add_peak(int threads) {
  kernels::simd::apply_environment();
  constexpr std::int64_t kRounds = 20'000'000;  // about 0.05 s a pass on a 3 GHz core
  double best = 0;
  for (int pass = 0; pass < 3; ++pass) {  // the best pass: other work only ever slows one down
    double total = 0;
#pragma omp parallel num_threads(threads) reduction(+ : total)
    total += HWY_DYNAMIC_DISPATCH(chains_per_second)(kRounds);
    best = std::max(best, total);
  }
  return best;
}

}  // namespace dn::bench
#endif  // HWY_ONCE

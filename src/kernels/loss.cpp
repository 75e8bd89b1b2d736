// Plain loops, compiled once per SIMD target (Highway's foreach_target) so that the
// compiler vectorises them with that target's instructions.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/loss.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "kernels/loss.hpp"

#include <array>
#include <bit>
#include <cstdint>

#include "kernels/simd/simd.hpp"

HWY_BEFORE_NAMESPACE();
namespace dn::kernels::HWY_NAMESPACE {

constexpr float kClipLo = kBceEpsilon;
constexpr float kClipHi = 1.0f - kBceEpsilon;

// Natural log for positive normal floats and NaN (Cephes logf: range reduction to
// [sqrt(1/2), sqrt(2)) and a degree-9 polynomial, relative error about 1e-7).
// Unlike glibc's logf it vectorises, and the loss runs on every training step; it is
// written without branches on purpose, since GCC does not vectorise those here.
inline float fast_log(float x) {
  const auto bits = std::bit_cast<std::uint32_t>(x);
  const float e = static_cast<float>(static_cast<std::int32_t>(bits >> 23) - 126);  // x = m * 2^e
  const float m = std::bit_cast<float>((bits & 0x007fffffu) | 0x3f000000u);        // m in [0.5, 1)
  const float low = m < 0.70710678f ? 1.0f : 0.0f;  // then use 2m and e - 1
  const float f = m - 1.0f + low * m;
  const float fe = e - low;
  const float z = f * f;
  float p = 7.0376836292e-2f;
  p = p * f - 1.1514610310e-1f;
  p = p * f + 1.1676998740e-1f;
  p = p * f - 1.2420140846e-1f;
  p = p * f + 1.4249322787e-1f;
  p = p * f - 1.6668057665e-1f;
  p = p * f + 2.0000714765e-1f;
  p = p * f - 2.4999993993e-1f;
  p = p * f + 3.3333331174e-1f;
  // ln 2 split in two parts (0.693359375 + -2.12194440e-4) keeps fe * ln2 exact enough.
  const float y = p * f * z - 2.12194440e-4f * fe - 0.5f * z;
  const float result = f + y + 0.693359375f * fe;
  return x == x ? result : x;  // the bit tricks above would turn a NaN into a number
}

double run_bce_sum(const float* p, const float* t, std::size_t n) {
  // Clip in one loop and take the logs in another: fused, GCC does not vectorise
  // them (float compares may trap under its default -ftrapping-math).
  std::array<float, kLossBlock> log_arg, log1m_arg;
  for (std::size_t i = 0; i < n; ++i) {
    float c = p[i];  // compares, not std::clamp: a NaN stays NaN and shows in the loss
    c = c < kClipLo ? kClipLo : c;
    c = c > kClipHi ? kClipHi : c;
    log_arg[i] = c + kBceEpsilon;
    log1m_arg[i] = 1.0f - c + kBceEpsilon;
  }
  // The terms in float, then their sum in double: one loop of both, GCC leaves scalar
  // on AVX2 (it would mix 8-float and 4-double vectors).
  for (std::size_t i = 0; i < n; ++i)
    log_arg[i] = -(t[i] * fast_log(log_arg[i]) + (1.0f - t[i]) * fast_log(log1m_arg[i]));
  double s = 0.0;
#pragma omp simd reduction(+ : s)
  for (std::size_t i = 0; i < n; ++i) s += static_cast<double>(log_arg[i]);
  return s;
}

void run_bce_gradient(const float* p, const float* t, float* d, std::size_t n, float scale) {
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) {
    const float c = p[i];
    const bool clipped = c < kClipLo || c > kClipHi;
    const float g = -t[i] / (c + kBceEpsilon) + (1.0f - t[i]) / (1.0f - c + kBceEpsilon);
    d[i] = clipped ? 0.0f : g * scale;
  }
}

double run_squared_error_sum(const float* p, const float* t, std::size_t n) {
  double s = 0.0;
#pragma omp simd reduction(+ : s)
  for (std::size_t i = 0; i < n; ++i) {
    const double e = static_cast<double>(p[i]) - static_cast<double>(t[i]);
    s += e * e;
  }
  return s;
}

void run_scaled_difference(const float* p, const float* t, float* d, std::size_t n, float scale) {
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) d[i] = scale * (p[i] - t[i]);
}

}  // namespace dn::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace dn::kernels {

HWY_EXPORT(run_bce_sum);
HWY_EXPORT(run_bce_gradient);
HWY_EXPORT(run_squared_error_sum);
HWY_EXPORT(run_scaled_difference);

double bce_sum(const float* p, const float* t, std::size_t n) {
  simd::apply_environment();
  return HWY_DYNAMIC_DISPATCH(run_bce_sum)(p, t, n);
}

void bce_gradient(const float* p, const float* t, float* d, std::size_t n, float scale) {
  simd::apply_environment();
  HWY_DYNAMIC_DISPATCH(run_bce_gradient)(p, t, d, n, scale);
}

double squared_error_sum(const float* p, const float* t, std::size_t n) {
  simd::apply_environment();
  return HWY_DYNAMIC_DISPATCH(run_squared_error_sum)(p, t, n);
}

void scaled_difference(const float* p, const float* t, float* d, std::size_t n, float scale) {
  simd::apply_environment();
  HWY_DYNAMIC_DISPATCH(run_scaled_difference)(p, t, d, n, scale);
}

}  // namespace dn::kernels
#endif  // HWY_ONCE

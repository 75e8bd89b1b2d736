// The activations, their gradients and per-channel sums: plain loops, compiled once per
// SIMD target (Highway's foreach_target) so that the compiler vectorises them with that
// target's instructions, and dispatched at run time like the convolution kernels.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/activation.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "kernels/activation.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

#include "kernels/simd/simd.hpp"

HWY_BEFORE_NAMESPACE();
namespace dn::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;


// e^x, written without branches so that loops over it vectorise (glibc's expf does
// not, and the seed's output layer takes a sigmoid of every pixel at every step):
// Cephes' expf, x = n ln2 + r with |r| <= ln2 / 2, a degree-6 polynomial for e^r and
// 2^n from the exponent bits. Relative error below 2e-7; NaN stays NaN. Inputs are
// clamped where e^x leaves the normal floats, which a sigmoid does not notice.
inline float fast_exp(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  // std::floor would not vectorise; NaN must not reach the conversion to int below.
  const float n = std::nearbyint((x == x ? x : 0.0f) * 1.44269504088896341f);
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;  // ln 2 in two parts keeps r exact
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e = p * r * r + r + 1.0f;
  return e * std::bit_cast<float>((static_cast<std::int32_t>(n) + 127) << 23);
}

inline void softmax_row(float* y, int channels) {
  // Subtracting the row max keeps exp from overflowing; the result is unchanged.
  const float m = *std::max_element(y, y + channels);
  float sum = 0.0f;
  for (int c = 0; c < channels; ++c) {
    y[c] = fast_exp(y[c] - m);
    sum += y[c];
  }
  const float inv = 1.0f / sum;
  for (int c = 0; c < channels; ++c) y[c] *= inv;
}

// 4x4 tiles of floats between a block of rows of C floats and the channel-major
// t[c][r]: four 128-bit loads, the transpose in registers, four stores, where the
// scalar loops move one float at a time. Channels past the last whole tile of four move
// one by one (a row's tail must not be read or written as part of a tile: the next row
// starts there). Moves only: the values are the block's, bit for bit.
constexpr std::size_t kSoftmaxRows = 16;
constexpr int kSoftmaxMaxChannels = 32;
using SoftmaxBlock = float[kSoftmaxMaxChannels][kSoftmaxRows];

#if HWY_TARGET != HWY_SCALAR
using D4 = hn::Full128<float>;
using V4 = hn::Vec<D4>;

// (a, b, c, d) rows of a 4x4 tile -> its columns, in place.
HWY_INLINE void transpose4(V4& a, V4& b, V4& c, V4& d) {
  const D4 d4;
  const V4 ab_lo = hn::InterleaveLower(d4, a, b), ab_hi = hn::InterleaveUpper(d4, a, b);  // a0 b0 a1 b1, a2 b2 a3 b3
  const V4 cd_lo = hn::InterleaveLower(d4, c, d), cd_hi = hn::InterleaveUpper(d4, c, d);
  a = hn::ConcatLowerLower(d4, cd_lo, ab_lo);  // a0 b0 c0 d0
  b = hn::ConcatUpperUpper(d4, cd_lo, ab_lo);
  c = hn::ConcatLowerLower(d4, cd_hi, ab_hi);
  d = hn::ConcatUpperUpper(d4, cd_hi, ab_hi);
}
#endif

// t[c][r] = block[r * C + c] for kSoftmaxRows rows.
inline void rows_to_channels(const float* block, std::size_t C, SoftmaxBlock& t) {
  std::size_t c0 = 0;
#if HWY_TARGET != HWY_SCALAR
  const D4 d4;
  for (; c0 + 4 <= C; c0 += 4)
    for (std::size_t r = 0; r < kSoftmaxRows; r += 4) {
      V4 a = hn::LoadU(d4, block + r * C + c0), b = hn::LoadU(d4, block + (r + 1) * C + c0);
      V4 c = hn::LoadU(d4, block + (r + 2) * C + c0), d = hn::LoadU(d4, block + (r + 3) * C + c0);
      transpose4(a, b, c, d);
      hn::Store(a, d4, &t[c0][r]), hn::Store(b, d4, &t[c0 + 1][r]);
      hn::Store(c, d4, &t[c0 + 2][r]), hn::Store(d, d4, &t[c0 + 3][r]);
    }
#endif
  for (std::size_t c = c0; c < C; ++c)
    for (std::size_t r = 0; r < kSoftmaxRows; ++r) t[c][r] = block[r * C + c];
}

// block[r * C + c] = t[c][r] for kSoftmaxRows rows.
inline void channels_to_rows(const SoftmaxBlock& t, std::size_t C, float* block) {
  std::size_t c0 = 0;
#if HWY_TARGET != HWY_SCALAR
  const D4 d4;
  for (; c0 + 4 <= C; c0 += 4)
    for (std::size_t r = 0; r < kSoftmaxRows; r += 4) {
      V4 a = hn::Load(d4, &t[c0][r]), b = hn::Load(d4, &t[c0 + 1][r]);
      V4 c = hn::Load(d4, &t[c0 + 2][r]), d = hn::Load(d4, &t[c0 + 3][r]);
      transpose4(a, b, c, d);
      hn::StoreU(a, d4, block + r * C + c0), hn::StoreU(b, d4, block + (r + 1) * C + c0);
      hn::StoreU(c, d4, block + (r + 2) * C + c0), hn::StoreU(d, d4, block + (r + 3) * C + c0);
    }
#endif
  for (std::size_t c = c0; c < C; ++c)
    for (std::size_t r = 0; r < kSoftmaxRows; ++r) block[r * C + c] = t[c][r];
}

// Per row (lane r): the maximum of t[0..C)[r] by max_element's rule (a later value wins
// only if greater), and the sum from 0 in channel order. Running values stay in
// registers; a loop over t's rows that kept them in an array carried them through
// memory from one channel to the next.
using DRows = hn::CappedTag<float, kSoftmaxRows>;

inline void max_over_channels(const SoftmaxBlock& t, std::size_t C, float* m) {
  const DRows d;
  for (std::size_t r = 0; r < kSoftmaxRows; r += hn::Lanes(d)) {
    auto best = hn::Load(d, &t[0][r]);
    for (std::size_t c = 1; c < C; ++c) {
      const auto v = hn::Load(d, &t[c][r]);
      best = hn::IfThenElse(hn::Lt(best, v), v, best);
    }
    hn::Store(best, d, m + r);
  }
}

inline void sum_over_channels(const SoftmaxBlock& t, std::size_t C, float* sum) {
  const DRows d;
  for (std::size_t r = 0; r < kSoftmaxRows; r += hn::Lanes(d)) {
    auto s = hn::Zero(d);
    for (std::size_t c = 0; c < C; ++c) s = hn::Add(s, hn::Load(d, &t[c][r]));
    hn::Store(s, d, sum + r);
  }
}

// softmax_row over many rows of few channels (the seed model's hidden layers: 12 and
// 14 channels), where a loop over one row's channels neither vectorises nor amortises
// a call of std::exp per value, which cost the softmax sweep runs twice the time of
// the relu ones: blocks of kSoftmaxRows rows are turned channel-major and every step
// runs across rows in vector lanes, with fast_exp. Each row still takes its max, its
// sum and its scale in channel order, so the bits depend on the row alone.
void softmax_rows(float* y, std::size_t rows, int channels) {
  if (channels > kSoftmaxMaxChannels) {
    for (std::size_t r = 0; r < rows; ++r) softmax_row(y + r * channels, channels);
    return;
  }
  const std::size_t C = static_cast<std::size_t>(channels);
  float tail[kSoftmaxRows * kSoftmaxMaxChannels] = {};  // the last, partial block, padded with zeros
  for (std::size_t r0 = 0; r0 < rows; r0 += kSoftmaxRows) {
    const std::size_t n = std::min(kSoftmaxRows, rows - r0);
    float* block = y + r0 * C;
    if (n < kSoftmaxRows) block = std::copy(block, block + n * C, tail) - n * C;
    HWY_ALIGN SoftmaxBlock t;
    HWY_ALIGN float m[kSoftmaxRows], sum[kSoftmaxRows];
    rows_to_channels(block, C, t);
    max_over_channels(t, C, m);
    for (std::size_t c = 0; c < C; ++c)
      for (std::size_t r = 0; r < kSoftmaxRows; ++r) t[c][r] = fast_exp(t[c][r] - m[r]);
    sum_over_channels(t, C, sum);
    for (std::size_t r = 0; r < kSoftmaxRows; ++r) sum[r] = 1.0f / sum[r];
    for (std::size_t c = 0; c < C; ++c)
      for (std::size_t r = 0; r < kSoftmaxRows; ++r) t[c][r] *= sum[r];
    channels_to_rows(t, C, block);
    if (block == tail) std::copy(tail, tail + n * C, y + r0 * C);
  }
}

void forward_rows(Activation act, float* y, std::size_t rows, int channels) {
  const std::size_t n = rows * static_cast<std::size_t>(channels);
  switch (act) {
    case Activation::linear:
      return;
    case Activation::relu:
      // Written so that NaN stays NaN: a diverging run must not be hidden.
      for (std::size_t i = 0; i < n; ++i) y[i] = y[i] < 0.0f ? 0.0f : y[i];
      return;
    case Activation::sigmoid:
      for (std::size_t i = 0; i < n; ++i) y[i] = 1.0f / (1.0f + fast_exp(-y[i]));
      return;
    case Activation::tanh:
      for (std::size_t i = 0; i < n; ++i) y[i] = std::tanh(y[i]);
      return;
    case Activation::softmax:
      return softmax_rows(y, rows, channels);
  }
}

void backward_rows(Activation act, const float* y, const float* dy, float* dz, std::size_t rows, int channels) {
  const std::size_t n = rows * static_cast<std::size_t>(channels);
  switch (act) {
    case Activation::linear:
      if (dz != dy) std::copy(dy, dy + n, dz);
      return;
    case Activation::relu:
      for (std::size_t i = 0; i < n; ++i) dz[i] = y[i] > 0.0f ? dy[i] : 0.0f;
      return;
    case Activation::sigmoid:
      for (std::size_t i = 0; i < n; ++i) dz[i] = dy[i] * y[i] * (1.0f - y[i]);
      return;
    case Activation::tanh:
      for (std::size_t i = 0; i < n; ++i) dz[i] = dy[i] * (1.0f - y[i] * y[i]);
      return;
    case Activation::softmax:
      // dz_c = y_c * (dy_c - sum_j dy_j y_j)
      for (std::size_t r = 0; r < rows; ++r) {
        const std::size_t o = r * channels;
        float dot = 0.0f;
        for (int c = 0; c < channels; ++c) dot += dy[o + c] * y[o + c];
        for (int c = 0; c < channels; ++c) dz[o + c] = y[o + c] * (dy[o + c] - dot);
      }
      return;
  }
}

void channel_sums(const float* x, std::size_t rows, int channels, float* sums) {
  // Float partial sums over blocks of rows, added into double totals block by block so
  // that long sums stay accurate. With few channels, 16 rows at a time are added as one
  // flat run into 16 partials per channel: a plain vector add, which a loop over one
  // row's few channels would not be.
  constexpr std::size_t kBlockRows = 1024;
  constexpr int kMaxFlat = 64;       // channels summed in flat runs of 16 rows
  constexpr std::size_t kRun = 16;
  const std::size_t C = static_cast<std::size_t>(channels);
  if (channels <= kMaxFlat) {
    double total[kMaxFlat] = {};
    for (std::size_t r0 = 0; r0 < rows; r0 += kBlockRows) {
      const std::size_t r1 = std::min(rows, r0 + kBlockRows);
      float run[kRun * kMaxFlat] = {};
      std::size_t r = r0;
      for (; r + kRun <= r1; r += kRun) {
        const float* in = x + r * C;
        for (std::size_t i = 0; i < kRun * C; ++i) run[i] += in[i];
      }
      for (; r < r1; ++r)
        for (std::size_t c = 0; c < C; ++c) run[c] += x[r * C + c];
      for (std::size_t k = 0; k < kRun; ++k)
        for (std::size_t c = 0; c < C; ++c) total[c] += run[k * C + c];
    }
    for (std::size_t c = 0; c < C; ++c) sums[c] += static_cast<float>(total[c]);
    return;
  }
  // Many channels: each row is long enough to vectorise on its own.
  for (std::size_t c0 = 0; c0 < C; c0 += kMaxFlat) {
    const std::size_t cn = std::min<std::size_t>(kMaxFlat, C - c0);
    double acc[kMaxFlat] = {};
    for (std::size_t r = 0; r < rows; ++r) {
      const float* row = x + r * C + c0;
      for (std::size_t c = 0; c < cn; ++c) acc[c] += row[c];
    }
    for (std::size_t c = 0; c < cn; ++c) sums[c0 + c] += static_cast<float>(acc[c]);
  }
}

}  // namespace dn::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace dn::kernels {

HWY_EXPORT(forward_rows);
HWY_EXPORT(backward_rows);
HWY_EXPORT(channel_sums);

namespace {

// Elementwise work on a whole batch runs on all threads from this many floats on;
// blocks of rows are independent, so the result does not depend on the thread count.
constexpr std::size_t kParallelMinFloats = 1 << 16;

// fn(first row, row count) over the rows, in blocks on all threads when there are many.
template <class Fn>
void over_rows(std::size_t rows, int channels, Fn&& fn) {
  const std::size_t n = rows * static_cast<std::size_t>(channels);
  if (n < kParallelMinFloats) return fn(0, rows);
  const std::size_t block = std::max<std::size_t>(1, kParallelMinFloats / 8 / channels);
  const std::size_t blocks = (rows + block - 1) / block;
#pragma omp parallel for schedule(static)
  for (std::size_t b = 0; b < blocks; ++b) fn(b * block, std::min(block, rows - b * block));
}

}  // namespace

void activation_forward(Activation act, float* y, std::size_t rows, int channels) {
  simd::apply_environment();
  if (act == Activation::linear) return;
  over_rows(rows, channels,
            [&](std::size_t first, std::size_t count) { HWY_DYNAMIC_DISPATCH(forward_rows)(act, y + first * channels, count, channels); });
}

void activation_backward(Activation act, const float* y, const float* dy, float* dz, std::size_t rows,
                         int channels) {
  simd::apply_environment();
  over_rows(rows, channels, [&](std::size_t first, std::size_t count) {
    const std::size_t o = first * channels;
    HWY_DYNAMIC_DISPATCH(backward_rows)(act, y + o, dy + o, dz + o, count, channels);
  });
}

void bias_activation(float* y, std::size_t rows, int channels, const float* bias, Activation act) {
  if (bias) {
    for (std::size_t r = 0; r < rows; ++r) {
      float* row = y + r * channels;
      for (int c = 0; c < channels; ++c) row[c] += bias[c];
    }
  }
  activation_forward(act, y, rows, channels);
}

void add_channel_sums(const float* x, std::size_t rows, int channels, float* sums) {
  simd::apply_environment();
  HWY_DYNAMIC_DISPATCH(channel_sums)(x, rows, channels, sums);
}

}  // namespace dn::kernels
#endif  // HWY_ONCE

// Max pooling, a group of 16 channels at a time, compiled once per SIMD
// target (Highway's foreach_target). x (N,H,W,C) -> y (N,OH,OW,C), where (N,OH,OW,C)
// the winning tap of each output as kh * KW + kw; pads top/left per TensorFlow "same".
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/simd/pool.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <type_traits>

#include "hwy/highway.h"
#include "kernels/simd/group-inl.h"
#include "kernels/simd/common-inl.h"
#include "kernels/simd/unpool-inl.h"

#include "kernels/simd/simd.hpp"

HWY_BEFORE_NAMESPACE();
namespace dn::kernels::simd::HWY_NAMESPACE {

// Whole groups for pixels whose group ends before `end`, the first n floats otherwise.
struct Pixels {
  const float* end;
  int n;
  V load(const float* a) const { return a + kLanes <= end ? LoadU(a) : LoadFirst(n, a); }
};

void maxpool_pairs_forward(const ConvGeometry& g, const float* x, float* y, std::uint16_t* where) {
  const int C = g.C;
  const Index row = Index(g.W) * C, in_sample = Index(g.H) * row, out_sample = Index(g.OH) * g.OW * C;
  const V t1 = Set(1.0f), t2 = Set(2.0f), t3 = Set(3.0f);
  // One group per pixel (at most 16 channels) or whole groups, told apart at compile time
  // as in unpool_pairs_sample.
  auto pool = [&](auto one_group) {
    constexpr bool kOneGroup = decltype(one_group)::value;
    const int n_group = kOneGroup ? C : kLanes;  // floats of each group that are the pixel's
    const Pixels in{x + g.N * in_sample, n_group};
#pragma omp parallel for schedule(static) if (g.output_size() >= kParallelMinOutputs)
    for (int n = 0; n < g.N; ++n) {
      // Stores run in increasing order, so a whole group's lanes past the pixel land on the
      // next pixel, stored after it; the sample's last pixel is stored masked, so that
      // threads on neighbouring samples never write the same floats.
      const Index sample_end = (n + 1) * out_sample;
      for (Index oh = 0, o = n * out_sample; oh < Index(g.OH); ++oh) {
        const float* top = x + n * in_sample + 2 * oh * row;
        const float* bottom = top + row;
        for (int ow = 0; ow < g.OW; ++ow, o += C, top += 2 * C, bottom += 2 * C)
          for (int c0 = 0; c0 < (kOneGroup ? 1 : C); c0 += kLanes) {
            // Scan order (kh, then kw); a strictly greater tap takes over, as in the general loop.
            const V a = in.load(top + c0), b = in.load(top + C + c0);
            const V c = in.load(bottom + c0), d = in.load(bottom + C + c0);
            V best = a;
            V tap = Zero();
            if (where) tap = SelectGreater(b, best, t1, tap);
            best = KeepGreater(b, best);
            if (where) tap = SelectGreater(c, best, t2, tap);
            best = KeepGreater(c, best);
            if (where) tap = SelectGreater(d, best, t3, tap);
            best = KeepGreater(d, best);
            const bool whole = o + c0 + kLanes <= sample_end;
            if (whole)
              StoreU(best, y + o + c0);
            else
              StoreFirst(n_group, best, y + o + c0);
            if (where) StoreTaps(tap, where + o + c0, n_group, whole);
          }
      }
    }
  };
  if (C <= kLanes)
    pool(std::true_type{});
  else
    pool(std::false_type{});
}

void maxpool_pairs_backward(const ConvGeometry& g, const std::uint16_t* where, const float* dy, const float* relu_y,
                            float* dx) {
  const Index in_sample = Index(g.H) * g.W * g.C;
#pragma omp parallel for schedule(static) if (g.output_size() >= kParallelMinOutputs)
  for (int n = 0; n < g.N; ++n) unpool_pairs_sample(g, n, where, dy, relu_y, dx + n * in_sample);
}

// Taps travel as floats beside the values (exact: a window has at most 65536 taps).
// Each pixel's channels go in groups of 16, the last one perhaps partial. A group is
// stored whole where its end lies inside the sample's output: lanes past the pixel land
// on its next group or the next pixel, which are stored after it.
void run_maxpool_forward(const ConvGeometry& g, const float* x, float* y, std::uint16_t* where) {
  if (tiled_pairs(g)) return maxpool_pairs_forward(g, x, y, where);
  const Index in_sample = Index(g.H) * g.W * g.C, out_sample = Index(g.OH) * g.OW * g.C;
#pragma omp parallel for schedule(static) if (g.output_size() >= kParallelMinOutputs)
  for (int n = 0; n < g.N; ++n) {
    const float* xn = x + n * in_sample;
    const Index sample_end = (n + 1) * out_sample;
    for (Index o = n * out_sample, oh = 0; oh < Index(g.OH); ++oh) {
      const int ih0 = static_cast<int>(oh) * g.stride_h - g.pad_top;
      const int kh0 = std::max(0, -ih0), kh1 = std::min(g.KH, g.H - ih0);
      for (int ow = 0; ow < g.OW; ++ow, o += g.C) {
        const int iw0 = ow * g.stride_w - g.pad_left;
        const int kw0 = std::max(0, -iw0), kw1 = std::min(g.KW, g.W - iw0);
        for (int c0 = 0; c0 < g.C; c0 += kLanes) {
          const int m = std::min(kLanes, g.C - c0);
          const bool whole = o + c0 + kLanes <= sample_end;
          // TensorFlow pads less than a window, so every window holds a pixel. A strictly
          // greater tap takes over, so the first maximum wins, on ties and NaN alike.
          auto pixel = [&](int kh, int kw) { return xn + (Index(ih0 + kh) * g.W + iw0 + kw) * g.C + c0; };
          V best = LoadFirst(m, pixel(kh0, kw0));
          V tap = Set(static_cast<float>(kh0 * g.KW + kw0));
          for (int kh = kh0; kh < kh1; ++kh)
            for (int kw = kw0; kw < kw1; ++kw) {
              const V v = LoadFirst(m, pixel(kh, kw));
              if (where) tap = SelectGreater(v, best, Set(static_cast<float>(kh * g.KW + kw)), tap);
              best = KeepGreater(v, best);
            }
          if (whole)
            StoreU(best, y + o + c0);
          else
            StoreFirst(m, best, y + o + c0);
          if (where) StoreTaps(tap, where + o + c0, m, whole);
        }
      }
    }
  }
}

void run_maxpool_backward(const ConvGeometry& g, const std::uint16_t* where, const float* dy, const float* relu_y,
                          float* dx) {
  if (tiled_pairs(g)) return maxpool_pairs_backward(g, where, dy, relu_y, dx);
  const Index in_sample = Index(g.H) * g.W * g.C, out_sample = Index(g.OH) * g.OW * g.C;
  // Windows that do not overlap write their pixels' gradients outright (zero where not
  // the maximum), and only pixels outside every window need zeroing first; overlapping
  // windows add into zeros.
  const bool disjoint = g.stride_h >= g.KH && g.stride_w >= g.KW;
  const bool covered = g.pad_top == 0 && g.pad_left == 0 && g.stride_h == g.KH && g.stride_w == g.KW &&
                       g.OH * g.KH == g.H && g.OW * g.KW == g.W;
  // Parallel over samples: overlapping windows then never race.
#pragma omp parallel for schedule(static) if (g.output_size() >= kParallelMinOutputs)
  for (int n = 0; n < g.N; ++n) {
    float* dxn = dx + n * in_sample;
    const Index sample_end = (n + 1) * out_sample;
    if (!covered) std::memset(dxn, 0, in_sample * sizeof(float));
    for (Index o = n * out_sample, oh = 0; oh < Index(g.OH); ++oh) {
      const int ih0 = static_cast<int>(oh) * g.stride_h - g.pad_top;
      const int kh0 = std::max(0, -ih0), kh1 = std::min(g.KH, g.H - ih0);
      for (int ow = 0; ow < g.OW; ++ow, o += g.C) {
        const int iw0 = ow * g.stride_w - g.pad_left;
        const int kw0 = std::max(0, -iw0), kw1 = std::min(g.KW, g.W - iw0);
        // Taps outside, groups inside, so that memory is written in increasing order: a
        // group inside its pixel is stored whole; so is a pixel's last group where windows
        // tile the image, but in the last window of a row: what it writes past the pixel
        // lands on the window's next pixels or the next window's, which are stored after it.
        const bool tiled = covered && ow + 1 < g.OW && g.C * (g.KW + 1) >= kLanes;
        for (int kh = kh0; kh < kh1; ++kh)
          for (int kw = kw0; kw < kw1; ++kw) {
            const V t = Set(static_cast<float>(kh * g.KW + kw));
            float* pixel = dxn + (Index(ih0 + kh) * g.W + iw0 + kw) * g.C;
            for (int c0 = 0; c0 < g.C; c0 += kLanes) {
              const int m = std::min(kLanes, g.C - c0);
              const V grad = gated(relu_y, o + c0, false, m, LoadFirst(m, dy + o + c0));
              const V won = LoadTaps(where + o + c0, m, o + c0 + kLanes <= sample_end);
              float* out = pixel + c0;
              const V before = disjoint ? Zero() : LoadFirst(m, out);
              const V v = AddWhereEqual(won, t, before, grad);
              if (c0 + kLanes <= g.C || tiled)
                StoreU(v, out);
              else
                StoreFirst(m, v, out);
            }
          }
      }
    }
  }
}

}  // namespace dn::kernels::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace dn::kernels::simd {

HWY_EXPORT(run_maxpool_forward);
HWY_EXPORT(run_maxpool_backward);

bool pool_fits(const ConvGeometry& g) { return g.KH * g.KW <= 65536; }

void maxpool_forward(const ConvGeometry& g, const float* x, float* y, std::uint16_t* where) {
  apply_environment();
  HWY_DYNAMIC_DISPATCH(run_maxpool_forward)(g, x, y, where);
}

void maxpool_backward(const ConvGeometry& g, const std::uint16_t* where, const float* dy, const float* relu_y,
                      float* dx) {
  apply_environment();
  HWY_DYNAMIC_DISPATCH(run_maxpool_backward)(g, where, dy, relu_y, dx);
}

}  // namespace dn::kernels::simd
#endif  // HWY_ONCE

#include "kernels/pool.hpp"

#include <algorithm>
#include <cstring>

#include "kernels/simd/simd.hpp"

namespace dn {

ConvGeometry pool_geometry(int N, int H, int W, int C, int pool_h, int pool_w, int stride_h, int stride_w,
                           Padding padding) {
  return conv_geometry(N, H, W, C, C, pool_h, pool_w, stride_h, stride_w, padding);
}

namespace kernels {

void maxpool_forward(const ConvGeometry& g, const float* x, float* y, std::uint16_t* where) {
  if (simd::pool_fits(g))
    simd::maxpool_forward(g, x, y, where);
  else
    portable::maxpool_forward(g, x, y, where);
}

void maxpool_backward(const ConvGeometry& g, const std::uint16_t* where, const float* dy, const float* relu_y,
                      float* dx) {
  if (simd::pool_fits(g))
    simd::maxpool_backward(g, where, dy, relu_y, dx);
  else
    portable::maxpool_backward(g, where, dy, relu_y, dx);
}

namespace portable {

// Below this many outputs a parallel region costs more than the loop.
constexpr std::size_t kParallelMinOutputs = 16384;

void maxpool_forward(const ConvGeometry& g, const float* x, float* y, std::uint16_t* where) {
  const std::size_t C = static_cast<std::size_t>(g.C);
#pragma omp parallel for collapse(2) schedule(static) if (g.output_size() >= kParallelMinOutputs)
  for (int n = 0; n < g.N; ++n) {
    for (int oh = 0; oh < g.OH; ++oh) {
      const int ih0 = oh * g.stride_h - g.pad_top;
      const int kh0 = std::max(0, -ih0), kh1 = std::min(g.KH, g.H - ih0);
      for (int ow = 0; ow < g.OW; ++ow) {
        const int iw0 = ow * g.stride_w - g.pad_left;
        const int kw0 = std::max(0, -iw0), kw1 = std::min(g.KW, g.W - iw0);
        const std::size_t o = ((static_cast<std::size_t>(n) * g.OH + oh) * g.OW + ow) * C;
        // Every window holds at least one real pixel: TF pads less than a window.
        auto tap = [&](int kh, int kw) {
          return x + ((static_cast<std::size_t>(n) * g.H + ih0 + kh) * g.W + iw0 + kw) * C;
        };
        std::memcpy(y + o, tap(kh0, kw0), C * sizeof(float));
        if (where) std::fill(where + o, where + o + C, static_cast<std::uint16_t>(kh0 * g.KW + kw0));
        // Strictly greater takes over, so the first maximum wins. Select instead of
        // branch: the winning tap is data-dependent.
        for (int kh = kh0; kh < kh1; ++kh) {
          for (int kw = kw0; kw < kw1; ++kw) {
            const float* in = tap(kh, kw);
            const auto t = static_cast<std::uint16_t>(kh * g.KW + kw);
            for (std::size_t c = 0; c < C; ++c) {
              const bool greater = in[c] > y[o + c];
              y[o + c] = greater ? in[c] : y[o + c];
              if (where) where[o + c] = greater ? t : where[o + c];
            }
          }
        }
      }
    }
  }
}

void maxpool_backward(const ConvGeometry& g, const std::uint16_t* where, const float* dy, const float* relu_y,
                      float* dx) {
  const std::size_t C = static_cast<std::size_t>(g.C);
  const std::size_t sample = static_cast<std::size_t>(g.H) * g.W * C;
  // Parallel over samples: overlapping windows (stride < pool) then never race.
#pragma omp parallel for schedule(static) if (g.output_size() >= kParallelMinOutputs)
  for (int n = 0; n < g.N; ++n) {
    float* dxn = dx + n * sample;
    std::fill(dxn, dxn + sample, 0.0f);
    for (int oh = 0; oh < g.OH; ++oh) {
      const int ih0 = oh * g.stride_h - g.pad_top;
      for (int ow = 0; ow < g.OW; ++ow) {
        const int iw0 = ow * g.stride_w - g.pad_left;
        const std::size_t o = ((static_cast<std::size_t>(n) * g.OH + oh) * g.OW + ow) * C;
        for (std::size_t c = 0; c < C; ++c) {
          const int kh = where[o + c] / g.KW, kw = where[o + c] % g.KW;
          const float grad = !relu_y || relu_y[o + c] > 0.0f ? dy[o + c] : 0.0f;
          dxn[((ih0 + kh) * g.W + iw0 + kw) * C + c] += grad;
        }
      }
    }
  }
}

}  // namespace portable
}  // namespace kernels
}  // namespace dn

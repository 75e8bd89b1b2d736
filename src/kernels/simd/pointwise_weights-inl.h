// Backward-weights of a pointwise convolution (a Dense layer: N samples of one pixel, or
// 1x1 convolutions over images): dw = x^T dy, a product whose sums run over the batch's
// rows. Each tile of up to 24 inputs c by 16 outputs o keeps its sums in registers and
// adds the rows in order 0, 1, ..., so the result depends on neither the thread count
// nor how the tiles are shared out, and on no library's choice of GEMM kernel for the
// CPU (OpenBLAS picks one per CPU model, whose sums round differently).
//
// x (rows, C), dy (rows, O), dw (C, O) and dbias (O) accumulated into; rows = N*OH*OW.

// Target-independent part.
#ifndef DN_KERNELS_SIMD_POINTWISE_WEIGHTS_H_
#define DN_KERNELS_SIMD_POINTWISE_WEIGHTS_H_
#include "kernels/simd/common-inl.h"

namespace dn::kernels::simd {

inline bool pointwise_weights_fits(const ConvGeometry& g) { return pointwise(g); }

}  // namespace dn::kernels::simd
#endif  // DN_KERNELS_SIMD_POINTWISE_WEIGHTS_H_

// Per-target part.
#if defined(DN_KERNELS_SIMD_POINTWISE_WEIGHTS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DN_KERNELS_SIMD_POINTWISE_WEIGHTS_INL_H_
#undef DN_KERNELS_SIMD_POINTWISE_WEIGHTS_INL_H_
#else
#define DN_KERNELS_SIMD_POINTWISE_WEIGHTS_INL_H_
#endif

HWY_BEFORE_NAMESPACE();
namespace dn::kernels::simd::HWY_NAMESPACE {

constexpr int kMaxPointwiseInputs = cap(24, 1);  // inputs c per tile: one accumulator group each

// One column of tiles: inputs [c0, c0 + P) against every group of 16 outputs. Both
// operands are first copied so that a tile reads them in order: the batch's dy once per
// call, as groups of 16 outputs one row after another (zeros past O), and the tile
// column's inputs once per column, P floats a row.
struct PointwiseTiles {
  const float* x;     // at row 0, input c0
  const float* dyp;   // packed dy: groups of 16 outputs, each rows x 16
  float* xp;          // this thread's scratch: rows x P floats
  float* dw;          // at row c0
  Index rows;
  int C, O;
};

template <int P>
struct PointwiseWeightKernel {
  static void run(const PointwiseTiles& t) {
    for (Index r = 0; r < t.rows; ++r)
      for (int i = 0; i < P; ++i) t.xp[r * P + i] = t.x[r * t.C + i];
    const float* dyp = t.dyp;
    for (int o0 = 0; o0 < t.O; o0 += kLanes, dyp += t.rows * kLanes) {
      V acc[P];
#pragma GCC unroll 32
      for (int i = 0; i < P; ++i) acc[i] = Zero();
      const float* xr = t.xp;
      for (Index r = 0; r < t.rows; ++r, xr += P) {
        const V d = Load(dyp + r * kLanes);
        const float* xo = opaque(xr);
#pragma GCC unroll 32
        for (int i = 0; i < P; ++i) acc[i] = MulAdd(xo[i], d, acc[i]);
      }
      const int n = std::min(kLanes, t.O - o0);  // the last group may be partial
      for (int i = 0; i < P; ++i) {
        float* w = t.dw + Index(i) * t.O + o0;
        if (n == kLanes)
          StoreU(Add(LoadU(w), acc[i]), w);
        else
          StoreFirst(n, Add(LoadFirst(n, w), acc[i]), w);
      }
    }
  }
};

inline Index pointwise_packed_dy_size(const ConvGeometry& g) { return g.rows() * round_up(g.O); }
inline Index pointwise_packed_x_size(const ConvGeometry& g) { return g.rows() * kMaxPointwiseInputs; }

// dw += x^T dy over all rows; dbias += dy's column sums (rows in order), if not null.
// dyp: pointwise_packed_dy_size(g) floats; xp: each thread's pointwise_packed_x_size(g).
inline void pointwise_backward_weights(const ConvGeometry& g, const float* x, const float* dy, float* dw,
                                       float* dbias, float* dyp, const Scratch& xp) {
  const Index rows = g.rows();
  for (int o0 = 0; o0 < g.O; o0 += kLanes) {
    const int n = std::min(kLanes, g.O - o0);
    float* group = dyp + Index(o0) * rows;
    V sum = Zero();
    for (Index r = 0; r < rows; ++r) {
      const float* d = dy + r * g.O + o0;
      const V v = n == kLanes ? LoadU(d) : LoadFirst(n, d);
      Store(v, group + r * kLanes);
      sum = Add(sum, v);
    }
    if (dbias) StoreFirst(n, Add(LoadFirst(n, dbias + o0), sum), dbias + o0);
  }
  const int tiles = (g.C + kMaxPointwiseInputs - 1) / kMaxPointwiseInputs;
#pragma omp parallel for schedule(static) if (tiles > 1)
  for (int k = 0; k < tiles; ++k) {
    const int c0 = k * kMaxPointwiseInputs, size = std::min(kMaxPointwiseInputs, g.C - c0);
    const PointwiseTiles t{x + c0, dyp, xp.mine(), dw + Index(c0) * g.O, rows, g.C, g.O};
    dispatch<PointwiseWeightKernel, kMaxPointwiseInputs>(size, t);
  }
}

}  // namespace dn::kernels::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // DN_KERNELS_SIMD_POINTWISE_WEIGHTS_INL_H_

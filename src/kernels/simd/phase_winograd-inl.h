// Conv2DTranspose's forward for a 3x3 kernel at stride 2 (the backward-data of a
// stride-2 convolution) by Winograd F(2, 2) per phase. With stride 2 and no padding
// before, dx row 2a is dy[a-1] w[2] + dy[a] w[0] and row 2a+1 is dy[a] w[1] (the same
// along columns): each row phase is a small correlation of dy. A tile of dy positions
// a, a+1 by b, b+1 makes 4x4 dx pixels. F(2, 2) gives an even pair from 3 products,
// (d0 - d1) w2, d1 (w0 + w2) and (d2 - d1) w0, where the direct sum takes 4; with the
// odd pair's 2 that is 5 per axis, 25 per tile where the direct kernel takes 36.
// Products are groups over c summed over o, as in backward-data's vector kernel.
//
// dy (N,OH,OW,O), w (3,3,C,O), dx (N,H,W,C); 4 <= C <= 16, 4 <= O <= 16.

// Target-independent part.
#ifndef DN_KERNELS_SIMD_PHASE_WINOGRAD_H_
#define DN_KERNELS_SIMD_PHASE_WINOGRAD_H_
#include "kernels/simd/common-inl.h"

namespace dn::kernels::simd {

constexpr int kPhaseValues = 16;       // distinct transformed dy groups per tile: 4 per axis
constexpr int kPhaseWeightSets = 16;   // distinct weight combinations: 4 per axis
constexpr int kPhaseProducts = 25;     // 5 per axis: E0, E1, E2 (even pair), O0, O1 (odd pair)
constexpr int kPhaseMinChannels = 4;   // fewer: the transforms outweigh the savings

// Per axis position: which transformed dy value (d0 - d1, d1, d2 - d1, d2) and which
// weight combination (w2, w0 + w2, w0, w1) it multiplies.
constexpr int kPhaseValue[5] = {0, 1, 2, 1, 3};
constexpr int kPhaseWeight[5] = {0, 1, 2, 3, 3};

inline bool phase_winograd_fits(const ConvGeometry& g) {
  return g.KH == 3 && g.KW == 3 && g.stride_h == 2 && g.stride_w == 2 && g.pad_top == 0 && g.pad_left == 0 &&
         g.C >= kPhaseMinChannels && g.O >= kPhaseMinChannels && g.C <= kLanes && g.O <= kLanes;
}

}  // namespace dn::kernels::simd
#endif  // DN_KERNELS_SIMD_PHASE_WINOGRAD_H_

// Per-target part.
#if defined(DN_KERNELS_SIMD_PHASE_WINOGRAD_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DN_KERNELS_SIMD_PHASE_WINOGRAD_INL_H_
#undef DN_KERNELS_SIMD_PHASE_WINOGRAD_INL_H_
#else
#define DN_KERNELS_SIMD_PHASE_WINOGRAD_INL_H_
#endif

HWY_BEFORE_NAMESPACE();
namespace dn::kernels::simd::HWY_NAMESPACE {

// U[(wr * 4 + wc) * O + o] = groups over c of the weight combinations, wr and wc
// indexing (w2, w0 + w2, w0, w1) along kernel rows and columns.
inline void phase_weights(const ConvGeometry& g, const float* w, float* U) {
  static constexpr int kTaps[4][2] = {{2, -1}, {0, 2}, {0, -1}, {1, -1}};  // kernel indices summed, -1: none
  std::memset(U, 0, Index(kPhaseWeightSets) * g.O * kLanes * sizeof(float));
  for (int wr = 0; wr < 4; ++wr)
    for (int wc = 0; wc < 4; ++wc)
      for (int kh : kTaps[wr])
        for (int kw : kTaps[wc]) {
          if (kh < 0 || kw < 0) continue;
          for (int o = 0; o < g.O; ++o)
            for (int c = 0; c < g.C; ++c)
              U[((Index(wr) * 4 + wc) * g.O + o) * kLanes + c] += w[((Index(kh) * 3 + kw) * g.C + c) * g.O + o];
        }
}

// The 16 transformed vectors (over o) of the 3x3 dy patch at d (kLanes floats per pixel).
inline void phase_input(const float* d, Index row, float* v) {
  V r[4][3];  // per column: d0 - d1, d1, d2 - d1, d2 down the rows
  for (int x = 0; x < 3; ++x) {
    const V d0 = Load(d + x * kLanes), d1 = Load(d + row + x * kLanes);
    const V d2 = Load(d + 2 * row + x * kLanes);
    r[0][x] = Sub(d0, d1);
    r[1][x] = d1;
    r[2][x] = Sub(d2, d1);
    r[3][x] = d2;
  }
  for (int i = 0; i < 4; ++i) {
    Store(Sub(r[i][0], r[i][1]), v + (i * 4 + 0) * kLanes);
    Store(r[i][1], v + (i * 4 + 1) * kLanes);
    Store(Sub(r[i][2], r[i][1]), v + (i * 4 + 2) * kLanes);
    Store(r[i][2], v + (i * 4 + 3) * kLanes);
  }
}

// A row of tiles.
struct PhaseBlock {
  const float* dy;  // padded dy at the first tile's patch
  Index row;        // floats between padded dy rows
  const float* U;   // phase_weights
  int O, C;
  V bias;
  float* v;       // kMaxTiles * kPhaseValues vectors
  float* m;       // kMaxTiles * kPhaseProducts vectors
  float* dx;      // the first tile's first dx pixel
  Index dx_row;   // floats between dx rows
  int rows;       // dx rows of the tiles (up to 4)
  int cols;       // dx columns left from the first tile's first (more than 4: all of them)
  bool relu;
};

template <int T>
struct PhaseKernel {
  static void run(const PhaseBlock& b) {
    constexpr Index kValueFloats = Index(kPhaseValues) * kLanes, kProductFloats = Index(kPhaseProducts) * kLanes;
    for (int t = 0; t < T; ++t) phase_input(b.dy + Index(2 * t) * kLanes, b.row, b.v + t * kValueFloats);
    for (int p = 0; p < kPhaseProducts; ++p) {
      const int pr = p / 5, pc = p % 5;
      const float* u = b.U + Index(kPhaseWeight[pr] * 4 + kPhaseWeight[pc]) * b.O * kLanes;
      const float* v = b.v + (kPhaseValue[pr] * 4 + kPhaseValue[pc]) * kLanes;
      tile_products<T, kValueFloats, kProductFloats>(u, v, b.O, b.m + p * kLanes);
    }
    for (int t = 0; t < T; ++t) {
      const float* mt = b.m + t * kProductFloats;
      auto at = [&](int r, int c) { return Load(mt + (r * 5 + c) * kLanes); };
      // Rows 2a, 2a+1, 2a+2, 2a+3 from E0 + E1, O0, E1 + E2, O1; then the same along columns.
      V y[4][5];
      for (int c = 0; c < 5; ++c) {
        const V e1 = at(1, c);
        y[0][c] = Add(at(0, c), e1);
        y[1][c] = at(3, c);
        y[2][c] = Add(e1, at(2, c));
        y[3][c] = at(4, c);
      }
      const int cols = std::min(4, b.cols - 4 * t);
      auto store_row = [&](int r, int n) {
        const V out[4] = {Add(y[r][0], y[r][1]), y[r][3], Add(y[r][1], y[r][2]), y[r][4]};
        float* dx = b.dx + r * b.dx_row;  // the row's run: 4 pixels per tile, on to the row's end
#pragma GCC unroll 4
        for (int c = 0; c < n; ++c) {
          const V v = Add(out[c], b.bias);
          StoreInRun(b.relu ? Relu(v) : v, dx, 4 * t + c, b.cols, b.C);
        }
      };
      if (b.rows == 4 && cols == 4) {  // inside the image: unrolled
#pragma GCC unroll 4
        for (int r = 0; r < 4; ++r) store_row(r, 4);
      } else {
        for (int r = 0; r < b.rows; ++r) store_row(r, cols);
      }
    }
  }
};

// The backward-data of one sample at a time.
struct PhasePlan {
  const ConvGeometry& g;
  int tiles_h, tiles_w, Hp, Wp;
  const float* U;
  V bias;
  Activation act;

  // Tiles cover the dy positions a < ceil(H / 2) that dx rows 2a and 2a+1 need; the
  // padded dy holds row -1 above them and zeros below.
  PhasePlan(const ConvGeometry& geometry, const float* packed, const float* bias_values, Activation activation)
      : g(geometry),
        tiles_h(tiles(g.H)),
        tiles_w(tiles(g.W)),
        Hp(2 * tiles_h + 1),
        Wp(2 * tiles_w + 1),
        U(packed),
        bias(load_bias(bias_values, g.C)),
        act(activation) {}
  static int tiles(int dx_size) { return ((dx_size + 1) / 2 + 1) / 2; }
  static Index packed_size(const ConvGeometry& g) { return Index(kPhaseWeightSets) * g.O * kLanes; }
  static Index scratch_size(const ConvGeometry& g) {
    return Index(2 * tiles(g.H) + 1) * (2 * tiles(g.W) + 1) * kLanes +
           Index(kMaxTiles) * (kPhaseValues + kPhaseProducts) * kLanes;
  }

  // dx [H,W,C] of the sample dy [OH,OW,O]; scratch: scratch_size(g) floats, 64-byte aligned.
  void run(const float* dy, float* dx, float* scratch) const {
    float* dyp = scratch;
    float* v = dyp + Index(Hp) * Wp * kLanes;
    float* m = v + Index(kMaxTiles) * kPhaseValues * kLanes;
    pad_copy(dy, g.OH, g.OW, g.O, 1, 1, dyp, Hp, Wp, kLanes);
    for (int ty = 0; ty < tiles_h; ++ty)
      for_each_block(tiles_w, kMaxTiles, [&](int tx0, int size) {
        const PhaseBlock block{dyp + (Index(2 * ty) * Wp + 2 * tx0) * kLanes,
                               Index(Wp) * kLanes,
                               U,
                               g.O,
                               g.C,
                               bias,
                               v,
                               m,
                               dx + (Index(4 * ty) * g.W + 4 * tx0) * g.C,
                               Index(g.W) * g.C,
                               std::min(4, g.H - 4 * ty),
                               g.W - 4 * tx0,
                               act == Activation::relu};
        dispatch<PhaseKernel, kMaxTiles>(size, block);
      });
    if (!fused(act)) activation_forward(act, dx, Index(g.H) * g.W, g.C);
  }
};

}  // namespace dn::kernels::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // DN_KERNELS_SIMD_PHASE_WINOGRAD_INL_H_

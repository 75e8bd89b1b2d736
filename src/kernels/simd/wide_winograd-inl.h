// Winograd F(4x4, 3x3) or F(2x2, 3x3) (wide_winograd_tile() picks) for 3x3 stride-1
// convolutions of many channels (the classifiers' and the U-Nets' wide layers), forward
// and, as the forward of the flipped convolution, backward-data. A block of tiles at a
// time: their 6x6 (4x4) patches transformed (B^T d B) for every channel; at each of the
// 36 (16) transformed positions a product over channels, [tiles, C] times [C, O], by the
// wide forward's pointwise blocks; then A^T m A back to each tile's 4x4 (2x2) output
// pixels. Per output pixel and (c, o), 2.25 (4) products where the direct sum takes 9.
// Every output pixel's bits depend on its own tile's inputs and the weights alone, in
// one fixed order, whatever batch or thread it falls in.
//
// x (N,H,W,C), w (3,3,C,O), y (N,OH,OW,O); at least 16 channels on each side and more
// than 16 on one (4-16 on both: winograd-inl.h). The transforms are winograd-inl.h's and
// winograd4-inl.h's, which the including .cpp brings in per target.

// Target-independent part.
#ifndef DN_KERNELS_SIMD_WIDE_WINOGRAD_H_
#define DN_KERNELS_SIMD_WIDE_WINOGRAD_H_
#include "kernels/simd/common-inl.h"
#include "kernels/simd/wide_forward-inl.h"  // detail::wide_forward_fits()
#include "kernels/simd/simd.hpp"           // wide_winograd_tile()
#include "kernels/simd/winograd-inl.h"      // flipped(), flip_weights()

namespace dn::kernels::simd {

// Fewer channels on either side: the transforms cost more than the products save.
constexpr int kWideWinogradMinChannels = 16;

inline bool wide_winograd_fits(const ConvGeometry& g) {
  return g.KH == 3 && g.KW == 3 && g.stride_h == 1 && g.stride_w == 1 && detail::wide_forward_fits(g) &&
         g.C >= kWideWinogradMinChannels && g.O >= kWideWinogradMinChannels;
}

inline bool wide_winograd_backward_data_fits(const ConvGeometry& g) {
  return g.stride_h == 1 && g.stride_w == 1 && g.pad_top < g.KH && g.pad_left < g.KW &&
         wide_winograd_fits(flipped(g));
}

}  // namespace dn::kernels::simd
#endif  // DN_KERNELS_SIMD_WIDE_WINOGRAD_H_

// Per-target part.
#if defined(DN_KERNELS_SIMD_WIDE_WINOGRAD_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DN_KERNELS_SIMD_WIDE_WINOGRAD_INL_H_
#undef DN_KERNELS_SIMD_WIDE_WINOGRAD_INL_H_
#else
#define DN_KERNELS_SIMD_WIDE_WINOGRAD_INL_H_
#endif

HWY_BEFORE_NAMESPACE();
namespace dn::kernels::simd::HWY_NAMESPACE {

// Tiles per block: as many as the wide kernels' blocks hold pixels, so that each
// position's product is one block per pass.
constexpr int kWideTiles = wide_pixels(kWideGroups);

// B^T d B of the (TM + 2)-square patch at x (C floats per pixel, `row` floats between
// rows), every channel: position pos's C values at v + pos * pos_step.
template <int TM = 2>
inline void wide_winograd_input(const float* x, Index row, int C, Index pos_step, float* v) {
  for (int c = 0; c < C; c += kLanes) {
    const int n = std::min(kLanes, C - c);
    WinogradTile<TM>::input([&](int r, int s) { return LoadFirst(n, x + r * row + s * C + c); },
                            [&](int pos, const V& value) {
                              if (n == kLanes)
                                StoreU(value, v + pos * pos_step + c);
                              else
                                StoreFirst(n, value, v + pos * pos_step + c);
                            });
  }
}

struct WideWinogradPlan {
  const ConvGeometry& g;
  ConvGeometry point;  // the products: a pointwise convolution of C inputs to Op outputs
  int M, positions;  // output tile side (2 or 4) and transformed positions per tile
  int tiles_h, tiles_w, Hp, Wp;
  Index Op;         // O rounded up to whole groups
  const float* U;   // G w G^T: per position, a row of Op floats per input channel
  const float* bias;   // Op floats, unused lanes zero
  const float* zeros;  // Op zeros: the products start from nothing
  Activation act;

  // packed: packed_size(g) floats, filled here from w [3,3,C,O] and bias (or null).
  WideWinogradPlan(const ConvGeometry& geometry, const float* w, const float* bias_values, Activation activation,
                   float* packed)
      : g(geometry),
        point(products(g)),
        M(wide_winograd_tile(g)),
        positions((M + 2) * (M + 2)),
        tiles_h((g.OH + M - 1) / M),
        tiles_w((g.OW + M - 1) / M),
        Hp(M * tiles_h + 2),
        Wp(M * tiles_w + 2),
        Op(round_up(g.O)),
        U(packed),
        bias(packed + positions * g.C * Op),
        zeros(bias + Op),
        act(activation) {
    if (M == 4)
      transform_weights<4>(w, packed);
    else
      transform_weights<2>(w, packed);
    float* b = packed + positions * g.C * Op;
    for (Index o = 0; o < Op; o += kLanes) {
      StoreU(load_bias(bias_values ? bias_values + o : nullptr, std::min<int>(kLanes, g.O - int(o))), b + o);
      StoreU(Zero(), b + Op + o);
    }
  }
  WideWinogradPlan(const WideWinogradPlan&) = delete;  // point is referred to by the products
  WideWinogradPlan& operator=(const WideWinogradPlan&) = delete;

  // The products at one position: a pointwise convolution of a block's tiles.
  static ConvGeometry products(const ConvGeometry& g) {
    return conv_geometry(kWideTiles, 1, 1, g.C, int(round_up(g.O)), 1, 1, 1, 1, Padding::valid);
  }
  static Index positions_of(const ConvGeometry& g) { return wide_winograd_tile(g) == 4 ? 36 : 16; }
  static Index packed_size(const ConvGeometry& g) { return (positions_of(g) * Index(g.C) + 2) * round_up(g.O); }
  static Index scratch_size(const ConvGeometry& g) {
    const int m = wide_winograd_tile(g);
    const Index padded = Index((g.OH + m - 1) / m * m + 2) * ((g.OW + m - 1) / m * m + 2) * g.C;
    return round_up(padded) + positions_of(g) * kWideTiles * (round_up(g.C) + round_up(g.O)) +
           round_up(WidePlan::scratch_size(products(g)));
  }

  // y [OH,OW,O] of the sample x [H,W,C]; scratch: scratch_size(g) floats, 64-byte aligned.
  void run(const float* x, float* y, float* scratch) const {
    if (M == 4)
      run_tiles<4>(x, y, scratch);
    else
      run_tiles<2>(x, y, scratch);
    if (!fused(act)) activation_forward(act, y, Index(g.OH) * g.OW, g.O);
  }

 private:
  template <int TM>
  void run_tiles(const float* x, float* y, float* scratch) const {
    using Tile = WinogradTile<TM>;
    const Index padded = Index(Hp) * Wp * g.C;
    float* xp = scratch;
    float* v = xp + round_up(padded);                              // [positions][tiles][C]
    float* m = v + Tile::kPositions * kWideTiles * round_up(g.C);  // [positions][tiles][Op]
    float* partial = m + Tile::kPositions * kWideTiles * Op;
    pad_copy(x, g.H, g.W, g.C, g.pad_top, g.pad_left, xp, Hp, Wp, g.C);
    // Blocks of tiles in row-major order across tile rows: each position's product then
    // spans as many tiles as a block holds, also where a row has few (F(4x4) on 12x12: 3).
    for_each_block(tiles_h * tiles_w, kWideTiles, [&](int t0, int size) {
      for (int t = 0; t < size; ++t) {
        const int ty = (t0 + t) / tiles_w, tx = (t0 + t) % tiles_w;
        wide_winograd_input<TM>(xp + (Index(TM * ty) * Wp + TM * tx) * g.C, Index(Wp) * g.C, g.C,
                                Index(kWideTiles) * g.C, v + Index(t) * g.C);
      }
      for (int pos = 0; pos < Tile::kPositions; ++pos) {
        const WidePlan plan(point, U + Index(pos) * g.C * Op, Op, zeros, Activation::linear);
        plan.run_pixels(0, size, v + Index(pos) * kWideTiles * g.C, m + Index(pos) * kWideTiles * Op, partial);
      }
      for (int t = 0; t < size; ++t)
        transform_output<TM>(m + Index(t) * Op, y, TM * ((t0 + t) / tiles_w), TM * ((t0 + t) % tiles_w));
    });
  }

  // U[(pos * C + c) * Op + o] = (G w G^T)[pos] of input channel c and output o.
  template <int TM>
  void transform_weights(const float* w, float* out) const {
    for (int c = 0; c < g.C; ++c)
      for (Index o = 0; o < Op; o += kLanes) {
        const int n = std::min<int>(kLanes, g.O - int(o));
        WinogradTile<TM>::kernel(
            [&](int kh, int kw) { return LoadFirst(n, w + (Index(kh * 3 + kw) * g.C + c) * g.O + o); },
            [&](int pos, const V& v) { StoreU(v, out + (Index(pos) * g.C + c) * Op + o); });
      }
  }

  // A^T m A of one tile's products (m at the tile's row of position 0) plus the bias,
  // stored at output pixels (oh, ow) .. (oh + TM - 1, ow + TM - 1) that lie inside y.
  template <int TM>
  void transform_output(const float* m, float* y, int oh, int ow) const {
    constexpr int kSide = WinogradTile<TM>::kSide;
    const Index pos_step = Index(kWideTiles) * Op;
    const int rows = std::min(TM, g.OH - oh), cols = std::min(TM, g.OW - ow);
    for (Index o = 0; o < Op; o += kLanes) {
      V out[TM][TM];
      WinogradTile<TM>::output([&](int r, int s) { return Load(m + (r * kSide + s) * pos_step + o); }, out);
      const V b = Load(bias + o);
      const int n = std::min<int>(kLanes, g.O - int(o));
      for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) {
          const V sum = Add(out[r][c], b);
          const V value = act == Activation::relu ? Relu(sum) : sum;
          float* dst = y + (Index(oh + r) * g.OW + ow + c) * g.O + o;
          if (n == kLanes)
            StoreU(value, dst);
          else
            StoreFirst(n, value, dst);
        }
    }
  }
};

// Backward-data as the Winograd forward of the flipped convolution; `packed` holds
// flip_weights' output first, then the plan's.
struct WideWinogradDataPlan {
  ConvGeometry f;
  WideWinogradPlan plan;
  WideWinogradDataPlan(const ConvGeometry& g, const float* w, float* packed, const float* bias, Activation act)
      : f(flipped(g)), plan(f, flip(g, w, packed), bias, act, packed + flipped_size(g)) {}
  WideWinogradDataPlan(const WideWinogradDataPlan&) = delete;  // plan refers to f
  WideWinogradDataPlan& operator=(const WideWinogradDataPlan&) = delete;
  static Index flipped_size(const ConvGeometry& g) { return round_up(g.patch() * g.O); }
  static Index packed_size(const ConvGeometry& g) {
    return flipped_size(g) + WideWinogradPlan::packed_size(flipped(g));
  }
  static Index scratch_size(const ConvGeometry& g) { return WideWinogradPlan::scratch_size(flipped(g)); }
  // dx [H,W,C] of the sample dy [OH,OW,O].
  void run(const float* dy, float* dx, float* scratch) const { plan.run(dy, dx, scratch); }

 private:
  static const float* flip(const ConvGeometry& g, const float* w, float* packed) {
    flip_weights(g, w, packed);
    return packed;
  }
};

}  // namespace dn::kernels::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // DN_KERNELS_SIMD_WIDE_WINOGRAD_INL_H_

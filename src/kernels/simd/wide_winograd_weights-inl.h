// Backward-weights of a 3x3 stride-1 convolution of many channels by Winograd, the
// wide counterpart of winograd_weights-inl.h: each 2x2 tile of output pixels adds
// G^T [(A dy A^T) . (B^T d B)] G to dw, summed over the tiles in the transformed domain,
// G^T . G applied once at the end. Outputs in slices of 16 (a group over o), inputs as
// broadcast channels: per transformed position and slice, the tiles' sums are the
// few-channel kernel's products. 16 products per tile and (c, o) where the direct
// kernel takes 36.
//
// x (N,H,W,C), dy (N,OH,OW,O), dw (3,3,C,O) and dbias (O) accumulated into; the shapes
// of wide_winograd_fits. Partial sums per chunk of samples, added in chunk order, so
// that the result is bit-identical for any thread count.

// Target-independent part.
#ifndef DN_KERNELS_SIMD_WIDE_WINOGRAD_WEIGHTS_H_
#define DN_KERNELS_SIMD_WIDE_WINOGRAD_WEIGHTS_H_
#include "kernels/simd/wide_winograd-inl.h"
#include "kernels/simd/winograd_weights-inl.h"

namespace dn::kernels::simd {

inline bool wide_winograd_backward_weights_fits(const ConvGeometry& g) { return wide_winograd_fits(g); }

}  // namespace dn::kernels::simd
#endif  // DN_KERNELS_SIMD_WIDE_WINOGRAD_WEIGHTS_H_

// Per-target part.
#if defined(DN_KERNELS_SIMD_WIDE_WINOGRAD_WEIGHTS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DN_KERNELS_SIMD_WIDE_WINOGRAD_WEIGHTS_INL_H_
#undef DN_KERNELS_SIMD_WIDE_WINOGRAD_WEIGHTS_INL_H_
#else
#define DN_KERNELS_SIMD_WIDE_WINOGRAD_WEIGHTS_INL_H_
#endif

HWY_BEFORE_NAMESPACE();
namespace dn::kernels::simd::HWY_NAMESPACE {

struct WideWinogradWeightPlan {
  const ConvGeometry& g;
  int tiles_h, tiles_w, Hp, Wp, slices;
  Index Cp, Op;  // C and O rounded up to whole groups

  explicit WideWinogradWeightPlan(const ConvGeometry& geometry)
      : g(geometry),
        tiles_h((g.OH + 1) / 2),
        tiles_w((g.OW + 1) / 2),
        Hp(2 * tiles_h + 2),
        Wp(2 * tiles_w + 2),
        slices((g.O + kLanes - 1) / kLanes),
        Cp(round_up(g.C)),
        Op(round_up(g.O)) {}
  // The sums: a group over o per (slice, position, c), in that order; the bias's groups follow.
  Index acc_size() const { return Index(slices) * kPatch * g.C * kLanes; }
  Index bias_size() const { return Index(slices) * kLanes; }
  Index scratch_size() const {
    return round_up(Index(Hp) * Wp * g.C) + Index(kPatch) * kWeightTiles * (Cp + Op);
  }

  // acc += the transformed products of the sample x [H,W,C] and its dy [OH,OW,O];
  // bias_acc (if not null) += the sum of dy. scratch: scratch_size() floats, 64-byte aligned.
  void accumulate(const float* x, const float* dy, float* acc, float* bias_acc, float* scratch) const {
    float* xp = scratch;
    float* vx = xp + round_up(Index(Hp) * Wp * g.C);  // [16][tiles][C]
    float* vd = vx + Index(kPatch) * kWeightTiles * Cp;  // [16][tiles][Op]
    const Index x_pos = Index(kWeightTiles) * g.C, d_pos = Index(kWeightTiles) * Op;
    pad_copy(x, g.H, g.W, g.C, g.pad_top, g.pad_left, xp, Hp, Wp, g.C);
    const int tiles = tiles_h * tiles_w;
    for (int t0 = 0; t0 < tiles; t0 += kWeightTiles) {
      const int count = std::min(kWeightTiles, tiles - t0);
      for (int i = 0; i < count; ++i) {
        const int ty = (t0 + i) / tiles_w, tx = (t0 + i) % tiles_w;
        wide_winograd_input(xp + (Index(2 * ty) * Wp + 2 * tx) * g.C, Index(Wp) * g.C, g.C, x_pos,
                            vx + Index(i) * g.C);
        for (int s = 0; s < slices; ++s) {
          const int n = std::min(kLanes, g.O - s * kLanes);
          V d[2][2];
          for (int r = 0; r < 2; ++r)
            for (int c = 0; c < 2; ++c) {
              const int oh = 2 * ty + r, ow = 2 * tx + c;  // Zero where the tile overhangs the output
              d[r][c] = oh < g.OH && ow < g.OW ? LoadFirst(n, dy + (Index(oh) * g.OW + ow) * g.O + s * kLanes) : Zero();
            }
          winograd_dy(d, vd + Index(i) * Op + s * kLanes, d_pos);
        }
      }
      for (int pos = 0; pos < kPatch; ++pos)
        for (int s = 0; s < slices; ++s)
          for_each_block(g.C, kMaxProductAcc, [&](int c0, int size) {
            const ProductPass pass{vx + pos * x_pos + c0, Index(g.C), vd + pos * d_pos + s * kLanes, Op, count,
                                   acc + ((Index(s) * kPatch + pos) * g.C + c0) * kLanes};
            dispatch<ProductKernel, kMaxProductAcc>(size, pass);
          });
    }
    if (!bias_acc) return;
    for (int s = 0; s < slices; ++s) {  // the sum of dy, pixel by pixel
      const int n = std::min(kLanes, g.O - s * kLanes);
      V bias = Load(bias_acc + s * kLanes);
      for (Index p = 0; p < Index(g.OH) * g.OW; ++p) bias = Add(bias, LoadFirst(n, dy + p * g.O + s * kLanes));
      Store(bias, bias_acc + s * kLanes);
    }
  }

  // dw += G^T S G of the chunks' sums S and dbias (if not null) += their bias sums, its
  // first bias_lanes; chunks added in order.
  void finish(const float* partials, const WeightChunks& chunks, float* dw, float* dbias, int bias_lanes) const {
    for (int sl = 0; sl < slices; ++sl) {
      const int n = std::min(kLanes, g.O - sl * kLanes);
      for (int c = 0; c < g.C; ++c)
        winograd_gradient_transform(
            [&](int r, int s) {
              return chunk_sum(partials, chunks, ((Index(sl) * kPatch + r * 4 + s) * g.C + c) * kLanes);
            },
            [&](int kh, int kw, const V& v) {
              add_first(n, v, dw + (Index(kh * 3 + kw) * g.C + c) * g.O + sl * kLanes);
            });
    }
    if (!dbias) return;
    for (int b = 0; b * kLanes < bias_lanes; ++b)
      add_first(std::min(kLanes, bias_lanes - b * kLanes), chunk_sum(partials, chunks, acc_size() + b * kLanes),
                dbias + b * kLanes);
  }
};

}  // namespace dn::kernels::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // DN_KERNELS_SIMD_WIDE_WINOGRAD_WEIGHTS_INL_H_

// Backward-weights of a 3x3 stride-1 convolution by Winograd: each 2x2 tile of output
// pixels adds G^T [(A dy A^T) . (B^T d B)] G to dw, d its 4x4 input patch, with
// the matrices of the forward's F(2x2, 3x3) (winograd-inl.h): the forward's tile is
// bilinear in d and w, and this is its gradient with respect to w. The products are
// summed over the tiles in the transformed domain and G^T . G is applied once at the
// end: 16 products per tile and (c, o) where the direct kernel takes 36. Per transformed
// position, the tiles' sums are a small matrix product: groups over o (the transformed
// dy) times the transformed input's channels, broadcast.
//
// x (N,H,W,C), dy (N,OH,OW,O), dw (3,3,C,O) and dbias (O) accumulated into; the
// shapes of winograd_fits. Partial sums per chunk of samples, added in chunk order, so
// that the result is bit-identical for any thread count.

// Target-independent part.
#ifndef DN_KERNELS_SIMD_WINOGRAD_WEIGHTS_H_
#define DN_KERNELS_SIMD_WINOGRAD_WEIGHTS_H_
#include "kernels/simd/backward_weights-inl.h"
#include "kernels/simd/winograd-inl.h"

namespace dn::kernels::simd {

constexpr int kWeightTiles = 64;  // tiles transformed per pass, so that their values stay in L1/L2

inline bool winograd_backward_weights_fits(const ConvGeometry& g) { return winograd_fits(g); }

}  // namespace dn::kernels::simd
#endif  // DN_KERNELS_SIMD_WINOGRAD_WEIGHTS_H_

// Per-target part.
#if defined(DN_KERNELS_SIMD_WINOGRAD_WEIGHTS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DN_KERNELS_SIMD_WINOGRAD_WEIGHTS_INL_H_
#undef DN_KERNELS_SIMD_WINOGRAD_WEIGHTS_INL_H_
#else
#define DN_KERNELS_SIMD_WINOGRAD_WEIGHTS_INL_H_
#endif

HWY_BEFORE_NAMESPACE();
namespace dn::kernels::simd::HWY_NAMESPACE {

constexpr int kMaxProductAcc = cap(16, 1);  // input channels accumulated at once
constexpr Index kTransformedTile = Index(kPatch) * kLanes;  // a tile's 16 transformed groups

// One transformed position over a pass's tiles: the sums for P input channels.
struct ProductPass {
  const float* x;  // the first tile's transformed input at this position, first channel
  Index x_step;    // floats between the tiles' transformed inputs
  const float* d;  // the first tile's transformed dy at this position (a group over o)
  Index d_step;    // floats between the tiles' transformed dy
  int tiles;
  float* m;  // P groups over o: the running sums
};

template <int P>
struct ProductKernel {
  static void run(const ProductPass& p) {
    V acc[P];
#pragma GCC unroll 32
    for (int i = 0; i < P; ++i) acc[i] = Load(p.m + i * kLanes);
    const float* x = p.x;
    const float* d = p.d;
    for (int t = 0; t < p.tiles; ++t, x += p.x_step, d += p.d_step) {
      const V dv = Load(d);
      const float* xc = opaque(x);
#pragma GCC unroll 32
      for (int i = 0; i < P; ++i) acc[i] = MulAdd(xc[i], dv, acc[i]);
    }
#pragma GCC unroll 32
    for (int i = 0; i < P; ++i) Store(acc[i], p.m + i * kLanes);
  }
};

// The sum over chunks of the vector at `offset` of each, in chunk order.
inline V chunk_sum(const float* partials, const WeightChunks& chunks, Index offset) {
  V s = Load(partials + offset);
  for (int k = 1; k < chunks.count; ++k) s = Add(s, Load(partials + k * chunks.size + offset));
  return s;
}

// dst (n floats) += v's first n lanes.
HWY_INLINE void add_first(int n, const V& v, float* dst) { StoreFirst(n, Add(LoadFirst(n, dst), v), dst); }

// A dy A^T of a 2x2 dy tile, A = [1 0; 1 1; 1 -1; 0 -1], as 16 groups over o, position
// pos's at v + pos * pos_step.
inline void winograd_dy(const V (&d)[2][2], float* v, Index pos_step = kLanes) {
  auto a_rows = [](const V& d0, const V& d1, V (&out)[4]) {
    out[0] = d0;
    out[1] = Add(d0, d1);
    out[2] = Sub(d0, d1);
    out[3] = Sub(Zero(), d1);
  };
  V col0[4], col1[4];
  a_rows(d[0][0], d[1][0], col0);
  a_rows(d[0][1], d[1][1], col1);
  for (int r = 0; r < 4; ++r) {
    V out[4];
    a_rows(col0[r], col1[r], out);
    for (int s = 0; s < 4; ++s) Store(out[s], v + (r * 4 + s) * pos_step);
  }
}

// The weight gradient of a convolution that fits winograd_backward_weights_fits,
// accumulated one sample at a time into sums over the transformed positions.
struct WinogradWeightPlan {
  const ConvGeometry& g;
  int tiles_h, tiles_w, Hp, Wp;

  explicit WinogradWeightPlan(const ConvGeometry& geometry)
      : g(geometry), tiles_h((g.OH + 1) / 2), tiles_w((g.OW + 1) / 2), Hp(2 * tiles_h + 2), Wp(2 * tiles_w + 2) {}
  // The sums: a group over o per (position, c), in that order; the bias's group follows.
  Index acc_size() const { return Index(kPatch) * g.C * kLanes; }
  Index bias_size() const { return kLanes; }
  Index scratch_size() const { return Index(Hp) * Wp * kLanes + 2 * kWeightTiles * kTransformedTile; }

  // acc += the transformed products of the sample x [H,W,C] and its dy [OH,OW,O];
  // bias_acc (if not null) += the sum of dy. scratch: scratch_size() floats, 64-byte aligned.
  void accumulate(const float* x, const float* dy, float* acc, float* bias_acc, float* scratch) const {
    float* xp = scratch;
    float* vx = xp + Index(Hp) * Wp * kLanes;
    float* vd = vx + kWeightTiles * kTransformedTile;
    pad_copy(x, g.H, g.W, g.C, g.pad_top, g.pad_left, xp, Hp, Wp, kLanes);
    // dy's pixels as whole groups where they end inside the sample: lanes past O only
    // reach sums that finish() leaves out.
    const float* dy_end = dy + Index(g.OH) * g.OW * g.O;
    V bias = bias_acc ? Load(bias_acc) : Zero();
    const int tiles = tiles_h * tiles_w;
    for (int t0 = 0; t0 < tiles; t0 += kWeightTiles) {
      const int count = std::min(kWeightTiles, tiles - t0);
      for (int i = 0; i < count; ++i) {
        const int ty = (t0 + i) / tiles_w, tx = (t0 + i) % tiles_w;
        winograd_input(xp + (Index(2 * ty) * Wp + 2 * tx) * kLanes, Index(Wp) * kLanes, vx + i * kTransformedTile);
        V d[2][2];
        for (int r = 0; r < 2; ++r)
          for (int s = 0; s < 2; ++s) {
            const int oh = 2 * ty + r, ow = 2 * tx + s;
            if (oh >= g.OH || ow >= g.OW) {
              d[r][s] = Zero();  // the tile overhangs the output
              continue;
            }
            const float* p = dy + (Index(oh) * g.OW + ow) * g.O;
            d[r][s] = p + kLanes <= dy_end ? LoadU(p) : LoadFirst(g.O, p);
            bias = Add(bias, d[r][s]);
          }
        winograd_dy(d, vd + i * kTransformedTile);
      }
      for (int pos = 0; pos < kPatch; ++pos)
        for_each_block(g.C, kMaxProductAcc, [&](int c0, int size) {
          const ProductPass pass{vx + pos * kLanes + c0, kTransformedTile, vd + pos * kLanes, kTransformedTile, count,
                                 acc + (Index(pos) * g.C + c0) * kLanes};
          dispatch<ProductKernel, kMaxProductAcc>(size, pass);
        });
    }
    if (bias_acc) Store(bias, bias_acc);
  }

  // dw += G^T S G of the chunks' sums S and dbias (if not null) += their bias sums, its
  // first bias_lanes; chunks added in order.
  void finish(const float* partials, const WeightChunks& chunks, float* dw, float* dbias, int bias_lanes) const {
    for (int c = 0; c < g.C; ++c)
      winograd_gradient_transform(
          [&](int r, int s) { return chunk_sum(partials, chunks, (Index(r * 4 + s) * g.C + c) * kLanes); },
          [&](int kh, int kw, const V& v) { add_first(g.O, v, dw + (Index(kh * 3 + kw) * g.C + c) * g.O); });
    if (dbias) add_first(bias_lanes, chunk_sum(partials, chunks, acc_size()), dbias);
  }
};

}  // namespace dn::kernels::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // DN_KERNELS_SIMD_WINOGRAD_WEIGHTS_INL_H_

// Winograd F(2x2, 3x3) for 3x3 stride-1 convolutions of several channels, forward and
// (as the forward of the flipped convolution) backward-data. Each 2x2 output tile is
// A^T [(G w G^T) . (B^T d B)] A of its 4x4 input patch d (Lavin and Gray, 2016): 16
// products per (c, o) instead of 36. Transforms and products run on groups over
// channels, so NHWC needs no reorder; the products of a row of tiles share each loaded
// weight group, as the direct forward's pixels do.
//
// x (N,H,W,C), w (3,3,C,O), y (N,OH,OW,O); 4 <= C <= 16, O <= 16.

// Target-independent part.
#ifndef DN_KERNELS_SIMD_WINOGRAD_H_
#define DN_KERNELS_SIMD_WINOGRAD_H_
#include "kernels/simd/common-inl.h"

namespace dn::kernels::simd {

constexpr int kWinogradInputs = 4;  // fewer input channels: the transforms outweigh the savings
constexpr int kPatch = 16;          // 4x4 transformed values per tile and channel

inline bool winograd_fits(const ConvGeometry& g) {
  return g.KH == 3 && g.KW == 3 && g.stride_h == 1 && g.stride_w == 1 && g.C >= kWinogradInputs &&
         g.C <= kLanes && g.O <= kLanes;
}

// The backward-data of a stride-1 convolution is the forward of another one: dy
// convolved with the kernel turned half round, channels swapped, padded by what the
// kernel overhangs on the other side. Where that one suits Winograd, it runs so.
inline ConvGeometry flipped(const ConvGeometry& g) {
  ConvGeometry f = g;
  f.H = g.OH, f.W = g.OW, f.C = g.O;
  f.OH = g.H, f.OW = g.W, f.O = g.C;
  f.pad_top = g.KH - 1 - g.pad_top, f.pad_left = g.KW - 1 - g.pad_left;
  return f;
}

// w [KH,KW,C,O] as the flipped convolution's kernel [KH,KW,O,C].
inline void flip_weights(const ConvGeometry& g, const float* w, float* out) {
  for (int kh = 0; kh < g.KH; ++kh)
    for (int kw = 0; kw < g.KW; ++kw)
      for (int c = 0; c < g.C; ++c)
        for (int o = 0; o < g.O; ++o)
          out[((Index(kh) * g.KW + kw) * g.O + o) * g.C + c] =
              w[((Index(g.KH - 1 - kh) * g.KW + (g.KW - 1 - kw)) * g.C + c) * g.O + o];
}

// Few dx channels (below kWinogradInputs) are left to backward-data's kernel that sums
// over output lanes.
inline bool winograd_backward_data_fits(const ConvGeometry& g) {
  return g.stride_h == 1 && g.stride_w == 1 && g.pad_top < g.KH && g.pad_left < g.KW && g.C >= kWinogradInputs &&
         winograd_fits(flipped(g));
}

}  // namespace dn::kernels::simd
#endif  // DN_KERNELS_SIMD_WINOGRAD_H_

// Per-target part.
#if defined(DN_KERNELS_SIMD_WINOGRAD_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DN_KERNELS_SIMD_WINOGRAD_INL_H_
#undef DN_KERNELS_SIMD_WINOGRAD_INL_H_
#else
#define DN_KERNELS_SIMD_WINOGRAD_INL_H_
#endif

HWY_BEFORE_NAMESPACE();
namespace dn::kernels::simd::HWY_NAMESPACE {

constexpr int kMaxTiles = cap(14, 1);  // tiles accumulated at once

// F(2x2, 3x3)'s transforms of one channel group, the same for every Winograd kernel
// here (few channels or many, forward or weight gradient): each applies its matrix down
// the columns, then along the rows. They read through load(r, s) and write through
// store(pos, v) (pos = r * 4 + s, row-major), so each kernel keeps its own layout.

// G w G^T of a 3x3 kernel: load(kh, kw), store(pos, v) for the 16 positions. G's rows
// on three values: k0, (k0 + k1 + k2) / 2, (k0 - k1 + k2) / 2, k2.
template <class Load, class Store>
HWY_INLINE void winograd_kernel_transform(const Load& load, const Store& store) {
  const V half = Set(0.5f);
  auto g_rows = [&](const V (&k)[3], V (&out)[4]) {
    const V even = Add(k[0], k[2]);
    out[0] = k[0];
    out[1] = Mul(half, Add(even, k[1]));
    out[2] = Mul(half, Sub(even, k[1]));
    out[3] = k[2];
  };
  V gk[4][3];  // G w: 4 rows by 3 kernel columns
  for (int kw = 0; kw < 3; ++kw) {
    V col[3], out[4];
    for (int kh = 0; kh < 3; ++kh) col[kh] = load(kh, kw);
    g_rows(col, out);
    for (int r = 0; r < 4; ++r) gk[r][kw] = out[r];
  }
  for (int r = 0; r < 4; ++r) {
    V out[4];
    g_rows(gk[r], out);
    for (int c = 0; c < 4; ++c) store(r * 4 + c, out[c]);
  }
}

// B^T d B of a 4x4 input patch: load(r, s), store(pos, v). B^T on four values: d0 - d2,
// d1 + d2, d2 - d1, d1 - d3.
template <class Load, class Store>
HWY_INLINE void winograd_input_transform(const Load& load, const Store& store) {
  V t[4][4];  // B^T d
  for (int s = 0; s < 4; ++s) {
    const V d0 = load(0, s), d1 = load(1, s), d2 = load(2, s), d3 = load(3, s);
    t[0][s] = Sub(d0, d2);
    t[1][s] = Add(d1, d2);
    t[2][s] = Sub(d2, d1);
    t[3][s] = Sub(d1, d3);
  }
  for (int r = 0; r < 4; ++r) {
    store(r * 4 + 0, Sub(t[r][0], t[r][2]));
    store(r * 4 + 1, Add(t[r][1], t[r][2]));
    store(r * 4 + 2, Sub(t[r][2], t[r][1]));
    store(r * 4 + 3, Sub(t[r][1], t[r][3]));
  }
}

// A^T m A of a tile's 16 products, load(r, s): y, its 2x2 output pixels (no bias). A^T on
// four values: m0 + m1 + m2, m1 - m2 - m3.
template <class Load>
HWY_INLINE void winograd_output_transform(const Load& load, V (&y)[2][2]) {
  V s0[4], s1[4];  // A^T m
  for (int s = 0; s < 4; ++s) {
    const V m1 = load(1, s), m2 = load(2, s);
    s0[s] = Add(Add(load(0, s), m1), m2);
    s1[s] = Sub(Sub(m1, m2), load(3, s));
  }
  for (int r = 0; r < 2; ++r) {
    const V(&s)[4] = r == 0 ? s0 : s1;
    y[r][0] = Add(Add(s[0], s[1]), s[2]);
    y[r][1] = Sub(Sub(s[1], s[2]), s[3]);
  }
}

// G^T S G of the 16 sums of a weight gradient, load(r, s): store(kh, kw, v) for the 3x3
// kernel. G^T on four values: m0 + (m1 + m2) / 2, (m1 - m2) / 2, (m1 + m2) / 2 + m3.
template <class Load, class Store>
HWY_INLINE void winograd_gradient_transform(const Load& load, const Store& store) {
  const V half = Set(0.5f);
  auto gt_rows = [&](const V (&m)[4], V (&out)[3]) {
    const V even = Mul(half, Add(m[1], m[2]));
    out[0] = Add(m[0], even);
    out[1] = Mul(half, Sub(m[1], m[2]));
    out[2] = Add(even, m[3]);
  };
  V rows[3][4];  // G^T S: 3 kernel rows by 4 transformed columns
  for (int s = 0; s < 4; ++s) {
    V m[4], out[3];
    for (int r = 0; r < 4; ++r) m[r] = load(r, s);
    gt_rows(m, out);
    for (int kh = 0; kh < 3; ++kh) rows[kh][s] = out[kh];
  }
  for (int kh = 0; kh < 3; ++kh) {
    V out[3];
    gt_rows(rows[kh], out);
    for (int kw = 0; kw < 3; ++kw) store(kh, kw, out[kw]);
  }
}

// U = G w G^T per input channel c, as groups over o: U[(pos * C + c) * kLanes], pos
// the 4x4 position in row-major order.
inline void winograd_weights(const ConvGeometry& g, const float* w, float* U) {
  for (int c = 0; c < g.C; ++c)
    winograd_kernel_transform(
        [&](int kh, int kw) { return LoadFirst(g.O, w + (Index(kh * 3 + kw) * g.C + c) * g.O); },
        [&](int pos, const V& v) { Store(v, U + (Index(pos) * g.C + c) * kLanes); });
}

// B^T d B of the 4x4 patch at x (kLanes floats per pixel, `row` floats between rows),
// as 16 groups over c at v.
inline void winograd_input(const float* x, Index row, float* v) {
  winograd_input_transform([&](int r, int s) { return Load(x + r * row + s * kLanes); },
                           [&](int pos, const V& value) { Store(value, v + pos * kLanes); });
}

// The products at one transformed position of T tiles: m[t * M_STRIDE] = the sum over
// k < K of v[t * V_STRIDE + k] * u[k], u holding a vector per k. Each weight vector is
// loaded once for all T tiles, as the direct forward shares it among pixels.
template <int T, Index V_STRIDE, Index M_STRIDE>
HWY_INLINE void tile_products(const float* u, const float* v, int K, float* m) {
  V acc[T];
#pragma GCC unroll 32
  for (int t = 0; t < T; ++t) acc[t] = Zero();
  for (int k = 0; k < K; ++k, u += kLanes) {
    const V uv = Load(u);
    const float* vk = opaque(v + k);
#pragma GCC unroll 32
    for (int t = 0; t < T; ++t) acc[t] = MulAdd(vk[t * V_STRIDE], uv, acc[t]);
  }
#pragma GCC unroll 32
  for (int t = 0; t < T; ++t) Store(acc[t], m + t * M_STRIDE);
}

// A row of tiles: their patches, products and output pixels.
struct WinogradBlock {
  const float* x;  // padded input at the first tile's patch
  Index row;       // floats between padded rows
  const float* U;  // winograd_weights
  int C, O;
  V bias;
  float* v;  // kMaxTiles * kPatch vectors: the transformed patches
  float* m;  // as many: the products
  float* y;  // the first tile's first output pixel
  Index y_row;   // floats between output rows
  int rows, cols;  // output rows (1 or 2) of the tiles, and columns of the last tile
  int run;         // output pixels from the first tile's first to the end of the row
  bool relu;
};

template <int T>
struct WinogradKernel {
  static void run(const WinogradBlock& b) {
    constexpr Index kTileFloats = Index(kPatch) * kLanes;
    for (int t = 0; t < T; ++t) winograd_input(b.x + Index(2 * t) * kLanes, b.row, b.v + t * kTileFloats);
    for (int pos = 0; pos < kPatch; ++pos)
      tile_products<T, kTileFloats, kTileFloats>(b.U + Index(pos) * b.C * kLanes, b.v + pos * kLanes, b.C,
                                                 b.m + pos * kLanes);
    for (int t = 0; t < T; ++t) {
      const float* mt = b.m + t * kTileFloats;
      V out[2][2];
      winograd_output_transform([&](int r, int s) { return Load(mt + (r * 4 + s) * kLanes); }, out);
      const int cols = t + 1 < T ? 2 : b.cols;
      for (int r = 0; r < b.rows; ++r) {
        float* y = b.y + r * b.y_row;  // the row's run: 2 pixels per tile, on to the row's end
        V left = Add(out[r][0], b.bias);
        V right = Add(out[r][1], b.bias);
        if (b.relu) left = Relu(left), right = Relu(right);
        StoreInRun(left, y, 2 * t, b.run, b.O);
        if (cols == 2) StoreInRun(right, y, 2 * t + 1, b.run, b.O);
      }
    }
  }
};

// The Winograd forward of one sample at a time.
struct WinogradPlan {
  const ConvGeometry& g;
  int tiles_h, tiles_w, Hp, Wp;
  const float* U;
  V bias;
  Activation act;

  WinogradPlan(const ConvGeometry& geometry, const float* packed, const float* bias_values, Activation activation)
      : g(geometry),
        tiles_h((g.OH + 1) / 2),
        tiles_w((g.OW + 1) / 2),
        Hp(2 * tiles_h + 2),
        Wp(2 * tiles_w + 2),
        U(packed),
        bias(load_bias(bias_values, g.O)),
        act(activation) {}
  static Index packed_size(const ConvGeometry& g) { return Index(kPatch) * g.C * kLanes; }
  static Index scratch_size(const ConvGeometry& g) {
    const Index padded = Index((g.OH + 1) / 2 * 2 + 2) * ((g.OW + 1) / 2 * 2 + 2) * kLanes;
    return padded + 2 * Index(kMaxTiles) * kPatch * kLanes;
  }

  // y [OH,OW,O] of the sample x [H,W,C]; scratch: scratch_size(g) floats, 64-byte aligned.
  void run(const float* x, float* y, float* scratch) const {
    float* xp = scratch;
    float* v = xp + Index(Hp) * Wp * kLanes;
    float* m = v + Index(kMaxTiles) * kPatch * kLanes;
    pad_copy(x, g.H, g.W, g.C, g.pad_top, g.pad_left, xp, Hp, Wp, kLanes);
    for (int ty = 0; ty < tiles_h; ++ty)
      for_each_block(tiles_w, kMaxTiles, [&](int tx0, int size) {
        const int last_col = 2 * (tx0 + size - 1);
        const WinogradBlock block{xp + (Index(2 * ty) * Wp + 2 * tx0) * kLanes,
                                  Index(Wp) * kLanes,
                                  U,
                                  g.C,
                                  g.O,
                                  bias,
                                  v,
                                  m,
                                  y + (Index(2 * ty) * g.OW + 2 * tx0) * g.O,
                                  Index(g.OW) * g.O,
                                  std::min(2, g.OH - 2 * ty),
                                  std::min(2, g.OW - last_col),
                                  g.OW - 2 * tx0,
                                  act == Activation::relu};
        dispatch<WinogradKernel, kMaxTiles>(size, block);
      });
    if (!fused(act)) activation_forward(act, y, Index(g.OH) * g.OW, g.O);
  }
};

// The Winograd plan of the flipped convolution; `packed` holds flip_weights' output
// first, then the transformed weights.
struct FlippedPlan {
  ConvGeometry f;
  WinogradPlan plan;
  FlippedPlan(const ConvGeometry& g, const float* w, float* packed, const float* bias, Activation act)
      : f(flipped(g)), plan(f, packed + round_up(flipped_size(g)), bias, act) {
    flip_weights(g, w, packed);
    winograd_weights(f, packed, packed + round_up(flipped_size(g)));
  }
  FlippedPlan(const FlippedPlan&) = delete;  // plan refers to f
  static Index flipped_size(const ConvGeometry& g) { return Index(g.KH) * g.KW * g.C * g.O; }
  static Index packed_size(const ConvGeometry& g) {
    return round_up(flipped_size(g)) + WinogradPlan::packed_size(flipped(g));
  }
  static Index scratch_size(const ConvGeometry& g) { return WinogradPlan::scratch_size(flipped(g)); }
  // dx [H,W,C] of the sample dy [OH,OW,O].
  void run(const float* dy, float* dx, float* scratch) const { plan.run(dy, dx, scratch); }
};

}  // namespace dn::kernels::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // DN_KERNELS_SIMD_WINOGRAD_INL_H_

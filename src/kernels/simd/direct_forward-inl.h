// Direct convolution forward for few channels (at most 16 in and out): groups over
// output channels, one pixel per group, up to a register file's worth of output pixels
// accumulated at once, so that each weight group is loaded once per block. Also the
// forward fused with a 2x2 max pooling, for inference.
//
// x (N,H,W,C), w (KH,KW,C,O), y (N,OH,OW,O); pads top/left per TensorFlow "same".

// Target-independent part.
#ifndef DN_KERNELS_SIMD_DIRECT_FORWARD_H_
#define DN_KERNELS_SIMD_DIRECT_FORWARD_H_
#include "kernels/simd/common-inl.h"

namespace dn::kernels::simd {

// Few channels on the group side, strides the blocks handle, and not a 1x1 convolution
// (GEMM runs straight on x there).
inline bool direct_forward_fits(const ConvGeometry& g) {
  return g.C <= kLanes && g.O <= kLanes && g.stride_w <= 2 && !pointwise(g);
}

}  // namespace dn::kernels::simd
#endif  // DN_KERNELS_SIMD_DIRECT_FORWARD_H_

// Per-target part.
#if defined(DN_KERNELS_SIMD_DIRECT_FORWARD_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DN_KERNELS_SIMD_DIRECT_FORWARD_INL_H_
#undef DN_KERNELS_SIMD_DIRECT_FORWARD_INL_H_
#else
#define DN_KERNELS_SIMD_DIRECT_FORWARD_INL_H_
#endif

HWY_BEFORE_NAMESPACE();
namespace dn::kernels::simd::HWY_NAMESPACE {

constexpr int kMaxBlock = cap(14, 1);  // output pixels accumulated at once

// A column of blocks: the same output columns in every output row of a sample.
struct ForwardBlock {
  const float* x;  // padded input under the first block's first pixel, tap (0, 0)
  Index row;       // floats between padded rows
  Index x_step;    // floats between the inputs of one block and the next (stride_h rows)
  int CS;          // floats per padded pixel
  int C, KH, KW;
  const float* w;  // pack_over_outputs
  V bias;
  float* y;      // the first block's first output pixel
  Index y_step;  // floats between output rows
  int rows, O;
  int run;  // output pixels from the block's first to the end of its row, stored in that order
  bool relu;
  const float* gate;      // laid out as y, or null: see store_pixels
  std::uint16_t* where;   // ForwardPool: the winning taps, laid out as y, or null
};

// acc[N] = the N output pixels of block row `row` (stride_h input rows apart), from
// the bias on. STEP: floats between the inputs of neighbouring output pixels (CS * stride_w).
template <int STEP, int N>
HWY_INLINE void sum_pixels(const ForwardBlock& b, int row, V (&acc)[N]) {
#pragma GCC unroll 32
  for (int i = 0; i < N; ++i) acc[i] = b.bias;
  const float* w = b.w;
  const int C = STEP == 1 ? 1 : b.C;  // one float per pixel, side by side: one channel
  for (int kh = 0; kh < b.KH; ++kh)
    for (int kw = 0; kw < b.KW; ++kw) {
      const float* x = b.x + row * b.x_step + kh * b.row + Index(kw) * b.CS;
      for (int c = 0; c < C; ++c, w += kLanes) {
        const V wv = Load(w);
        const float* xc = opaque(x + c);
#pragma GCC unroll 32
        for (int i = 0; i < N; ++i) acc[i] = MulAdd(xc[i * STEP], wv, acc[i]);
      }
    }
}

template <int STEP>
struct Forward {
  template <int P>
  struct Kernel {
    static void run(const ForwardBlock& b) {
      for (int row = 0; row < b.rows; ++row) {
        V acc[P];
        sum_pixels<STEP>(b, row, acc);
        store_pixels(acc, b.y + row * b.y_step, b.O, b.O, b.relu, b.run, b.gate ? b.gate + row * b.y_step : nullptr);
      }
    }
  };
};

// Two output rows of 2P pixels, then the 2x2 maximum of each pixel square: P pooled
// pixels, bit for bit what maxpool_forward makes of the stored rows. `rows` counts row
// pairs. Where the registers hold both rows of several windows (AVX-512: 4P accumulator
// groups) a block sums them at once; where they hold one window's (AVX2's 16 registers,
// NEON's 128-bit vectors: a group takes several), a block sums its top row, keeps each
// window's running maximum and tap, then sums its bottom row: the same sums, compared
// in the same order, for three windows.
template <int STEP>
struct ForwardPool {
  static constexpr bool kRowAtATime = cap(7, 4) < 2;
  static constexpr int kMaxPooled = kRowAtATime ? cap(7, 2) : cap(7, 4);

  // Both output rows of the block's windows at once: each weight group loaded once.
  template <int P>
  static HWY_INLINE void sum_both_rows(const ForwardBlock& b, int pair, V (&top)[2 * P], V (&bottom)[2 * P]) {
#pragma GCC unroll 32
    for (int i = 0; i < 2 * P; ++i) top[i] = bottom[i] = b.bias;
    const float* w = b.w;
    for (int kh = 0; kh < b.KH; ++kh)
      for (int kw = 0; kw < b.KW; ++kw) {
        const float* x = b.x + 2 * pair * b.x_step + kh * b.row + Index(kw) * b.CS;
        for (int c = 0; c < b.C; ++c, w += kLanes) {
          const V wv = Load(w);
          const float* upper = opaque(x + c);
          const float* lower = opaque(x + c + b.x_step);
#pragma GCC unroll 32
          for (int i = 0; i < 2 * P; ++i) {
            top[i] = MulAdd(upper[i * STEP], wv, top[i]);
            bottom[i] = MulAdd(lower[i * STEP], wv, bottom[i]);
          }
        }
      }
  }

  template <int P>
  struct Kernel {
    static void run(const ForwardBlock& b) {
      auto out = [&](V v) { return b.relu ? Relu(v) : v; };
      // In scan order, with maxpool_forward's comparison (ties and NaN keep the first),
      // and its tap numbers kh * 2 + kw: window value k against the running maximum.
      auto compare = [&](int k, const V& v, V& best, V& tap) {
        if (b.where) tap = SelectGreater(v, best, Set(static_cast<float>(k)), tap);
        best = KeepGreater(v, best);
      };
      for (int pair = 0; pair < b.rows; ++pair) {
        V best[P], tap[P];
        if constexpr (kRowAtATime) {
          V acc[2 * P];
          sum_pixels<STEP>(b, 2 * pair, acc);  // the top row
#pragma GCC unroll 32
          for (int i = 0; i < P; ++i) {
            best[i] = out(acc[2 * i]);
            tap[i] = Zero();
            compare(1, out(acc[2 * i + 1]), best[i], tap[i]);
          }
          sum_pixels<STEP>(b, 2 * pair + 1, acc);  // the bottom row
#pragma GCC unroll 32
          for (int i = 0; i < P; ++i) {
            compare(2, out(acc[2 * i]), best[i], tap[i]);
            compare(3, out(acc[2 * i + 1]), best[i], tap[i]);
          }
        } else {
          V top[2 * P], bottom[2 * P];
          sum_both_rows<P>(b, pair, top, bottom);
#pragma GCC unroll 32
          for (int i = 0; i < P; ++i) {
            best[i] = out(top[2 * i]);
            tap[i] = Zero();
            compare(1, out(top[2 * i + 1]), best[i], tap[i]);
            compare(2, out(bottom[2 * i]), best[i], tap[i]);
            compare(3, out(bottom[2 * i + 1]), best[i], tap[i]);
          }
        }
        float* y = b.y + pair * b.y_step;
#pragma GCC unroll 32
        for (int i = 0; i < P; ++i) {
          StoreInRun(best[i], y, i, b.run, b.O);
          if (b.where)
            StoreTaps(tap[i], b.where + pair * b.y_step + Index(i) * b.O, b.O,
                      Index(i) * b.O + kLanes <= Index(b.run) * b.O);
        }
      }
    }
  };
};

// The convolution forward of one sample at a time.
struct ForwardPlan {
  const ConvGeometry& g;
  int Hp, Wp, CS;
  const float* w;  // pack_over_outputs
  V bias;
  Activation act;

  ForwardPlan(const ConvGeometry& geometry, const float* packed, const float* bias_values, Activation activation)
      : g(geometry),
        Hp((g.OH - 1) * g.stride_h + g.KH),
        Wp((g.OW - 1) * g.stride_w + g.KW),
        CS(padded_channels(g.C)),
        w(packed),
        bias(load_bias(bias_values, g.O)),
        act(activation) {}
  static Index packed_size(const ConvGeometry& g) { return g.patch() * kLanes; }
  static Index scratch_size(const ConvGeometry& g) {
    return Index((g.OH - 1) * g.stride_h + g.KH) * ((g.OW - 1) * g.stride_w + g.KW) * padded_channels(g.C);
  }

  // y [OH,OW,O] of the sample x [H,W,C]; xp: scratch_size(g) floats. gate (laid out as
  // y, or null): y is zeroed where it is not positive (see store_pixels).
  void run(const float* x, float* y, float* xp, const float* gate = nullptr) const {
    pad_copy(x, g.H, g.W, g.C, g.pad_top, g.pad_left, xp, Hp, Wp, CS);
    for_each_block(g.OW, kMaxBlock, [&](int ow0, int size) {
      const ForwardBlock block{xp + Index(ow0) * g.stride_w * CS,
                               Index(Wp) * CS,
                               Index(g.stride_h) * Wp * CS,
                               CS,
                               g.C,
                               g.KH,
                               g.KW,
                               w,
                               bias,
                               y + Index(ow0) * g.O,
                               Index(g.OW) * g.O,
                               g.OH,
                               g.O,
                               g.OW - ow0,
                               act == Activation::relu,
                               gate ? gate + Index(ow0) * g.O : nullptr,
                               nullptr};
      switch (CS * g.stride_w) {
        case 1: return dispatch<Forward<1>::Kernel, kMaxBlock>(size, block);
        case 2: return dispatch<Forward<2>::Kernel, kMaxBlock>(size, block);
        case kLanes: return dispatch<Forward<kLanes>::Kernel, kMaxBlock>(size, block);
        default: return dispatch<Forward<2 * kLanes>::Kernel, kMaxBlock>(size, block);
      }
    });
    if (!fused(act)) activation_forward(act, y, Index(g.OH) * g.OW, g.O);
  }

  // y [OH/2,OW/2,O]: the 2x2 maxima of the output, which is never stored (OH and OW even,
  // activation fused); where (or null): their taps, as maxpool_forward records them.
  void run_pooled(const float* x, float* y, std::uint16_t* where, float* xp) const {
    pad_copy(x, g.H, g.W, g.C, g.pad_top, g.pad_left, xp, Hp, Wp, CS);
    const int pooled_w = g.OW / 2;
    for_each_block(pooled_w, ForwardPool<1>::kMaxPooled, [&](int pw0, int size) {
      const ForwardBlock block{xp + Index(2 * pw0) * g.stride_w * CS,
                               Index(Wp) * CS,
                               Index(g.stride_h) * Wp * CS,
                               CS,
                               g.C,
                               g.KH,
                               g.KW,
                               w,
                               bias,
                               y + Index(pw0) * g.O,
                               Index(pooled_w) * g.O,
                               g.OH / 2,
                               g.O,
                               pooled_w - pw0,
                               act == Activation::relu,
                               nullptr,
                               where ? where + Index(pw0) * g.O : nullptr};
      constexpr int kMax = ForwardPool<1>::kMaxPooled;
      switch (CS * g.stride_w) {
        case 1: return dispatch<ForwardPool<1>::Kernel, kMax>(size, block);
        case 2: return dispatch<ForwardPool<2>::Kernel, kMax>(size, block);
        case kLanes: return dispatch<ForwardPool<kLanes>::Kernel, kMax>(size, block);
        default: return dispatch<ForwardPool<2 * kLanes>::Kernel, kMax>(size, block);
      }
    });
  }
};

}  // namespace dn::kernels::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // DN_KERNELS_SIMD_DIRECT_FORWARD_INL_H_

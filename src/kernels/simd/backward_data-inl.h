// Convolution backward-data (also Conv2DTranspose's forward) for few channels: groups
// over input channels summed over o, or, for fewer than 4 dx channels, groups over
// output channels summed across their lanes at the end.
//
// dy (N,OH,OW,O), w (KH,KW,C,O), dx (N,H,W,C); the geometry is the forward convolution's.

// Target-independent part.
#ifndef DN_KERNELS_SIMD_BACKWARD_DATA_H_
#define DN_KERNELS_SIMD_BACKWARD_DATA_H_
#include "kernels/simd/common-inl.h"

namespace dn::kernels::simd {

constexpr int kMaxTaps = 64;         // kernel taps (KH * KW) the tap lists hold
constexpr int kMinVectorInputs = 4;  // below this many dx channels, sum over output lanes

inline bool sums_over_outputs(const ConvGeometry& g) { return g.C < kMinVectorInputs; }

inline bool direct_backward_data_fits(const ConvGeometry& g) {
  if (pointwise(g) || g.KH * g.KW > kMaxTaps || g.O > kLanes) return false;
  return sums_over_outputs(g) || g.C <= kLanes;
}

}  // namespace dn::kernels::simd
#endif  // DN_KERNELS_SIMD_BACKWARD_DATA_H_

// Per-target part.
#if defined(DN_KERNELS_SIMD_BACKWARD_DATA_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DN_KERNELS_SIMD_BACKWARD_DATA_INL_H_
#undef DN_KERNELS_SIMD_BACKWARD_DATA_INL_H_
#else
#define DN_KERNELS_SIMD_BACKWARD_DATA_INL_H_
#endif

HWY_BEFORE_NAMESPACE();
namespace dn::kernels::simd::HWY_NAMESPACE {

constexpr int kMaxDataBlock = cap(14, 1);    // dx pixels accumulated at once
constexpr int kMaxReduceBlock = cap(16, 1);  // ... when each one's group is then summed across its lanes

// A column of blocks: the same dx columns (one column phase) in the dx rows of one row
// phase; every row of a phase meets the same taps, one padded dy row further down.
struct DataBlock {
  const float* dy;              // padded dy (kLanes floats per pixel) at the first block's first pixel
  Index dy_step;                // floats between the dy of one block and the next
  const int* offsets;           // per tap: floats from there to the tap's dy pixel
  const float* const* weights;  // per tap: its packed weights
  int taps, O, C;
  V bias;               // over dx channels (vector kernel)
  const float* bias_values;  // the same, as floats (reducing kernel)
  float* dx;                 // the first block's first dx pixel
  Index dx_step;             // floats between the blocks' dx rows
  Index step;                // floats between block pixels in dx
  int rows;
  int run;  // dx pixels of the phase from the block's first to the end of its row
  bool relu;
};

// dx pixel = sum over taps and o of dy[o] * w[o] (groups over c, pack_over_inputs).
template <int P>
struct DataKernel {
  static void run(const DataBlock& b) {
    for (int row = 0; row < b.rows; ++row) {
      const float* dy = b.dy + row * b.dy_step;
      V acc[P];
#pragma GCC unroll 32
      for (int i = 0; i < P; ++i) acc[i] = b.bias;
      for (int t = 0; t < b.taps; ++t) {
        const float* d = dy + b.offsets[t];
        const float* w = b.weights[t];
        for (int o = 0; o < b.O; ++o, w += kLanes) {
          const V wv = Load(w);
#pragma GCC unroll 32
          for (int i = 0; i < P; ++i) acc[i] = MulAdd(d[i * kLanes + o], wv, acc[i]);
        }
      }
      store_pixels(acc, b.dx + row * b.dx_step, b.step, b.C, b.relu, b.run);
    }
  }
};

// For few dx channels: per channel c, the group over o of dy * w[.., c, o] summed over
// taps, then across its lanes (pack_over_outputs).
template <int P>
struct ReduceKernel {
  static void run(const DataBlock& b) {
    for (int row = 0; row < b.rows; ++row) {
      const float* dy = b.dy + row * b.dy_step;
      float* dx = b.dx + row * b.dx_step;
      for (int c = 0; c < b.C; ++c) {
        V acc[P];
#pragma GCC unroll 32
        for (int i = 0; i < P; ++i) acc[i] = Zero();
        for (int t = 0; t < b.taps; ++t) {
          const float* d = dy + b.offsets[t];
          const V wv = Load(b.weights[t] + c * kLanes);
#pragma GCC unroll 32
          for (int i = 0; i < P; ++i) acc[i] = MulAdd(Load(d + i * kLanes), wv, acc[i]);
        }
        if (b.C == 1 && b.step == 1) {  // one dx channel, its pixels side by side: whole parts
          const Part bias = hn::Set(D(), b.bias_values ? b.bias_values[0] : 0.0f);
          SumLanesParts(acc, [&](int first, Part sums) {
            Part v = hn::Add(sums, bias);
            if (b.relu) v = hn::IfThenZeroElse(hn::Lt(v, hn::Zero(D())), v);
            // Whole where the row goes on past the part (the next block stores over the
            // spill), so that a masked store comes only at the row's end.
            store_part(first + kPartLanes <= b.run ? kPartLanes : P - first, v, dx + first);
          });
          continue;
        }
        float sums[P];
        SumLanes(acc, sums);
        const float bias = b.bias_values ? b.bias_values[c] : 0.0f;
        for (int i = 0; i < P; ++i) {
          const float v = sums[i] + bias;
          dx[i * b.step + c] = b.relu && v < 0.0f ? 0.0f : v;
        }
      }
    }
  }
};

// dy of one sample inside zeros, so that every tap of every dx pixel lands inside.
struct PaddedDy {
  int top, left, rows, cols;
  explicit PaddedDy(const ConvGeometry& g) {
    const int oh_lo = floor_div(g.pad_top - (g.KH - 1), g.stride_h);
    const int oh_hi = floor_div(g.H - 1 + g.pad_top, g.stride_h);
    const int ow_lo = floor_div(g.pad_left - (g.KW - 1), g.stride_w);
    const int ow_hi = floor_div(g.W - 1 + g.pad_left, g.stride_w);
    top = std::max(0, -oh_lo);
    left = std::max(0, -ow_lo);
    rows = top + std::max(g.OH, oh_hi + 1);
    cols = left + std::max(g.OW, ow_hi + 1);
  }
};

// The convolution backward-data of one sample at a time.
struct DataPlan {
  const ConvGeometry& g;
  bool reduce;
  PaddedDy pad;
  const float* w;  // pack_over_outputs when reduce, else pack_over_inputs
  const float* bias_values;
  V bias;
  Activation act;

  DataPlan(const ConvGeometry& geometry, const float* packed, const float* bias_in, Activation activation)
      : g(geometry),
        reduce(sums_over_outputs(g)),
        pad(g),
        w(packed),
        bias_values(bias_in),
        bias(load_bias(bias_in, g.C)),
        act(activation) {}
  static Index packed_size(const ConvGeometry& g) {
    return Index(g.KH) * g.KW * (sums_over_outputs(g) ? g.C : g.O) * kLanes;
  }
  static void pack(const ConvGeometry& g, const float* weights, float* packed) {
    if (sums_over_outputs(g))
      pack_over_outputs(g, weights, packed);
    else
      pack_over_inputs(g, weights, packed);
  }
  static Index scratch_size(const ConvGeometry& g) {
    const PaddedDy pad(g);
    return Index(pad.rows) * pad.cols * kLanes;
  }

  // dx [H,W,C] of the sample dy [OH,OW,O]; dyp: scratch_size(g) floats.
  void run(const float* dy, float* dx, float* dyp) const {
    pad_copy(dy, g.OH, g.OW, g.O, pad.top, pad.left, dyp, pad.rows, pad.cols, kLanes);
    const Index padded_row = Index(pad.cols) * kLanes;
    const int per_tap = reduce ? g.C : g.O;  // packed vectors per tap
    // Dx row ih meets dy row oh through kernel row kh where oh * stride_h = ih + pad_top - kh;
    // dx column iw = r + stride_w * j (column phase r) meets dy column j + d through kernel
    // column kw where d * stride_w = r + pad_left - kw. Rows q, q + stride_h, ... meet the
    // same taps, each one dy row further down.
    for (int q = 0; q < std::min(g.stride_h, g.H); ++q) {
      for (int r = 0; r < std::min(g.stride_w, g.W); ++r) {
        int offsets[kMaxTaps];
        const float* weights[kMaxTaps];
        int taps = 0;
        for (int kh = 0; kh < g.KH; ++kh) {
          const int a = q + g.pad_top - kh;
          if (a % g.stride_h != 0) continue;
          for (int kw = 0; kw < g.KW; ++kw) {
            const int c = r + g.pad_left - kw;
            if (c % g.stride_w != 0) continue;
            offsets[taps] = static_cast<int>((a / g.stride_h + pad.top) * padded_row +
                                             Index(c / g.stride_w + pad.left) * kLanes);
            weights[taps] = w + Index(kh * g.KW + kw) * per_tap * kLanes;
            ++taps;
          }
        }
        const int rows = (g.H - q + g.stride_h - 1) / g.stride_h;
        const int columns = (g.W - r + g.stride_w - 1) / g.stride_w;
        for_each_block(columns, reduce ? kMaxReduceBlock : kMaxDataBlock, [&](int j0, int size) {
          const DataBlock block{dyp + Index(j0) * kLanes,
                                padded_row,
                                offsets,
                                weights,
                                taps,
                                g.O,
                                g.C,
                                bias,
                                bias_values,
                                dx + (Index(q) * g.W + r + Index(j0) * g.stride_w) * g.C,
                                Index(g.stride_h) * g.W * g.C,
                                Index(g.stride_w) * g.C,
                                rows,
                                columns - j0,
                                act == Activation::relu};
          if (reduce)
            dispatch<ReduceKernel, kMaxReduceBlock>(size, block);
          else
            dispatch<DataKernel, kMaxDataBlock>(size, block);
        });
      }
    }
    if (!fused(act)) activation_forward(act, dx, Index(g.H) * g.W, g.C);
  }
};

}  // namespace dn::kernels::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // DN_KERNELS_SIMD_BACKWARD_DATA_INL_H_

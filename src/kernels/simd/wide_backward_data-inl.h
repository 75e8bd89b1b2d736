// Convolution backward-data for many channels (more than 16 in or out): the forward of
// the flipped convolution (winograd-inl.h's flipped(): dy convolved with the kernel
// turned half round, channels swapped) through the wide forward's blocks. A strided
// convolution scatters dy over dx with gaps, so its dx splits into stride_h x stride_w
// phases: the dx rows r, r + s, r + 2s, ... meet only the kernel rows with kh = r + pad
// (mod s), so each phase is a stride-1 flipped convolution with those taps, written into
// every s-th dx pixel (the U-Nets' stride-2 transposed convolutions run so). At stride 1
// the one phase is the whole flipped convolution. Each dx pixel sums its (kh, kw, o)
// terms in one fixed order, so its bits depend on its own dy and the weights alone,
// whatever batch or thread it falls in.
//
// dy (N,OH,OW,O), w (KH,KW,C,O), dx (N,H,W,C); the geometry is the forward convolution's.

// Target-independent part.
#ifndef DN_KERNELS_SIMD_WIDE_BACKWARD_DATA_H_
#define DN_KERNELS_SIMD_WIDE_BACKWARD_DATA_H_
#include <optional>

#include "kernels/simd/common-inl.h"
#include "kernels/simd/winograd-inl.h"       // flipped()
#include "kernels/simd/wide_forward-inl.h"  // detail::wide_forward_fits()

namespace dn::kernels::simd {

// One axis of a phase: dx rows r, r + s, ... meet the kernel rows first, first + s, ...
// (those with kh = r + pad mod s); dx row s*a + r meets dy row a + q - m through kernel
// row first + s*m, where q = (r + pad) / s.
struct PhaseAxis {
  int first;  // the phase's first kernel row
  int taps;   // its kernel rows: first, first + s, ... below K
  int pad;    // the phase's stride-1 convolution's padding before: taps - 1 - q
  int size;   // its dx rows
};

inline PhaseAxis phase_axis(int r, int stride, int pad, int K, int out) {
  const int first = (r + pad) % stride;
  const int taps = first < K ? (K - first + stride - 1) / stride : 0;
  return {first, taps, taps - 1 - (r + pad) / stride, (out - r + stride - 1) / stride};
}

// Phase (rh, rw) as a stride-1 convolution of dy into its dx pixels; at stride 1, flipped(g).
inline ConvGeometry phase_geometry(const ConvGeometry& g, int rh, int rw) {
  const PhaseAxis a = phase_axis(rh, g.stride_h, g.pad_top, g.KH, g.H);
  const PhaseAxis b = phase_axis(rw, g.stride_w, g.pad_left, g.KW, g.W);
  ConvGeometry f = flipped(g);
  f.OH = a.size, f.OW = b.size, f.KH = a.taps, f.KW = b.taps;
  f.stride_h = f.stride_w = 1;
  f.pad_top = a.pad, f.pad_left = b.pad;
  return f;
}

// The phase's kernel [taps_h, taps_w, O, C]: its taps of w turned half round, channels
// swapped; at stride 1, flip_weights' output.
inline void phase_weights_flipped(const ConvGeometry& g, int rh, int rw, const float* w, float* out) {
  const PhaseAxis a = phase_axis(rh, g.stride_h, g.pad_top, g.KH, g.H);
  const PhaseAxis b = phase_axis(rw, g.stride_w, g.pad_left, g.KW, g.W);
  for (int m = 0; m < a.taps; ++m)
    for (int n = 0; n < b.taps; ++n) {
      const int kh = a.first + g.stride_h * (a.taps - 1 - m), kw = b.first + g.stride_w * (b.taps - 1 - n);
      for (int c = 0; c < g.C; ++c)
        for (int o = 0; o < g.O; ++o)
          out[((Index(m) * b.taps + n) * g.O + o) * g.C + c] = w[((Index(kh) * g.KW + kw) * g.C + c) * g.O + o];
    }
}

// A phase without pixels: fewer dx rows or columns than the stride.
inline bool phase_empty(const ConvGeometry& f) { return f.OH <= 0 || f.OW <= 0; }

// fn(rh, rw, f) for each phase with pixels, f its stride-1 convolution.
template <class Fn>
void for_each_phase(const ConvGeometry& g, Fn&& fn) {
  for (int rh = 0; rh < g.stride_h; ++rh)
    for (int rw = 0; rw < g.stride_w; ++rw) {
      const ConvGeometry f = phase_geometry(g, rh, rw);
      if (!phase_empty(f)) fn(rh, rw, f);
    }
}

constexpr int kMaxPhaseStride = 4;

// Every phase with pixels needs a tap and no dy row before the first: kernels at least as
// large as the stride, padding that Keras's "same" and "valid" give.
inline bool wide_backward_data_fits(const ConvGeometry& g) {
  if (pointwise(g) || g.stride_h > kMaxPhaseStride || g.stride_w > kMaxPhaseStride ||
      !detail::wide_forward_fits(flipped(g)))
    return false;
  bool fits = true;
  for_each_phase(g, [&](int, int, const ConvGeometry& f) {
    fits = fits && f.KH >= 1 && f.KW >= 1 && f.pad_top >= 0 && f.pad_left >= 0;
  });
  return fits;
}

// A pointwise convolution's (a Dense layer's) input gradient is its forward with the
// weights transposed: the wide forward's chunks of rows, over the whole batch at once
// (simd/conv.cpp's conv2d_backward_data), not this plan's one sample at a time.
inline bool pointwise_backward_data_fits(const ConvGeometry& g) {
  return pointwise(g) && detail::wide_forward_fits(flipped(g));
}

}  // namespace dn::kernels::simd
#endif  // DN_KERNELS_SIMD_WIDE_BACKWARD_DATA_H_

// Per-target part.
#if defined(DN_KERNELS_SIMD_WIDE_BACKWARD_DATA_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DN_KERNELS_SIMD_WIDE_BACKWARD_DATA_INL_H_
#undef DN_KERNELS_SIMD_WIDE_BACKWARD_DATA_INL_H_
#else
#define DN_KERNELS_SIMD_WIDE_BACKWARD_DATA_INL_H_
#endif

HWY_BEFORE_NAMESPACE();
namespace dn::kernels::simd::HWY_NAMESPACE {

struct WideDataPlan {
  static constexpr int kMaxPhases = kMaxPhaseStride * kMaxPhaseStride;
  ConvGeometry g;
  int phases;
  Activation act;
  std::array<ConvGeometry, kMaxPhases> f;  // phase p = rh * stride_w + rw
  // Each holds a reference to its f: the plan is neither copied nor moved. None for an
  // empty phase.
  std::array<std::optional<WidePlan>, kMaxPhases> plan;

  // packed: packed_size(g) floats, filled here: each phase's flipped weights, then the
  // wide forward's bias and weights.
  WideDataPlan(const ConvGeometry& geometry, const float* w, float* packed, const float* bias, Activation activation)
      : g(geometry), phases(g.stride_h * g.stride_w), act(activation) {
    // Phases write every s-th pixel: an activation that does not fuse waits for them all.
    const Activation each = phases == 1 || fused(act) ? act : Activation::linear;
    for_each_phase(g, [&](int rh, int rw, const ConvGeometry& phase) {
      const int p = rh * g.stride_w + rw;
      f[p] = phase;
      phase_weights_flipped(g, rh, rw, w, packed);
      float* shared = packed + flipped_size(f[p]);
      plan[p].emplace(f[p], WidePlan::prepare(f[p], packed, bias, shared), WidePlan::padded_output(f[p]), shared,
                      each);
      packed = shared + round_up(WidePlan::shared_size(f[p]));
    });
  }
  WideDataPlan(const WideDataPlan&) = delete;
  WideDataPlan& operator=(const WideDataPlan&) = delete;

  static Index flipped_size(const ConvGeometry& f) { return round_up(f.patch() * f.O); }
  static Index packed_size(const ConvGeometry& g) {
    Index size = 0;
    for_each_phase(g, [&](int, int, const ConvGeometry& f) {
      size += flipped_size(f) + round_up(WidePlan::shared_size(f));
    });
    return size;
  }
  static Index scratch_size(const ConvGeometry& g) {
    Index size = 0;
    for_each_phase(g, [&](int, int, const ConvGeometry& f) { size = std::max(size, WidePlan::scratch_size(f)); });
    return size;
  }

  // dx [H,W,C] of one sample's dy [OH,OW,O]; xp: scratch_size(g) floats.
  void run(const float* dy, float* dx, float* xp) const {
    if (phases == 1) return plan[0]->run_sample(dy, dx, xp);
    for (int p = 0; p < phases; ++p) {
      if (!plan[p]) continue;
      const Index rh = p / g.stride_w, rw = p % g.stride_w;
      plan[p]->run_sample(dy, dx + (rh * g.W + rw) * g.C, xp, Index(g.stride_w) * g.C, Index(g.stride_h) * g.W * g.C);
    }
    if (!fused(act)) activation_forward(act, dx, Index(g.H) * g.W, g.C);
  }
};

}  // namespace dn::kernels::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // DN_KERNELS_SIMD_WIDE_BACKWARD_DATA_INL_H_

// Convolution backward-data for many channels (more than 16 in or out) at stride 1: the
// forward of the flipped convolution (winograd-inl.h's flipped(): dy convolved with the
// kernel turned half round, channels swapped) through the wide forward's blocks. Each
// dx pixel sums its (kh, kw, o) terms in one fixed order, so its bits depend on its own
// dy and the weights alone, whatever batch or thread it falls in.
//
// dy (N,OH,OW,O), w (KH,KW,C,O), dx (N,H,W,C); the geometry is the forward convolution's.

// Target-independent part.
#ifndef DN_KERNELS_SIMD_WIDE_BACKWARD_DATA_H_
#define DN_KERNELS_SIMD_WIDE_BACKWARD_DATA_H_
#include "kernels/simd/common-inl.h"
#include "kernels/simd/winograd-inl.h"       // flipped(), flip_weights()
#include "kernels/simd/wide_forward-inl.h"  // detail::wide_forward_fits()

namespace dn::kernels::simd {

// Strided convolutions scatter dy over dx with gaps, which the flipped one cannot express.
inline bool wide_backward_data_fits(const ConvGeometry& g) {
  return g.stride_h == 1 && g.stride_w == 1 && !pointwise(g) && g.pad_top < g.KH && g.pad_left < g.KW &&
         detail::wide_forward_fits(flipped(g));
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
  ConvGeometry f;  // the flipped convolution: its input is dy, its output dx
  WidePlan plan;   // holds a reference to f: the plan is neither copied nor moved

  // packed: packed_size(g) floats, filled here.
  WideDataPlan(const ConvGeometry& g, const float* w, float* packed, const float* bias, Activation act)
      : f(flipped(g)),
        plan(f, prepare(g, f, w, bias, packed), WidePlan::padded_output(f), packed + flipped_size(g), act) {}
  WideDataPlan(const WideDataPlan&) = delete;
  WideDataPlan& operator=(const WideDataPlan&) = delete;

  static Index flipped_size(const ConvGeometry& g) { return round_up(g.patch() * g.O); }
  static Index packed_size(const ConvGeometry& g) { return flipped_size(g) + WidePlan::shared_size(flipped(g)); }
  static Index scratch_size(const ConvGeometry& g) { return WidePlan::scratch_size(flipped(g)); }

  // dx [H,W,C] of one sample's dy [OH,OW,O]; xp: scratch_size(g) floats.
  void run(const float* dy, float* dx, float* xp) const { plan.run_sample(dy, dx, xp); }

 private:
  // flip_weights' output at packed, then the wide forward's bias and weights after it;
  // returns the weights the plan reads.
  static const float* prepare(const ConvGeometry& g, const ConvGeometry& f, const float* w, const float* bias,
                              float* packed) {
    flip_weights(g, w, packed);
    return WidePlan::prepare(f, packed, bias, packed + flipped_size(g));
  }
};

}  // namespace dn::kernels::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // DN_KERNELS_SIMD_WIDE_BACKWARD_DATA_INL_H_

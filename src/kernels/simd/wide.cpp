// The wide convolution forward's entry point (wide_forward-inl.h), compiled once per SIMD
// target (Highway's foreach_target) and called through run-time dispatch. One sample per
// OpenMP iteration, or for pointwise convolutions (Dense) one chunk of pixels cut from
// the geometry alone; each pixel's sum runs in one fixed order, so results are
// bit-identical for any thread count, batch or block size.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/simd/wide.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "kernels/simd/group-inl.h"
#include "kernels/simd/common-inl.h"
#include "kernels/simd/wide_forward-inl.h"
#include "kernels/simd/winograd-inl.h"
#include "kernels/simd/winograd4-inl.h"
#include "kernels/simd/wide_winograd-inl.h"

#include "kernels/simd/simd.hpp"

HWY_BEFORE_NAMESPACE();
namespace dn::kernels::simd::HWY_NAMESPACE {

void run_wide_winograd_forward(const ConvGeometry& g, const float* x, const float* w, const float* bias,
                               Activation act, float* y, Workspace& ws) {
  const Scratch s = scratch(ws, WideWinogradPlan::packed_size(g), WideWinogradPlan::scratch_size(g));
  const WideWinogradPlan plan(g, w, bias, act, s.shared);
  const Index in_sample = Index(g.H) * g.W * g.C, out_sample = Index(g.OH) * g.OW * g.O;
#pragma omp parallel for schedule(static) if (g.N > 1)
  for (int n = 0; n < g.N; ++n) plan.run(x + n * in_sample, y + n * out_sample, s.mine());
}

void run_wide_forward(const ConvGeometry& g, const float* x, const float* w, const float* bias, Activation act,
                      float* y, Workspace& ws) {
  if (g.N == 0) return;
  if (wide_winograd_fits(g)) return run_wide_winograd_forward(g, x, w, bias, act, y, ws);
  const Scratch s = scratch(ws, WidePlan::shared_size(g), WidePlan::scratch_size(g));
  const float* weights = WidePlan::prepare(g, w, bias, s.shared);
  const WidePlan plan(g, weights, WidePlan::padded_output(g), s.shared, act);
  if (plan.point) {
    const Index pixels = g.rows(), chunk = WidePlan::chunk_pixels(g);
    const Index chunks = (pixels + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (chunks > 1)
    for (Index k = 0; k < chunks; ++k)
      plan.run_pixels(k * chunk, std::min(pixels, (k + 1) * chunk), x, y, s.mine());
    return;
  }
  const Index in_sample = Index(g.H) * g.W * g.C, out_sample = Index(g.OH) * g.OW * g.O;
#pragma omp parallel for schedule(static) if (g.N > 1)
  for (int n = 0; n < g.N; ++n) plan.run_sample(x + n * in_sample, y + n * out_sample, s.mine());
}

}  // namespace dn::kernels::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace dn::kernels::simd {

HWY_EXPORT(run_wide_forward);

bool wide_forward_fits(const ConvGeometry& g) { return detail::wide_forward_fits(g); }

void conv2d_forward_wide(const ConvGeometry& g, const float* x, const float* w, const float* bias, Activation act,
                         float* y, Workspace& ws) {
  apply_environment();
  HWY_DYNAMIC_DISPATCH(run_wide_forward)(g, x, w, bias, act, y, ws);
}

}  // namespace dn::kernels::simd
#endif  // HWY_ONCE

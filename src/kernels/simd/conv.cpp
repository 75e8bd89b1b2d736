// The convolution kernels' entry points, compiled once per SIMD target (Highway's
// foreach_target) and called through run-time dispatch. Each runs one sample (or one
// chunk of the batch) per OpenMP iteration; work is cut from the geometry alone, so
// results are bit-identical for any thread count, batch or block size.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/simd/conv.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "kernels/simd/group-inl.h"
#include "kernels/simd/common-inl.h"
#include "kernels/simd/direct_forward-inl.h"
#include "kernels/simd/winograd-inl.h"
#include "kernels/simd/winograd4-inl.h"
#include "kernels/simd/phase_winograd-inl.h"
#include "kernels/simd/backward_data-inl.h"
#include "kernels/simd/backward_weights-inl.h"
#include "kernels/simd/winograd_weights-inl.h"
#include "kernels/simd/pointwise_weights-inl.h"
#include "kernels/simd/wide_forward-inl.h"
#include "kernels/simd/wide_backward_data-inl.h"
#include "kernels/simd/wide_winograd-inl.h"
#include "kernels/simd/wide_winograd_weights-inl.h"
#include "kernels/simd/unpool-inl.h"

#include <optional>

#include "kernels/pool.hpp"
#include "kernels/simd/simd.hpp"

HWY_BEFORE_NAMESPACE();
namespace dn::kernels::simd::HWY_NAMESPACE {

void run_forward(const ConvGeometry& g, const float* x, const float* w, const float* bias, Activation act,
                float* y, Workspace& ws) {
  const Index in_sample = Index(g.H) * g.W * g.C, out_sample = Index(g.OH) * g.OW * g.O;
  auto each_sample = [&](const auto& plan, const Scratch& s) {
#pragma omp parallel for schedule(static) if (g.N > 1)
    for (int n = 0; n < g.N; ++n) plan.run(x + n * in_sample, y + n * out_sample, s.mine());
  };
  if (winograd_fits(g)) {
    const Scratch s = scratch(ws, WinogradPlan::packed_size(g), WinogradPlan::scratch_size(g));
    winograd_weights(g, w, s.shared);
    return each_sample(WinogradPlan(g, s.shared, bias, act), s);
  }
  const Scratch s = scratch(ws, ForwardPlan::packed_size(g), ForwardPlan::scratch_size(g));
  pack_over_outputs(g, w, s.shared);
  each_sample(ForwardPlan(g, s.shared, bias, act), s);
}

void run_forward_maxpool(const ConvGeometry& g, const float* x, const float* w, const float* bias, Activation act,
                         float* y, std::uint16_t* where, Workspace& ws) {
  const Scratch s = scratch(ws, ForwardPlan::packed_size(g), ForwardPlan::scratch_size(g));
  pack_over_outputs(g, w, s.shared);
  const ForwardPlan plan(g, s.shared, bias, act);
  const Index in_sample = Index(g.H) * g.W * g.C, out_sample = Index(g.OH / 2) * (g.OW / 2) * g.O;
#pragma omp parallel for schedule(static) if (g.N > 1)
  for (int n = 0; n < g.N; ++n)
    plan.run_pooled(x + n * in_sample, y + n * out_sample, where ? where + n * out_sample : nullptr, s.mine());
}

void run_backward_data(const ConvGeometry& g, const float* dy, const float* w, const float* bias,
                          Activation act, float* dx, Workspace& ws) {
  const Index in_sample = Index(g.H) * g.W * g.C, out_sample = Index(g.OH) * g.OW * g.O;
  auto each_sample = [&](const auto& plan, const Scratch& s) {
#pragma omp parallel for schedule(static) if (g.N > 1)
    for (int n = 0; n < g.N; ++n) plan.run(dy + n * out_sample, dx + n * in_sample, s.mine());
  };
  if (phase_winograd_fits(g)) {
    const Scratch s = scratch(ws, PhasePlan::packed_size(g), PhasePlan::scratch_size(g));
    phase_weights(g, w, s.shared);
    return each_sample(PhasePlan(g, s.shared, bias, act), s);
  }
  if (winograd_backward_data_fits(g)) {
    const Scratch s = scratch(ws, FlippedPlan::packed_size(g), FlippedPlan::scratch_size(g));
    return each_sample(FlippedPlan(g, w, s.shared, bias, act), s);
  }
  if (wide_winograd_backward_data_fits(g)) {
    const Scratch s = scratch(ws, WideWinogradDataPlan::packed_size(g), WideWinogradDataPlan::scratch_size(g));
    return each_sample(WideWinogradDataPlan(g, w, s.shared, bias, act), s);
  }
  if (wide_backward_data_fits(g)) {
    const Scratch s = scratch(ws, WideDataPlan::packed_size(g), WideDataPlan::scratch_size(g));
    return each_sample(WideDataPlan(g, w, s.shared, bias, act), s);
  }
  const Scratch s = scratch(ws, DataPlan::packed_size(g), DataPlan::scratch_size(g));
  DataPlan::pack(g, w, s.shared);
  each_sample(DataPlan(g, s.shared, bias, act), s);
}

void run_backward_weights(const ConvGeometry& g, const float* x, const float* dy, float* dw, float* dbias,
                             Workspace& ws) {
  if (pointwise_weights_fits(g)) {
    const Scratch s = scratch(ws, pointwise_packed_dy_size(g), pointwise_packed_x_size(g));
    return pointwise_backward_weights(g, x, dy, dw, dbias, s.shared, s);
  }
  const WeightPlan plan(g);
  const int rows = g.N * g.OH;  // output rows of the batch, cut into chunks
  const WeightChunks chunks(rows, plan.acc_size(), plan.bias_size());
  const Scratch s = scratch(ws, chunks.size * chunks.count, plan.scratch_size());
  const Index in_sample = Index(g.H) * g.W * g.C, out_sample = Index(g.OH) * g.OW * g.O;
  over_chunks(s.shared, chunks, [&](int k) {
    float* acc = s.shared + k * chunks.size;
    std::memset(acc, 0, chunks.size * sizeof(float));
    float* xp = s.mine();
    const int r1 = chunks.first_row(rows, k + 1);
    for (int r = chunks.first_row(rows, k); r < r1;) {  // the chunk's part of each sample it meets
      const int n = r / g.OH, oh0 = r % g.OH, oh1 = std::min(g.OH, oh0 + (r1 - r));
      plan.pad(x + n * in_sample, xp);
      plan.run(xp, dy + n * out_sample, oh0, oh1, acc, acc + plan.acc_size());
      r += oh1 - oh0;
    }
  }, [&](const WeightChunks& one) { add_chunks(s.shared, one, plan.taps, g.O, dw, dbias, g.O); });
}

// A 2x2 max pooling's gradient, routed back to the convolution's output one sample at a
// time (the pooling's backward fused into the convolution's).
struct PooledDy {
  ConvGeometry pool;  // tiled_pairs
  const std::uint16_t* where;
  const float* dy;      // [N,OH/2,OW/2,O]
  const float* relu_y;  // the pooled y, where the pooling takes the ReLU's derivative; else null
};

// One pass over the samples with the weight-gradient plan `weights` (direct or Winograd).
// dz is dy's, or the unpooled gradient of `pooled` (not null; act linear then).
template <class WeightsPlan>
void conv_layer_backward_with(const WeightsPlan& weights, const ConvGeometry& g, const float* x, const float* y,
                              const float* dy, Activation act, const float* w, float* dx, bool relu_dx, float* dw,
                              float* dbias, Workspace& ws, const PooledDy* pooled = nullptr) {
  const WeightChunks chunks(g.N, weights.acc_size(), weights.bias_size());  // whole samples: dx needs all of dz
  const Index out_sample = Index(g.OH) * g.OW * g.O, in_sample = Index(g.H) * g.W * g.C;
  const Index dz_size = round_up(out_sample), weights_scratch = round_up(weights.scratch_size());
  // dx by Winograd (few or many channels), by the wide forward of the flipped
  // convolution, or directly.
  enum class Data { none, winograd, wide_winograd, wide, direct };
  const Data by = !dx                                   ? Data::none
                  : winograd_backward_data_fits(g)      ? Data::winograd
                  : wide_winograd_backward_data_fits(g) ? Data::wide_winograd
                  : wide_backward_data_fits(g)          ? Data::wide
                                                        : Data::direct;
  const Index packed = by == Data::winograd        ? FlippedPlan::packed_size(g)
                       : by == Data::wide_winograd ? WideWinogradDataPlan::packed_size(g)
                       : by == Data::wide          ? WideDataPlan::packed_size(g)
                       : by == Data::direct        ? DataPlan::packed_size(g)
                                                   : 0;
  const Index data_scratch = by == Data::winograd        ? FlippedPlan::scratch_size(g)
                             : by == Data::wide_winograd ? WideWinogradDataPlan::scratch_size(g)
                             : by == Data::wide          ? WideDataPlan::scratch_size(g)
                             : by == Data::direct        ? DataPlan::scratch_size(g)
                                                         : 0;
  const Scratch s = scratch(ws, round_up(packed) + chunks.size * chunks.count, dz_size + weights_scratch + data_scratch);
  std::optional<FlippedPlan> winograd_data;
  std::optional<WideWinogradDataPlan> wide_winograd_data;
  std::optional<WideDataPlan> wide_data;
  std::optional<DataPlan> data;
  if (by == Data::winograd) {
    winograd_data.emplace(g, w, s.shared, nullptr, Activation::linear);
  } else if (by == Data::wide_winograd) {
    wide_winograd_data.emplace(g, w, s.shared, nullptr, Activation::linear);
  } else if (by == Data::wide) {
    wide_data.emplace(g, w, s.shared, nullptr, Activation::linear);
  } else if (by == Data::direct) {
    DataPlan::pack(g, w, s.shared);
    data.emplace(g, s.shared, nullptr, Activation::linear);
  }
  float* partials = s.shared + round_up(packed);
  over_chunks(partials, chunks, [&](int k) {
    float* acc = partials + k * chunks.size;
    std::memset(acc, 0, chunks.size * sizeof(float));
    float* const own = s.mine() + dz_size;
    const auto [n0, n1] = chunk_samples(g, chunks, k);
    for (int n = n0; n < n1; ++n) {
      // dz = act'(y) * dy for this sample only: it stays in cache for both uses. dy itself
      // where the activation is linear, or its ReLU's derivative was left to the next layer.
      const float* dz = s.mine();
      if (pooled)
        unpool_pairs_sample(pooled->pool, n, pooled->where, pooled->dy, pooled->relu_y, s.mine());
      else if (act != Activation::linear)
        activation_backward(act, y + n * out_sample, dy + n * out_sample, s.mine(), Index(g.OH) * g.OW, g.O);
      else
        dz = dy + n * out_sample;
      float* const dxn = dx + n * in_sample;
      if (winograd_data) winograd_data->run(dz, dxn, own + weights_scratch);
      if (wide_winograd_data) wide_winograd_data->run(dz, dxn, own + weights_scratch);
      if (wide_data) wide_data->run(dz, dxn, own + weights_scratch);
      if (data) data->run(dz, dxn, own + weights_scratch);
      // A pass of its own (the data plans store dx in blocks), on a sample still in cache.
      if (dx && relu_dx) activation_backward(Activation::relu, x + n * in_sample, dxn, dxn, Index(g.H) * g.W, g.C);
      weights.accumulate(x + n * in_sample, dz, acc, acc + weights.acc_size(), own);
    }
  }, [&](const WeightChunks& one) { weights.finish(partials, one, dw, dbias, g.O); });
}

void run_conv_layer_backward(const ConvGeometry& g, const float* x, const float* y, const float* dy, Activation act,
                             const float* w, float* dx, bool relu_dx, float* dw, float* dbias, Workspace& ws) {
  if (winograd_backward_weights_fits(g))
    return conv_layer_backward_with(WinogradWeightPlan(g), g, x, y, dy, act, w, dx, relu_dx, dw, dbias, ws);
  if (wide_winograd_backward_weights_fits(g))
    return conv_layer_backward_with(WideWinogradWeightPlan(g), g, x, y, dy, act, w, dx, relu_dx, dw, dbias, ws);
  conv_layer_backward_with(WeightPlan(g), g, x, y, dy, act, w, dx, relu_dx, dw, dbias, ws);
}

void run_conv_maxpool_layer_backward(const ConvGeometry& g, const float* x, const std::uint16_t* where,
                                     const float* pooled_dy, const float* relu_y, const float* w, float* dx,
                                     bool relu_dx, float* dw, float* dbias, Workspace& ws) {
  const PooledDy pooled{pool_geometry(g.N, g.OH, g.OW, g.O, 2, 2, 2, 2, Padding::valid), where, pooled_dy, relu_y};
  if (winograd_backward_weights_fits(g))
    return conv_layer_backward_with(WinogradWeightPlan(g), g, x, nullptr, nullptr, Activation::linear, w, dx,
                                    relu_dx, dw, dbias, ws, &pooled);
  if (wide_winograd_backward_weights_fits(g))
    return conv_layer_backward_with(WideWinogradWeightPlan(g), g, x, nullptr, nullptr, Activation::linear, w, dx,
                                    relu_dx, dw, dbias, ws, &pooled);
  conv_layer_backward_with(WeightPlan(g), g, x, nullptr, nullptr, Activation::linear, w, dx, relu_dx, dw, dbias, ws,
                           &pooled);
}

// chains[0..3] += the pixels of dz [pixels, C] (C <= 16), pixel i into chain i % 4 and
// the last pixels % 4 into chain 0: four chains of adds, so that the adds overlap. A
// function of its own keeps the chains in registers (the caller's calls would spill
// them). Whole groups where they end inside dz: lanes past C only reach lanes left out.
HWY_NOINLINE void add_pixels_in_chains(const float* dz, Index pixels, int C, float* chains) {
  const Index size = pixels * C;
  auto pixel = [&](Index p) { return p + kLanes <= size ? LoadU(dz + p) : LoadFirst(C, dz + p); };
  V b0 = Load(chains), b1 = Load(chains + kLanes), b2 = Load(chains + 2 * kLanes), b3 = Load(chains + 3 * kLanes);
  Index p = 0;
  for (; p + 4 * C <= size; p += 4 * C) {
    b0 = Add(b0, pixel(p));
    b1 = Add(b1, pixel(p + C));
    b2 = Add(b2, pixel(p + 2 * C));
    b3 = Add(b3, pixel(p + 3 * C));
  }
  for (; p < size; p += C) b0 = Add(b0, pixel(p));
  Store(b0, chains), Store(b1, chains + kLanes), Store(b2, chains + 2 * kLanes), Store(b3, chains + 3 * kLanes);
}

void run_conv_transpose_layer_backward(const ConvGeometry& g, const float* x, const float* y, const float* dy,
                                       Activation act, const float* w, float* dx, bool relu_dx, float* dw,
                                       float* dbias, Workspace& ws) {
  // The layer's output is the convolution's input: dz [H,W,C] plays x, the layer's input
  // x [OH,OW,O] plays the output gradient.
  const WeightPlan weights(g);
  const WeightChunks chunks(g.N, weights.acc_size(), weights.bias_size());
  const Index out_sample = Index(g.OH) * g.OW * g.O, in_sample = Index(g.H) * g.W * g.C;
  const Index dz_size = round_up(in_sample), weights_scratch = round_up(weights.scratch_size());
  const Index chains_size = 4 * kLanes;
  const Scratch s = scratch(ws, ForwardPlan::packed_size(g) + chunks.size * chunks.count,
                            dz_size + chains_size + weights_scratch + (dx ? ForwardPlan::scratch_size(g) : 0));
  pack_over_outputs(g, w, s.shared);
  const ForwardPlan forward(g, s.shared, nullptr, Activation::linear);
  float* partials = s.shared + round_up(ForwardPlan::packed_size(g));
  over_chunks(partials, chunks, [&](int k) {
    float* acc = partials + k * chunks.size;
    std::memset(acc, 0, chunks.size * sizeof(float));
    float* const chains = s.mine() + dz_size;
    float* const own = chains + chains_size;
    std::memset(chains, 0, chains_size * sizeof(float));
    const auto [n0, n1] = chunk_samples(g, chunks, k);
    for (int n = n0; n < n1; ++n) {
      const float* dz = dy + n * in_sample;
      if (act != Activation::linear) {
        activation_backward(act, y + n * in_sample, dz, s.mine(), Index(g.H) * g.W, g.C);
        dz = s.mine();
      }
      add_pixels_in_chains(dz, Index(g.H) * g.W, g.C, chains);
      // The layer's input x is what the ReLU before it made: its derivative gates dx.
      if (dx) forward.run(dz, dx + n * out_sample, own + weights_scratch, relu_dx ? x + n * out_sample : nullptr);
      weights.accumulate(dz, x + n * out_sample, acc, nullptr, own);
    }
    const V sum01 = Add(Load(chains), Load(chains + kLanes));
    Store(Add(sum01, Add(Load(chains + 2 * kLanes), Load(chains + 3 * kLanes))), acc + weights.acc_size());
  }, [&](const WeightChunks& one) { weights.finish(partials, one, dw, dbias, g.C); });
}

}  // namespace dn::kernels::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace dn::kernels::simd {

HWY_EXPORT(run_forward);
HWY_EXPORT(run_forward_maxpool);
HWY_EXPORT(run_backward_data);
HWY_EXPORT(run_backward_weights);
HWY_EXPORT(run_conv_layer_backward);
HWY_EXPORT(run_conv_transpose_layer_backward);
HWY_EXPORT(run_conv_maxpool_layer_backward);

bool forward_fits(const ConvGeometry& g) { return direct_forward_fits(g); }

bool forward_maxpool_fits(const ConvGeometry& g, Activation act) {
  return direct_forward_fits(g) && !winograd_fits(g) && fused(act) && g.OH % 2 == 0 && g.OW % 2 == 0;
}

bool backward_data_fits(const ConvGeometry& g) {
  return direct_backward_data_fits(g) || wide_backward_data_fits(g) || pointwise_backward_data_fits(g);
}

bool backward_weights_fits(const ConvGeometry& g) {
  return direct_backward_weights_fits(g) || pointwise_weights_fits(g);
}

// The layer's backward runs one sample at a time, which would stream a pointwise layer's
// whole weight matrix per sample: those take backward-data and -weights over the batch.
bool conv_layer_backward_fits(const ConvGeometry& g, bool with_dx) {
  return !pointwise(g) && backward_weights_fits(g) && (!with_dx || backward_data_fits(g));
}

bool conv_maxpool_layer_backward_fits(const ConvGeometry& g, bool with_dx) {
  return conv_layer_backward_fits(g, with_dx) && g.OH % 2 == 0 && g.OW % 2 == 0 && g.O <= kLanes;
}

bool conv_transpose_layer_backward_fits(const ConvGeometry& g, bool with_dx) {
  return backward_weights_fits(g) && g.C <= kLanes && (!with_dx || forward_fits(g));
}

void conv2d_forward(const ConvGeometry& g, const float* x, const float* w, const float* bias, Activation act,
                    float* y, Workspace& ws) {
  apply_environment();
  HWY_DYNAMIC_DISPATCH(run_forward)(g, x, w, bias, act, y, ws);
}

void conv2d_forward_maxpool(const ConvGeometry& g, const float* x, const float* w, const float* bias, Activation act,
                            float* y, std::uint16_t* where, Workspace& ws) {
  apply_environment();
  HWY_DYNAMIC_DISPATCH(run_forward_maxpool)(g, x, w, bias, act, y, where, ws);
}

void conv2d_backward_data(const ConvGeometry& g, const float* dy, const float* w, const float* bias,
                          Activation act, float* dx, Workspace& ws) {
  apply_environment();
  if (pointwise_backward_data_fits(g)) {
    // Not in ws: the wide forward packs its weights there, from these.
    thread_local std::vector<float> transposed;
    transposed.resize(Index(g.C) * g.O);
    flip_weights(g, w, transposed.data());
    return conv2d_forward_wide(flipped(g), dy, transposed.data(), bias, act, dx, ws);
  }
  HWY_DYNAMIC_DISPATCH(run_backward_data)(g, dy, w, bias, act, dx, ws);
}

void conv2d_backward_weights(const ConvGeometry& g, const float* x, const float* dy, float* dw, float* dbias,
                             Workspace& ws) {
  apply_environment();
  HWY_DYNAMIC_DISPATCH(run_backward_weights)(g, x, dy, dw, dbias, ws);
}

void conv_layer_backward(const ConvGeometry& g, const float* x, const float* y, const float* dy, Activation act,
                         const float* w, float* dx, bool relu_dx, float* dw, float* dbias, Workspace& ws) {
  apply_environment();
  HWY_DYNAMIC_DISPATCH(run_conv_layer_backward)(g, x, y, dy, act, w, dx, relu_dx, dw, dbias, ws);
}

void conv_maxpool_layer_backward(const ConvGeometry& g, const float* x, const std::uint16_t* where,
                                 const float* pooled_dy, const float* relu_y, const float* w, float* dx, bool relu_dx,
                                 float* dw, float* dbias, Workspace& ws) {
  apply_environment();
  HWY_DYNAMIC_DISPATCH(run_conv_maxpool_layer_backward)(g, x, where, pooled_dy, relu_y, w, dx, relu_dx, dw, dbias,
                                                        ws);
}

void conv_transpose_layer_backward(const ConvGeometry& g, const float* x, const float* y, const float* dy,
                                   Activation act, const float* w, float* dx, bool relu_dx, float* dw,
                                   float* dbias, Workspace& ws) {
  apply_environment();
  HWY_DYNAMIC_DISPATCH(run_conv_transpose_layer_backward)(g, x, y, dy, act, w, dx, relu_dx, dw, dbias, ws);
}

}  // namespace dn::kernels::simd
#endif  // HWY_ONCE

#include "nn/inference.hpp"

#include <algorithm>
#include <cstring>
#include <exception>
#include <memory>
#include <vector>

#include <omp.h>

#include "nn/layers/conv.hpp"
#include "nn/layers/pooling.hpp"
#include "nn/sequential.hpp"

namespace dn {

static Shape with_batch(std::size_t n, const Shape& per_sample) {
  Shape s{static_cast<int>(n)};
  s.insert(s.end(), per_sample.begin(), per_sample.end());
  return s;
}

void gather_rows(const Tensor& src, const std::vector<std::size_t>& idx, std::size_t begin, std::size_t count,
                 Tensor& dst) {
  const Shape per_sample(src.shape().begin() + 1, src.shape().end());
  const std::size_t row = shape_size(per_sample);
  dst.resize(with_batch(count, per_sample));
  for (std::size_t i = 0; i < count; ++i)
    std::memcpy(dst.data() + i * row, src.data() + idx[begin + i] * row, row * sizeof(float));
}

void slice_rows(const Tensor& src, std::size_t begin, std::size_t count, Tensor& dst) {
  const Shape per_sample(src.shape().begin() + 1, src.shape().end());
  const std::size_t row = shape_size(per_sample);
  dst.resize(with_batch(count, per_sample));
  std::memcpy(dst.data(), src.data() + begin * row, count * row * sizeof(float));
}

static void collect_leaves(Layer& layer, std::vector<Layer*>& out) {
  if (auto* stack = dynamic_cast<Sequential*>(&layer)) {
    for (Layer* child : stack->children()) collect_leaves(*child, out);
    return;
  }
  out.push_back(&layer);
}

InferencePlan::InferencePlan(Layer& model) {
  collect_leaves(model, layers_);
  pooled_conv_.assign(layers_.size(), nullptr);
  for (std::size_t i = 0; i + 1 < layers_.size(); ++i) {
    auto* conv = dynamic_cast<Conv2D*>(layers_[i]);
    const auto* pool = dynamic_cast<const MaxPooling2D*>(layers_[i + 1]);
    if (conv && pool && pool->halves()) pooled_conv_[i] = conv;
  }
  outputs_.resize(layers_.size());
}

std::size_t InferencePlan::fused_pairs() const {
  return static_cast<std::size_t>(std::count_if(pooled_conv_.begin(), pooled_conv_.end(),
                                                [](const Conv2D* conv) { return conv != nullptr; }));
}

void InferencePlan::run_block(const Tensor& x, Tensor& y) {
  const std::size_t n = layers_.size();
  const Tensor* in = &x;
  for (std::size_t i = 0; i < n; ++i) {
    // A convolution and its pooling in one pass, where the kernels take this geometry.
    if (pooled_conv_[i]) {
      Tensor& out = (i + 2 == n) ? y : outputs_[i + 1];
      if (pooled_conv_[i]->forward_maxpool(*in, out)) {
        in = &out;
        ++i;
        continue;
      }
    }
    Tensor& out = (i + 1 == n) ? y : outputs_[i];
    layers_[i]->forward(*in, out, false);
    in = &out;
  }
}

void InferencePlan::run(const Tensor& x, Tensor& y) {
  const std::size_t batch = x.rank() > 0 ? static_cast<std::size_t>(x.dim(0)) : 0;
  if (batch <= static_cast<std::size_t>(kInferenceBlock)) {
    run_block(x, y);
    return;
  }
  for (std::size_t begin = 0; begin < batch; begin += kInferenceBlock) {
    const std::size_t count = std::min<std::size_t>(kInferenceBlock, batch - begin);
    slice_rows(x, begin, count, xb_);
    run_block(xb_, yb_);
    const std::size_t out_row = yb_.size() / count;
    if (begin == 0) y.resize(with_batch(batch, Shape(yb_.shape().begin() + 1, yb_.shape().end())));
    std::memcpy(y.data() + begin * out_row, yb_.data(), count * out_row * sizeof(float));
  }
}

void predict(Layer& model, const Tensor& x, Tensor& out, int batch_size) {
  const std::size_t n = static_cast<std::size_t>(x.dim(0));
  if (n == 0) {  // nothing to run: the built output shape, free axes empty
    Shape per_sample = model.output_shape();
    std::replace(per_sample.begin(), per_sample.end(), kNone, 0);
    out.resize(with_batch(0, per_sample));
    return;
  }
  const std::size_t blocks = (n + kInferenceBlock - 1) / kInferenceBlock;
  const int threads = omp_in_parallel() ? 1 : static_cast<int>(std::min<std::size_t>(omp_get_max_threads(), blocks));
  const std::size_t step = threads <= 1 ? static_cast<std::size_t>(batch_size) : kInferenceBlock;
  // The first step runs here: its output's shape, which follows from x's, sizes out.
  InferencePlan plan(model);
  Tensor xb, yb;
  const std::size_t first = std::min(step, n);
  slice_rows(x, 0, first, xb);
  plan.run(xb, yb);
  out.resize(with_batch(n, Shape(yb.shape().begin() + 1, yb.shape().end())));
  const std::size_t out_row = yb.size() / first;
  std::memcpy(out.data(), yb.data(), yb.size() * sizeof(float));
  if (threads <= 1) {
    for (std::size_t begin = first; begin < n; begin += step) {
      const std::size_t count = std::min(step, n - begin);
      slice_rows(x, begin, count, xb);
      plan.run(xb, yb);
      std::memcpy(out.data() + begin * out_row, yb.data(), count * out_row * sizeof(float));
    }
    return;
  }
  std::vector<std::unique_ptr<Layer>> copies;
  for (int t = 1; t < threads; ++t) copies.push_back(model.clone());
  std::exception_ptr failure;
#pragma omp parallel num_threads(threads)
  {
    // The kernels' own parallel loops run on this thread alone.
    omp_set_num_threads(1);
    const int t = omp_get_thread_num();
    std::unique_ptr<InferencePlan> own;
    if (t > 0) own = std::make_unique<InferencePlan>(*copies[static_cast<std::size_t>(t - 1)]);
    InferencePlan& mine = t == 0 ? plan : *own;
    Tensor xt, yt;
#pragma omp for schedule(dynamic)
    for (std::size_t b = 1; b < blocks; ++b) {
      try {
        const std::size_t begin = b * kInferenceBlock, count = std::min<std::size_t>(kInferenceBlock, n - begin);
        slice_rows(x, begin, count, xt);
        mine.run(xt, yt);
        std::memcpy(out.data() + begin * out_row, yt.data(), count * out_row * sizeof(float));
      } catch (...) {
#pragma omp critical(dn_predict_failure)
        if (!failure) failure = std::current_exception();
      }
    }
  }
  if (failure) std::rethrow_exception(failure);
}

}  // namespace dn

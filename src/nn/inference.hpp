#pragma once
// Inference: a model laid out for speed (InferencePlan) and batched prediction over a
// whole set (predict). The layers know nothing of this: fusions and blocking are
// decided here, from the model's leaf layers.
#include <memory>
#include <vector>

#include "nn/layer.hpp"

namespace dn {

class Conv2D;

// Samples that go through a whole model at a time in inference: their activations
// stay in a core's cache from one layer to the next, where a whole batch's would go
// out to memory after every layer.
inline constexpr int kInferenceBlock = 16;

// A built model as inference runs it: nested Sequentials flattened into their leaf
// layers, and each Conv2D followed by a 2x2, stride-2 MaxPooling2D run with it in one
// pass (Conv2D::forward_maxpool) wherever the kernels take the geometry, the
// convolution's output never stored. The result is bit for bit the model's forward.
// The plan points into the model, which must outlive it; one plan per thread, each
// over its own copy of the model (Layer::clone).
class InferencePlan {
 public:
  explicit InferencePlan(Layer& model);

  // x (N, in...) -> y (N, out...), kInferenceBlock samples at a time.
  void run(const Tensor& x, Tensor& y);

  // Leaf layers, and the Conv2D + MaxPooling2D pairs among them planned as one pass.
  std::size_t layers() const { return layers_.size(); }
  std::size_t fused_pairs() const;

 private:
  void run_block(const Tensor& x, Tensor& y);

  std::vector<Layer*> layers_;
  std::vector<Conv2D*> pooled_conv_;  // pooled_conv_[i]: layers_[i] as a Conv2D when a halving pool follows it
  std::vector<Tensor> outputs_;       // outputs_[i] = output of layers_[i] (the last writes into the caller's y)
  Tensor xb_, yb_;                    // one block of a larger batch
};

// out is resized to [N, model output...] (the sizes that follow from x's); x's first
// axis is the sample axis. On one thread, batch_size samples are copied in and out at
// a time. With several OpenMP threads, each thread runs its own copy of the model
// (Layer::clone) over blocks of kInferenceBlock samples, so that no layer waits on
// another thread. The result is the same either way: every sample is computed on its own.
void predict(Layer& model, const Tensor& x, Tensor& out, int batch_size = 256);

// Copy rows idx[begin, begin+count) of src (first axis) into dst, resizing it.
void gather_rows(const Tensor& src, const std::vector<std::size_t>& idx, std::size_t begin, std::size_t count,
                 Tensor& dst);
// Copy the contiguous rows [begin, begin+count) of src into dst, resizing it.
void slice_rows(const Tensor& src, std::size_t begin, std::size_t count, Tensor& dst);

}  // namespace dn

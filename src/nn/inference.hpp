#pragma once
// Batched inference: run a whole set through a built model.
#include "nn/layer.hpp"

namespace dn {

// Samples that go through a whole model at a time in inference: their activations
// stay in a core's cache from one layer to the next.
inline constexpr int kInferenceBlock = 16;

// out is resized to [N, model output shape...]; x's first axis is the sample axis.
// On one thread, batch_size samples go in at a time. With several OpenMP threads, each
// thread runs its own copy of the model (Layer::clone) over blocks of kInferenceBlock
// samples, so that no layer waits on another thread. The result is the same either way:
// every sample is computed on its own.
void predict(Layer& model, const Tensor& x, Tensor& out, int batch_size = 256);

// Copy rows idx[begin, begin+count) of src (first axis) into dst, resizing it.
void gather_rows(const Tensor& src, const std::vector<std::size_t>& idx, std::size_t begin, std::size_t count,
                 Tensor& dst);
// Copy the contiguous rows [begin, begin+count) of src into dst, resizing it.
void slice_rows(const Tensor& src, std::size_t begin, std::size_t count, Tensor& dst);

}  // namespace dn

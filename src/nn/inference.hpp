#pragma once
// Batched inference: run a whole set through a built model.
#include "nn/layer.hpp"

namespace dn {

// out is resized to [N, model output shape...]; x's first axis is the sample axis.
void predict(Layer& model, const Tensor& x, Tensor& out, int batch_size = 256);

// Copy rows idx[begin, begin+count) of src (first axis) into dst, resizing it.
void gather_rows(const Tensor& src, const std::vector<std::size_t>& idx, std::size_t begin, std::size_t count,
                 Tensor& dst);
// Copy the contiguous rows [begin, begin+count) of src into dst, resizing it.
void slice_rows(const Tensor& src, std::size_t begin, std::size_t count, Tensor& dst);

}  // namespace dn

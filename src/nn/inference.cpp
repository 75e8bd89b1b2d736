#include "nn/inference.hpp"

#include <algorithm>
#include <cstring>

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

void predict(Layer& model, const Tensor& x, Tensor& out, int batch_size) {
  const std::size_t n = static_cast<std::size_t>(x.dim(0));
  out.resize(with_batch(n, model.output_shape()));
  const std::size_t out_row = shape_size(model.output_shape());
  Tensor xb, yb;
  for (std::size_t begin = 0; begin < n; begin += static_cast<std::size_t>(batch_size)) {
    const std::size_t count = std::min<std::size_t>(static_cast<std::size_t>(batch_size), n - begin);
    slice_rows(x, begin, count, xb);
    model.forward(xb, yb, false);
    std::memcpy(out.data() + begin * out_row, yb.data(), count * out_row * sizeof(float));
  }
}

}  // namespace dn

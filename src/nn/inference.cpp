#include "nn/inference.hpp"

#include <algorithm>
#include <cstring>
#include <exception>
#include <memory>
#include <vector>

#include <omp.h>

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
  const std::size_t blocks = (n + kInferenceBlock - 1) / kInferenceBlock;
  const int threads = omp_in_parallel() ? 1 : static_cast<int>(std::min<std::size_t>(omp_get_max_threads(), blocks));
  if (threads <= 1) {
    Tensor xb, yb;
    for (std::size_t begin = 0; begin < n; begin += static_cast<std::size_t>(batch_size)) {
      const std::size_t count = std::min<std::size_t>(static_cast<std::size_t>(batch_size), n - begin);
      slice_rows(x, begin, count, xb);
      model.forward(xb, yb, false);
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
    Layer& mine = t == 0 ? model : *copies[static_cast<std::size_t>(t - 1)];
    Tensor xb, yb;
#pragma omp for schedule(dynamic)
    for (std::size_t b = 0; b < blocks; ++b) {
      try {
        const std::size_t begin = b * kInferenceBlock, count = std::min<std::size_t>(kInferenceBlock, n - begin);
        slice_rows(x, begin, count, xb);
        mine.forward(xb, yb, false);
        std::memcpy(out.data() + begin * out_row, yb.data(), count * out_row * sizeof(float));
      } catch (...) {
#pragma omp critical(dn_predict_failure)
        if (!failure) failure = std::current_exception();
      }
    }
  }
  if (failure) std::rethrow_exception(failure);
}

}  // namespace dn

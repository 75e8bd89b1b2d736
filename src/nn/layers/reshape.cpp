#include "nn/layers/reshape.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/core.h>

#include "core/error.hpp"

namespace dn {

Reshape::Reshape(Shape target_shape) : target_shape_(std::move(target_shape)) {
  const auto inferred = std::count(target_shape_.begin(), target_shape_.end(), -1);
  const bool ok = inferred <= 1 && std::all_of(target_shape_.begin(), target_shape_.end(),
                                               [](int d) { return d == -1 || d >= 1; });
  if (!ok)
    throw UsageError(fmt::format("Reshape target {} needs sizes >= 1 and at most one -1", shape_str(target_shape_)));
}

Shape Reshape::build(const Shape& input_shape, Rng& /*rng*/) {
  const std::size_t total = shape_size(input_shape);
  Shape out = target_shape_;
  std::size_t known = 1;
  for (int d : out)
    if (d != -1) known *= static_cast<std::size_t>(d);
  const auto inferred = std::find(out.begin(), out.end(), -1);
  if (inferred != out.end() && known > 0 && total % known == 0) *inferred = static_cast<int>(total / known);
  if (shape_size(out) != total || std::count(out.begin(), out.end(), -1))
    throw UsageError(
        fmt::format("{} cannot reshape {} to {}", type(), shape_str(input_shape), shape_str(target_shape_)));
  input_shape_ = input_shape;
  output_shape_ = out;
  return output_shape_;
}

void Reshape::forward(const Tensor& x, Tensor& y, bool /*training*/) {
  y.resize(batch_shape(batch_size(*this, x), output_shape_));
  std::memcpy(y.data(), x.data(), x.size() * sizeof(float));
}

void Reshape::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  batch_size(*this, x);
  check_output_grad(*this, y, dy);
  if (!dx) return;
  dx->resize(x.shape());
  std::memcpy(dx->data(), dy.data(), dy.size() * sizeof(float));
}

nlohmann::json Reshape::config() const { return layer_config(*this, {{"target_shape", target_shape_}}); }

}  // namespace dn

#include "nn/layers/activation_layer.hpp"

#include <fmt/core.h>

#include "core/error.hpp"

namespace dn {

Shape ActivationLayer::build(const Shape& input_shape, Rng& /*rng*/) {
  if (input_shape.empty()) throw UsageError("Activation needs an input with at least one axis");
  input_shape_ = output_shape_ = input_shape;
  return output_shape_;
}

// x (N, ..., C) -> y like x; softmax over C.
void ActivationLayer::forward(const Tensor& x, Tensor& y, bool /*training*/) {
  check_features(*this, x, kNone);
  y = x;
  const int channels = x.dim(-1);
  kernels::activation_forward(activation_, y.data(), y.size() / channels, channels);
}

void ActivationLayer::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  check_features(*this, x, kNone);
  check_output_grad(*this, y, dy);
  if (!dx) return;
  dx->resize(x.shape());
  const int channels = y.dim(-1);
  kernels::activation_backward(activation_, y.data(), dy.data(), dx->data(), y.size() / channels, channels);
}

nlohmann::json ActivationLayer::config() const {
  return layer_config(*this, {{"activation", activation_name(activation_)}});
}

}  // namespace dn

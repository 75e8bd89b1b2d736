#include "nn/layers/dense.hpp"

#include <fmt/core.h>

#include "core/error.hpp"
#include "nn/initializers.hpp"

namespace dn {

Dense::Dense(int units, Activation activation) : units_(units), activation_(activation) {
  if (units < 1) throw UsageError(fmt::format("Dense needs units >= 1 (got {})", units));
}

// x (..., in): one 1x1 "image" row per position of the leading axes.
ConvGeometry Dense::geometry(const Tensor& x) const {
  const int in = kernel_.value.dim(0);
  check_features(*this, x, in);
  return conv_geometry(static_cast<int>(x.size() / in), 1, 1, in, units_, 1, 1, 1, 1, Padding::valid);
}

Shape Dense::build(const Shape& input_shape, Rng& rng) {
  if (input_shape.empty() || input_shape.back() < 1)
    throw UsageError(fmt::format("Dense needs an input with a known last axis, got {}", shape_str(input_shape)));
  input_shape_ = output_shape_ = input_shape;
  output_shape_.back() = units_;
  reset_param(kernel_, "kernel", {input_shape.back(), units_});
  glorot_uniform(kernel_.value, rng);
  reset_param(bias_, "bias", {units_});
  return output_shape_;
}

// x (N, ..., in) -> y (N, ..., units)
void Dense::forward(const Tensor& x, Tensor& y, bool /*training*/) {
  const ConvGeometry g = geometry(x);
  Shape out = x.shape();
  out.back() = units_;
  y.resize(out);
  kernels::conv2d_forward(g, x.data(), kernel_.value.data(), bias_.value.data(), activation_, y.data(), ws_);
}

// x, y of the forward; dy like y, dx like x.
void Dense::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  const ConvGeometry g = geometry(x);
  check_output_grad(*this, y, dy);
  if (dx) dx->resize(x.shape());
  dz_.resize(y.shape());
  // The ReLU's derivative is not applied here where the next layer took it.
  const Activation act = relu_left_ ? Activation::linear : activation_;
  kernels::conv_layer_backward(g, x.data(), y.data(), dy.data(), act, kernel_.value.data(), dx ? dx->data() : nullptr,
                               relu_taken_, kernel_.grad.data(), bias_.grad.data(), dz_.data(), ws_);
}

nlohmann::json Dense::config() const {
  return layer_config(*this, {{"units", units_}, {"activation", activation_name(activation_)}});
}

}  // namespace dn

#include "nn/layers/dense.hpp"

#include <fmt/core.h>

#include "core/error.hpp"
#include "nn/initializers.hpp"

namespace dn {

Dense::Dense(int units, Activation activation) : units_(units), activation_(activation) {
  if (units < 1) throw UsageError(fmt::format("Dense needs units >= 1 (got {})", units));
}

ConvGeometry Dense::geometry(const Tensor& x) const {
  batch_size(*this, x);
  const int in = input_shape_.back();
  return conv_geometry(static_cast<int>(x.size() / in), 1, 1, in, units_, 1, 1, 1, 1, Padding::valid);
}

Shape Dense::build(const Shape& input_shape, Rng& rng) {
  if (input_shape.empty()) throw UsageError("Dense needs an input with at least one axis");
  input_shape_ = output_shape_ = input_shape;
  output_shape_.back() = units_;
  reset_param(kernel_, "kernel", {input_shape.back(), units_});
  glorot_uniform(kernel_.value, rng);
  reset_param(bias_, "bias", {units_});
  return output_shape_;
}

void Dense::forward(const Tensor& x, Tensor& y, bool /*training*/) {
  const ConvGeometry g = geometry(x);
  y.resize(batch_shape(x.dim(0), output_shape_));
  kernels::conv2d_forward(g, x.data(), kernel_.value.data(), bias_.value.data(), activation_, y.data(), ws_);
}

void Dense::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  const ConvGeometry g = geometry(x);
  check_output_grad(*this, y, dy);
  if (dx) dx->resize(x.shape());
  dz_.resize(y.shape());
  kernels::conv_layer_backward(g, x.data(), y.data(), dy.data(), activation_, kernel_.value.data(),
                               dx ? dx->data() : nullptr, kernel_.grad.data(), bias_.grad.data(), dz_.data(), ws_);
}

nlohmann::json Dense::config() const {
  return layer_config(*this, {{"units", units_}, {"activation", activation_name(activation_)}});
}

}  // namespace dn

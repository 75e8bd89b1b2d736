#include "nn/layers/pooling.hpp"

#include <stdexcept>

#include <fmt/core.h>

#include "core/error.hpp"

namespace dn {

MaxPooling2D::MaxPooling2D(Size2 pool_size, std::optional<Size2> strides, Padding padding)
    : pool_size_(pool_size), strides_(strides.value_or(pool_size)), padding_(padding) {
  if (pool_size_.h < 1 || pool_size_.w < 1 || strides_.h < 1 || strides_.w < 1)
    throw UsageError(fmt::format("MaxPooling2D needs pool size and strides >= 1 (got {}x{}, {}x{})", pool_size_.h,
                                 pool_size_.w, strides_.h, strides_.w));
  if (static_cast<long long>(pool_size_.h) * pool_size_.w > kernels::kMaxPoolTaps)
    throw UsageError(fmt::format("MaxPooling2D pool size {}x{} has more than {} taps", pool_size_.h, pool_size_.w,
                                 kernels::kMaxPoolTaps));
}

ConvGeometry MaxPooling2D::geometry(int batch, int height, int width) const {
  return pool_geometry(batch, height, width, input_shape_[2], pool_size_.h, pool_size_.w, strides_.h, strides_.w,
                       padding_);
}

// x (N,H,W,C), any H and W; the output size follows from them.
ConvGeometry MaxPooling2D::geometry(const Tensor& x) const {
  const ImageSize s = check_image_input(*this, x, input_shape_[2]);
  return geometry(s.N, s.H, s.W);
}

Shape MaxPooling2D::build(const Shape& input_shape, Rng& /*rng*/) {
  if (input_shape.size() != 3 || input_shape[2] < 1)
    throw UsageError(fmt::format("MaxPooling2D needs (height, width, channels) input with known channels, got {}",
                                 shape_str(input_shape)));
  input_shape_ = input_shape;
  const int h = input_shape[0], w = input_shape[1];
  const ConvGeometry g = geometry(1, known_or(h, pool_size_.h), known_or(w, pool_size_.w));
  output_shape_ = {free_if(h, g.OH), free_if(w, g.OW), g.C};
  return output_shape_;
}

// x (N,H,W,C) -> y (N,OH,OW,C)
void MaxPooling2D::forward(const Tensor& x, Tensor& y, bool training) {
  const ConvGeometry g = geometry(x);
  y.resize({g.N, g.OH, g.OW, g.C});
  // Inference never routes a gradient back, so it records no winning taps.
  where_.resize(training ? y.size() : 0);
  kernels::maxpool_forward(g, x.data(), y.data(), training ? where_.data() : nullptr);
}

// x, y of the forward; dy like y, dx like x.
void MaxPooling2D::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  const ConvGeometry g = geometry(x);
  check_output_grad(*this, y, dy);
  if (!dx) return;
  if (where_.size() != dy.size())
    throw std::logic_error(name() + ": backward needs a training forward of the same batch first");
  dx->resize(x.shape());
  kernels::maxpool_backward(g, where_.data(), dy.data(), relu_taken_ ? y.data() : nullptr, dx->data());
}

nlohmann::json MaxPooling2D::config() const {
  return layer_config(*this, {{"pool_size", pool_size_.json()},
                              {"strides", strides_.json()},
                              {"padding", padding_name(padding_)}});
}

}  // namespace dn

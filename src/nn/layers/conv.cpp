#include "nn/layers/conv.hpp"

#include <fmt/core.h>

#include "core/error.hpp"
#include "nn/initializers.hpp"
#include "nn/layers/pooling.hpp"

namespace dn {

ConvLayerBase::ConvLayerBase(int filters, Size2 kernel_size, Size2 strides, Padding padding, Activation activation)
    : filters_(filters), kernel_size_(kernel_size), strides_(strides), padding_(padding), activation_(activation) {
  if (filters < 1 || kernel_size.h < 1 || kernel_size.w < 1 || strides.h < 1 || strides.w < 1)
    throw UsageError(fmt::format("convolution needs filters, kernel size and strides >= 1 (got {}, {}x{}, {}x{})",
                                 filters, kernel_size.h, kernel_size.w, strides.h, strides.w));
}

nlohmann::json ConvLayerBase::config() const {
  return layer_config(*this, {{"filters", filters_},
                              {"kernel_size", kernel_size_.json()},
                              {"strides", strides_.json()},
                              {"padding", padding_name(padding_)},
                              {"activation", activation_name(activation_)}});
}

void ConvLayerBase::build_params(const Shape& kernel_shape, Rng& rng) {
  reset_param(kernel_, "kernel", kernel_shape);
  glorot_uniform(kernel_.value, rng);
  reset_param(bias_, "bias", {filters_});
}

static void require_image_input(const Layer& layer, const Shape& input_shape) {
  if (input_shape.size() != 3)
    throw UsageError(fmt::format("{} needs (height, width, channels) input, got {}", layer.type(),
                                 shape_str(input_shape)));
}

// --- Conv2D ---

ConvGeometry Conv2D::geometry(int batch) const {
  const Shape& in = input_shape_;
  return conv_geometry(batch, in[0], in[1], in[2], filters_, kernel_size_.h, kernel_size_.w, strides_.h, strides_.w,
                       padding_);
}

Shape Conv2D::build(const Shape& input_shape, Rng& rng) {
  require_image_input(*this, input_shape);
  input_shape_ = input_shape;
  const ConvGeometry g = geometry(1);
  output_shape_ = {g.OH, g.OW, g.O};
  build_params({kernel_size_.h, kernel_size_.w, g.C, filters_}, rng);
  return output_shape_;
}

void Conv2D::forward(const Tensor& x, Tensor& y, bool /*training*/) {
  const ConvGeometry g = geometry(batch_size(*this, x));
  y.resize(batch_shape(g.N, output_shape_));
  kernels::conv2d_forward(g, x.data(), kernel_.value.data(), bias_.value.data(), activation_, y.data(), ws_);
}

bool Conv2D::forward_with_next(const Tensor& x, Layer& next, Tensor& y) {
  const auto* pool = dynamic_cast<const MaxPooling2D*>(&next);
  if (!pool || !pool->halves()) return false;
  const ConvGeometry g = geometry(batch_size(*this, x));
  if (!kernels::conv2d_maxpool_fits(g, activation_)) return false;
  y.resize(batch_shape(g.N, pool->output_shape()));
  kernels::conv2d_forward_maxpool(g, x.data(), kernel_.value.data(), bias_.value.data(), activation_, y.data(), ws_);
  return true;
}

void Conv2D::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  const ConvGeometry g = geometry(batch_size(*this, x));
  check_output_grad(*this, y, dy);
  if (dx) dx->resize(x.shape());
  dz_.resize(y.shape());
  kernels::conv_layer_backward(g, x.data(), y.data(), dy.data(), activation_, kernel_.value.data(),
                               dx ? dx->data() : nullptr, kernel_.grad.data(), bias_.grad.data(), dz_.data(), ws_);
}

// --- Conv2DTranspose ---

ConvGeometry Conv2DTranspose::geometry(int batch) const {
  const Shape& in = input_shape_;
  return conv_transpose_geometry(batch, in[0], in[1], in[2], filters_, kernel_size_.h, kernel_size_.w, strides_.h,
                                 strides_.w, padding_);
}

Shape Conv2DTranspose::build(const Shape& input_shape, Rng& rng) {
  require_image_input(*this, input_shape);
  input_shape_ = input_shape;
  const ConvGeometry g = geometry(1);
  output_shape_ = {g.H, g.W, g.C};
  build_params({kernel_size_.h, kernel_size_.w, filters_, g.O}, rng);
  return output_shape_;
}

void Conv2DTranspose::forward(const Tensor& x, Tensor& y, bool /*training*/) {
  const ConvGeometry g = geometry(batch_size(*this, x));
  y.resize(batch_shape(g.N, output_shape_));
  kernels::conv2d_backward_data(g, x.data(), kernel_.value.data(), bias_.value.data(), activation_, y.data(), ws_);
}

void Conv2DTranspose::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  const ConvGeometry g = geometry(batch_size(*this, x));
  check_output_grad(*this, y, dy);
  if (dx) dx->resize(x.shape());
  dz_.resize(y.shape());
  kernels::conv_transpose_layer_backward(g, x.data(), y.data(), dy.data(), activation_, kernel_.value.data(),
                                         dx ? dx->data() : nullptr, kernel_.grad.data(), bias_.grad.data(),
                                         dz_.data(), ws_);
}

}  // namespace dn

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

// (height, width, channels) with the channels known: they fix the kernel's shape.
static void require_image_input(const Layer& layer, const Shape& input_shape) {
  if (input_shape.size() != 3 || input_shape[2] < 1)
    throw UsageError(fmt::format("{} needs (height, width, channels) input with known channels, got {}", layer.type(),
                                 shape_str(input_shape)));
}

// --- Conv2D ---

ConvGeometry Conv2D::geometry(int batch, int height, int width) const {
  return conv_geometry(batch, height, width, input_shape_[2], filters_, kernel_size_.h, kernel_size_.w, strides_.h,
                       strides_.w, padding_);
}

// x (N,H,W,C), any H and W; the output size follows from them.
ConvGeometry Conv2D::geometry(const Tensor& x) const {
  const ImageSize s = check_image_input(*this, x, input_shape_[2]);
  return geometry(s.N, s.H, s.W);
}

Shape Conv2D::build(const Shape& input_shape, Rng& rng) {
  require_image_input(*this, input_shape);
  input_shape_ = input_shape;
  const int h = input_shape[0], w = input_shape[1];
  const ConvGeometry g = geometry(1, known_or(h, kernel_size_.h), known_or(w, kernel_size_.w));
  output_shape_ = {free_if(h, g.OH), free_if(w, g.OW), g.O};
  build_params({kernel_size_.h, kernel_size_.w, g.C, filters_}, rng);
  return output_shape_;
}

// x (N,H,W,C) -> y (N,OH,OW,filters)
void Conv2D::forward(const Tensor& x, Tensor& y, bool /*training*/) {
  const ConvGeometry g = geometry(x);
  y.resize({g.N, g.OH, g.OW, g.O});
  kernels::conv2d_forward(g, x.data(), kernel_.value.data(), bias_.value.data(), activation_, y.data(), ws_);
}

// x (N,H,W,C) -> y (N,OH/2,OW/2,filters)
bool Conv2D::forward_maxpool(const Tensor& x, Tensor& y, std::uint16_t* where) {
  const ConvGeometry g = geometry(x);
  if (!kernels::conv2d_maxpool_fits(g, activation_)) return false;
  y.resize({g.N, g.OH / 2, g.OW / 2, g.O});
  kernels::conv2d_forward_maxpool(g, x.data(), kernel_.value.data(), bias_.value.data(), activation_, y.data(), where,
                                  ws_);
  return true;
}

// next as a 2x2 pooling this layer can run with; in training only where this layer's
// backward will not read its own output (its ReLU's derivative left to the pooling).
MaxPooling2D* Conv2D::pooling_to_fuse(Layer& next, bool training) const {
  auto* pool = dynamic_cast<MaxPooling2D*>(&next);
  if (!pool || !pool->halves() || (training && backward_activation() != Activation::linear)) return nullptr;
  return pool;
}

// x (N,H,W,C) -> y shaped (N,OH,OW,filters), unwritten; next_y (N,OH/2,OW/2,filters)
bool Conv2D::forward_with_next(Layer& next, const Tensor& x, Tensor& y, Tensor& next_y, bool training) {
  MaxPooling2D* pool = pooling_to_fuse(next, training);
  if (!pool) return false;
  const ConvGeometry g = geometry(x);
  if (!kernels::conv2d_maxpool_fits(g, activation_)) return false;
  y.resize({g.N, g.OH, g.OW, g.O});
  return forward_maxpool(x, next_y, pool->winning_taps(std::size_t(g.N) * (g.OH / 2) * (g.OW / 2) * g.O, training));
}

// x (N,H,W,C); next_y and next_dy (N,OH/2,OW/2,filters); dx like x.
bool Conv2D::backward_with_next(Layer& next, const Tensor& x, const Tensor& /*y*/, const Tensor& next_y,
                                const Tensor& next_dy, Tensor* dx) {
  const MaxPooling2D* pool = pooling_to_fuse(next, true);
  if (!pool) return false;
  const ConvGeometry g = geometry(x);
  const std::uint16_t* where = pool->recorded_taps(next_dy.size());
  if (!where || !kernels::conv_maxpool_layer_backward_fits(g, dx != nullptr)) return false;
  check_output_grad(*pool, next_y, next_dy);
  if (dx) dx->resize(x.shape());
  kernels::conv_maxpool_layer_backward(g, x.data(), where, next_dy.data(), pool->relu_taken() ? next_y.data() : nullptr,
                                       kernel_.value.data(), dx ? dx->data() : nullptr, relu_taken_,
                                       kernel_.grad.data(), bias_.grad.data(), ws_);
  return true;
}

// x, y of the forward; dy like y, dx like x.
void Conv2D::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  const ConvGeometry g = geometry(x);
  check_output_grad(*this, y, dy);
  if (dx) dx->resize(x.shape());
  dz_.resize(y.shape());
  kernels::conv_layer_backward(g, x.data(), y.data(), dy.data(), backward_activation(), kernel_.value.data(),
                               dx ? dx->data() : nullptr, relu_taken_, kernel_.grad.data(), bias_.grad.data(),
                               dz_.data(), ws_);
}

// --- Conv2DTranspose ---

ConvGeometry Conv2DTranspose::geometry(int batch, int height, int width) const {
  return conv_transpose_geometry(batch, height, width, input_shape_[2], filters_, kernel_size_.h, kernel_size_.w,
                                 strides_.h, strides_.w, padding_);
}

// x (N,H,W,C), any H and W; the output size follows from them.
ConvGeometry Conv2DTranspose::geometry(const Tensor& x) const {
  const ImageSize s = check_image_input(*this, x, input_shape_[2]);
  return geometry(s.N, s.H, s.W);
}

Shape Conv2DTranspose::build(const Shape& input_shape, Rng& rng) {
  require_image_input(*this, input_shape);
  input_shape_ = input_shape;
  const int h = input_shape[0], w = input_shape[1];
  const ConvGeometry g = geometry(1, known_or(h, 1), known_or(w, 1));
  output_shape_ = {free_if(h, g.H), free_if(w, g.W), g.C};
  build_params({kernel_size_.h, kernel_size_.w, filters_, g.O}, rng);
  return output_shape_;
}

// x (N,H,W,C) -> y (N,OH,OW,filters), OH = H*stride for "same" (Keras's output size)
void Conv2DTranspose::forward(const Tensor& x, Tensor& y, bool /*training*/) {
  const ConvGeometry g = geometry(x);
  y.resize({g.N, g.H, g.W, g.C});
  kernels::conv2d_backward_data(g, x.data(), kernel_.value.data(), bias_.value.data(), activation_, y.data(), ws_);
}

// x, y of the forward; dy like y, dx like x.
void Conv2DTranspose::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  const ConvGeometry g = geometry(x);
  check_output_grad(*this, y, dy);
  if (dx) dx->resize(x.shape());
  dz_.resize(y.shape());
  kernels::conv_transpose_layer_backward(g, x.data(), y.data(), dy.data(), backward_activation(),
                                         kernel_.value.data(), dx ? dx->data() : nullptr, relu_taken_,
                                         kernel_.grad.data(), bias_.grad.data(), dz_.data(), ws_);
}

}  // namespace dn

#include "nn/layers/merge.hpp"

#include <fmt/core.h>

#include "core/error.hpp"

namespace dn {

SkipLayerBase::SkipLayerBase(std::unique_ptr<Layer> inner) : inner_(std::move(inner)) {
  if (!inner_) throw UsageError("a skip connection needs an inner layer");
}

// Deep copy: the inner layer is cloned, scratch starts empty.
SkipLayerBase::SkipLayerBase(const SkipLayerBase& other) : Layer(other), inner_(other.inner_->clone()) {}

nlohmann::json SkipLayerBase::inner_config() const {
  return {{"class_name", inner_->type()}, {"config", inner_->config()}};
}

Residual::Mode parse_residual_mode(const std::string& text) {
  if (text == "add") return Residual::Mode::add;
  if (text == "subtract") return Residual::Mode::subtract;
  throw UsageError("unknown residual mode '" + text + "' (expected add or subtract)");
}

const char* residual_mode_name(Residual::Mode mode) { return mode == Residual::Mode::add ? "add" : "subtract"; }

// Two built shapes agree where both are known.
static bool shapes_agree(const Shape& a, const Shape& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i] != kNone && b[i] != kNone && a[i] != b[i]) return false;
  return true;
}

Shape Residual::build(const Shape& input_shape, Rng& rng) {
  const Shape inner_out = inner_->build(input_shape, rng);
  if (!shapes_agree(inner_out, input_shape))
    throw UsageError(fmt::format("Residual: the inner layer maps {} to {}; {} needs equal shapes",
                                 shape_str(input_shape), shape_str(inner_out), residual_mode_name(mode_)));
  input_shape_ = output_shape_ = input_shape;
  return output_shape_;
}

// x (N, ...) -> y = x +- inner(x), same shape.
void Residual::forward(const Tensor& x, Tensor& y, bool training) {
  inner_->forward(x, inner_y_, training);
  if (inner_y_.shape() != x.shape())
    throw DataError(fmt::format("layer {}: inner output {} differs from input {}", name_, shape_str(inner_y_.shape()),
                                shape_str(x.shape())));
  y.resize(x.shape());
  const float sign = mode_ == Mode::add ? 1.0f : -1.0f;
  for (std::size_t i = 0; i < x.size(); ++i) y[i] = x[i] + sign * inner_y_[i];
}

// dL/dx = dy + J_inner^T (+-dy).
void Residual::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  check_output_grad(*this, y, dy);
  const float sign = mode_ == Mode::add ? 1.0f : -1.0f;
  inner_dy_.resize(dy.shape());
  for (std::size_t i = 0; i < dy.size(); ++i) inner_dy_[i] = sign * dy[i];
  inner_->backward(x, inner_y_, inner_dy_, dx ? &inner_dx_ : nullptr);
  if (!dx) return;
  dx->resize(x.shape());
  for (std::size_t i = 0; i < x.size(); ++i) (*dx)[i] = dy[i] + inner_dx_[i];
}

nlohmann::json Residual::config() const {
  return layer_config(*this, {{"mode", residual_mode_name(mode_)}, {"layer", inner_config()}});
}

Shape SkipConcatenate::build(const Shape& input_shape, Rng& rng) {
  const Shape inner_out = inner_->build(input_shape, rng);
  if (input_shape.size() != 3 || inner_out.size() != 3 || !shapes_agree({input_shape[0], input_shape[1]},
                                                                         {inner_out[0], inner_out[1]}))
    throw UsageError(fmt::format("SkipConcatenate: needs images (height, width, channels) whose inner layer keeps "
                                 "height and width (got {} to {})",
                                 shape_str(input_shape), shape_str(inner_out)));
  input_shape_ = input_shape;
  output_shape_ = {input_shape[0], input_shape[1], input_shape[2] + inner_out[2]};
  return output_shape_;
}

// x (N, H, W, C) -> y (N, H, W, C + C'): each pixel's channels of x, then those of inner(x).
void SkipConcatenate::forward(const Tensor& x, Tensor& y, bool training) {
  const ImageSize s = check_image_input(*this, x, input_shape_[2]);
  inner_->forward(x, inner_y_, training);
  if (inner_y_.rank() != 4 || inner_y_.dim(0) != s.N || inner_y_.dim(1) != s.H || inner_y_.dim(2) != s.W)
    throw DataError(fmt::format("layer {}: inner output {} does not keep the input's {}", name_,
                                shape_str(inner_y_.shape()), shape_str(x.shape())));
  const std::size_t c = static_cast<std::size_t>(x.dim(3)), c2 = static_cast<std::size_t>(inner_y_.dim(3));
  const std::size_t pixels = x.size() / c;
  y.resize({s.N, s.H, s.W, static_cast<int>(c + c2)});
  for (std::size_t p = 0; p < pixels; ++p) {
    float* out = y.data() + p * (c + c2);
    for (std::size_t k = 0; k < c; ++k) out[k] = x[p * c + k];
    for (std::size_t k = 0; k < c2; ++k) out[c + k] = inner_y_[p * c2 + k];
  }
}

// dy splits into the part for x (first C channels) and the part for inner(x).
void SkipConcatenate::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  check_output_grad(*this, y, dy);
  const std::size_t c = static_cast<std::size_t>(x.dim(3)), c2 = static_cast<std::size_t>(inner_y_.dim(3));
  const std::size_t pixels = x.size() / c;
  inner_dy_.resize(inner_y_.shape());
  for (std::size_t p = 0; p < pixels; ++p)
    for (std::size_t k = 0; k < c2; ++k) inner_dy_[p * c2 + k] = dy[p * (c + c2) + c + k];
  inner_->backward(x, inner_y_, inner_dy_, dx ? &inner_dx_ : nullptr);
  if (!dx) return;
  dx->resize(x.shape());
  for (std::size_t p = 0; p < pixels; ++p)
    for (std::size_t k = 0; k < c; ++k) (*dx)[p * c + k] = dy[p * (c + c2) + k] + inner_dx_[p * c + k];
}

nlohmann::json SkipConcatenate::config() const { return layer_config(*this, {{"layer", inner_config()}}); }

}  // namespace dn

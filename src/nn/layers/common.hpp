#pragma once
// Small pieces shared by the layer classes.
#include <string>

#include <nlohmann/json.hpp>

#include "nn/layer.hpp"

namespace dn {

// A (height, width) pair as Keras takes kernel_size, strides and pool_size: 3 or {3, 5}.
struct Size2 {
  Size2(int both) : h(both), w(both) {}  // implicit on purpose: Conv2D(12, 3) reads like Keras
  Size2(int height, int width) : h(height), w(width) {}
  int h, w;
  nlohmann::json json() const { return nlohmann::json::array({h, w}); }
};

// Checks that x is an image batch [N, H, W, channels], any H and W, and returns its
// geometry's sizes; DataError naming the layer, what it expects and x's shape otherwise.
struct ImageSize {
  int N, H, W;
};
ImageSize check_image_input(const Layer& layer, const Tensor& x, int channels);
// Checks that x is [N, ..., features] (any axes between); features kNone takes any.
void check_features(const Layer& layer, const Tensor& x, int features);
// Output shapes from free input shapes: a free axis is given a stand-in size that
// every geometry takes (a convolution's or pooling's window, 1 for a transposed
// convolution) to work out the rest, and the output axis it maps to is free again.
inline int known_or(int dim, int stand_in) { return dim == kNone ? stand_in : dim; }
inline int free_if(int input_dim, int output_dim) { return input_dim == kNone ? kNone : output_dim; }
// Checks that dy has the shape of the forward output y.
void check_output_grad(const Layer& layer, const Tensor& y, const Tensor& dy);
// [n, sample...]
Shape batch_shape(int n, const Shape& sample);
// A parameter with zero value and zero grad of this shape.
void reset_param(Param& param, const std::string& name, const Shape& shape);
// {"name": layer name} plus the layer's Keras get_config() arguments.
nlohmann::json layer_config(const Layer& layer, nlohmann::json args);

}  // namespace dn

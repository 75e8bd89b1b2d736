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

// Checks that x is [N, layer input shape...] and returns N; DataError naming the layer otherwise.
int batch_size(const Layer& layer, const Tensor& x);
// Checks that dy has the shape of the forward output y.
void check_output_grad(const Layer& layer, const Tensor& y, const Tensor& dy);
// [n, sample...]
Shape batch_shape(int n, const Shape& sample);
// A parameter with zero value and zero grad of this shape.
void reset_param(Param& param, const std::string& name, const Shape& shape);
// {"name": layer name} plus the layer's Keras get_config() arguments.
nlohmann::json layer_config(const Layer& layer, nlohmann::json args);

}  // namespace dn

#include "nn/layers/common.hpp"

#include <fmt/core.h>

#include "core/error.hpp"

namespace dn {

static std::string label(const Layer& layer) { return layer.name().empty() ? layer.type() : layer.name(); }

int batch_size(const Layer& layer, const Tensor& x) {
  const Shape& in = layer.input_shape();
  bool ok = x.rank() == static_cast<int>(in.size()) + 1;
  for (std::size_t i = 0; ok && i < in.size(); ++i) ok = x.dim(static_cast<int>(i) + 1) == in[i];
  if (!ok) {
    std::string expected = "(batch";
    for (int d : in) expected += ", " + std::to_string(d);
    throw DataError(fmt::format("layer {} expects input of shape {}), got {}", label(layer), expected,
                                shape_str(x.shape())));
  }
  return x.dim(0);
}

void check_output_grad(const Layer& layer, const Tensor& y, const Tensor& dy) {
  if (dy.shape() != y.shape())
    throw DataError(fmt::format("layer {}: output gradient has shape {}, output has {}", label(layer),
                                shape_str(dy.shape()), shape_str(y.shape())));
}

Shape batch_shape(int n, const Shape& sample) {
  Shape s{n};
  s.insert(s.end(), sample.begin(), sample.end());
  return s;
}

void reset_param(Param& param, const std::string& name, const Shape& shape) {
  param.name = name;
  param.value = Tensor(shape);
  param.grad = Tensor(shape);
}

nlohmann::json layer_config(const Layer& layer, nlohmann::json args) {
  nlohmann::json config = {{"name", layer.name()}};
  config.update(args);
  return config;
}

}  // namespace dn

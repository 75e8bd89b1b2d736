#include "nn/layers/common.hpp"

#include <fmt/core.h>

#include "core/error.hpp"

namespace dn {

static std::string label(const Layer& layer) { return layer.name().empty() ? layer.type() : layer.name(); }

ImageSize check_image_input(const Layer& layer, const Tensor& x, int channels) {
  if (x.rank() != 4 || x.dim(3) != channels)
    throw DataError(fmt::format("layer {} expects input of shape (batch, height, width, {}), got {}", label(layer),
                                channels, shape_str(x.shape())));
  return {x.dim(0), x.dim(1), x.dim(2)};
}

void check_features(const Layer& layer, const Tensor& x, int features) {
  if (x.rank() < 2 || (features != kNone && x.dim(-1) != features))
    throw DataError(fmt::format("layer {} expects input of shape (batch, ..., {}), got {}", label(layer),
                                features == kNone ? std::string("features") : std::to_string(features),
                                shape_str(x.shape())));
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

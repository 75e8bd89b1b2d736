#include "nn/initializers.hpp"

#include <cmath>

namespace dn {

Fans compute_fans(const Shape& shape) {
  if (shape.empty()) return {1.0, 1.0};
  if (shape.size() == 1) return {double(shape[0]), double(shape[0])};
  double receptive = 1.0;
  for (std::size_t i = 0; i + 2 < shape.size(); ++i) receptive *= shape[i];
  return {shape[shape.size() - 2] * receptive, shape[shape.size() - 1] * receptive};
}

double glorot_uniform_limit(const Shape& shape) {
  const Fans f = compute_fans(shape);
  return std::sqrt(6.0 / (f.fan_in + f.fan_out));
}

void glorot_uniform(Tensor& kernel, Rng& rng) {
  const double limit = glorot_uniform_limit(kernel.shape());
  for (std::size_t i = 0; i < kernel.size(); ++i) kernel[i] = static_cast<float>(rng.uniform(-limit, limit));
}

}  // namespace dn

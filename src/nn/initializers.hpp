#pragma once
// Keras's default initialisers, drawn from dn::Rng so that a seed fixes the weights.
#include "core/rng.hpp"
#include "core/tensor.hpp"

namespace dn {

struct Fans {
  double fan_in, fan_out;
};

// As Keras computes them from a kernel's shape: rank 2 (in, out) -> (in, out); rank > 2
// -> the last two dims times the receptive field (the product of the others). So a
// Conv2D kernel (kh,kw,in,out) gives (kh*kw*in, kh*kw*out), and a Conv2DTranspose
// kernel (kh,kw,out,in) gives fan_in = kh*kw*out, fan_out = kh*kw*in.
Fans compute_fans(const Shape& shape);

// U(-limit, limit) with limit = sqrt(6 / (fan_in + fan_out)), elements in storage order.
void glorot_uniform(Tensor& kernel, Rng& rng);
double glorot_uniform_limit(const Shape& shape);

}  // namespace dn

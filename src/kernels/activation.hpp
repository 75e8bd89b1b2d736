#pragma once
// Activation functions on [rows, channels] float arrays: NHWC pixels (a pixel is a
// row, its channels the last axis) or dense rows. Every backward needs only the
// output y, so layers keep no pre-activation copy. Names and parsing live in
// nn/activation.hpp; the math sits here so GEMM epilogues can fuse it.
#include <cstddef>

namespace dn {

enum class Activation { linear, relu, sigmoid, tanh, softmax };

namespace kernels {

// y = act(y) in place; softmax is taken over each row's channels (Keras: the last axis).
void activation_forward(Activation act, float* y, std::size_t rows, int channels);

// dz = dL/dz from y = act(z) and dy = dL/dy. dz may alias dy.
void activation_backward(Activation act, const float* y, const float* dy, float* dz, std::size_t rows,
                         int channels);

// y = act(y + bias) in place, bias per channel (null for none): the epilogue after a GEMM.
void bias_activation(float* y, std::size_t rows, int channels, const float* bias, Activation act);

// sums[c] += sum over rows of x[r, c], accumulated in double (bias gradients over a whole batch).
void add_channel_sums(const float* x, std::size_t rows, int channels, float* sums);

}  // namespace kernels
}  // namespace dn

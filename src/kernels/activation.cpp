#include "kernels/activation.hpp"

#include <algorithm>
#include <cmath>

namespace dn::kernels {

namespace {

void softmax_row(float* y, int channels) {
  // Subtracting the row max keeps exp from overflowing; the result is unchanged.
  const float m = *std::max_element(y, y + channels);
  float sum = 0.0f;
  for (int c = 0; c < channels; ++c) {
    y[c] = std::exp(y[c] - m);
    sum += y[c];
  }
  const float inv = 1.0f / sum;
  for (int c = 0; c < channels; ++c) y[c] *= inv;
}

}  // namespace

void activation_forward(Activation act, float* y, std::size_t rows, int channels) {
  const std::size_t n = rows * static_cast<std::size_t>(channels);
  switch (act) {
    case Activation::linear:
      return;
    case Activation::relu:
      // Written so that NaN stays NaN: a diverging run must not be hidden.
      for (std::size_t i = 0; i < n; ++i) y[i] = y[i] < 0.0f ? 0.0f : y[i];
      return;
    case Activation::sigmoid:
      for (std::size_t i = 0; i < n; ++i) y[i] = 1.0f / (1.0f + std::exp(-y[i]));
      return;
    case Activation::tanh:
      for (std::size_t i = 0; i < n; ++i) y[i] = std::tanh(y[i]);
      return;
    case Activation::softmax:
      for (std::size_t r = 0; r < rows; ++r) softmax_row(y + r * channels, channels);
      return;
  }
}

void activation_backward(Activation act, const float* y, const float* dy, float* dz, std::size_t rows,
                         int channels) {
  const std::size_t n = rows * static_cast<std::size_t>(channels);
  switch (act) {
    case Activation::linear:
      if (dz != dy) std::copy(dy, dy + n, dz);
      return;
    case Activation::relu:
      for (std::size_t i = 0; i < n; ++i) dz[i] = y[i] > 0.0f ? dy[i] : 0.0f;
      return;
    case Activation::sigmoid:
      for (std::size_t i = 0; i < n; ++i) dz[i] = dy[i] * y[i] * (1.0f - y[i]);
      return;
    case Activation::tanh:
      for (std::size_t i = 0; i < n; ++i) dz[i] = dy[i] * (1.0f - y[i] * y[i]);
      return;
    case Activation::softmax:
      // dz_c = y_c * (dy_c - sum_j dy_j y_j)
      for (std::size_t r = 0; r < rows; ++r) {
        const std::size_t o = r * channels;
        float dot = 0.0f;
        for (int c = 0; c < channels; ++c) dot += dy[o + c] * y[o + c];
        for (int c = 0; c < channels; ++c) dz[o + c] = y[o + c] * (dy[o + c] - dot);
      }
      return;
  }
}

void bias_activation(float* y, std::size_t rows, int channels, const float* bias, Activation act) {
  if (bias) {
    for (std::size_t r = 0; r < rows; ++r) {
      float* row = y + r * channels;
      for (int c = 0; c < channels; ++c) row[c] += bias[c];
    }
  }
  activation_forward(act, y, rows, channels);
}

void add_channel_sums(const float* x, std::size_t rows, int channels, float* sums) {
  // Channels in blocks of a fixed size so the double accumulators live on the stack.
  constexpr int kBlock = 64;
  for (int c0 = 0; c0 < channels; c0 += kBlock) {
    const int cn = std::min(kBlock, channels - c0);
    double acc[kBlock] = {};
    for (std::size_t r = 0; r < rows; ++r) {
      const float* row = x + r * channels + c0;
      for (int c = 0; c < cn; ++c) acc[c] += row[c];
    }
    for (int c = 0; c < cn; ++c) sums[c0 + c] += static_cast<float>(acc[c]);
  }
}

}  // namespace dn::kernels

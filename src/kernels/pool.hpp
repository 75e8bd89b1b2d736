#pragma once
// Max pooling on NHWC batches. The geometry is a ConvGeometry with O == C and the
// pool window as kernel (see pool_geometry); padded taps are skipped, never read.
// The forward records which tap won each window, so that the backward need not read
// the input again (the seed model's pooled input is its largest activation).
#include <cstdint>

#include "kernels/conv.hpp"

namespace dn {

// Keras MaxPooling2D sizes: the conv rules with the pool window as kernel.
ConvGeometry pool_geometry(int N, int H, int W, int C, int pool_h, int pool_w, int stride_h, int stride_w,
                           Padding padding);

namespace kernels {

// Taps a window may have: its tap index kh * KW + kw is kept in 16 bits.
inline constexpr int kMaxPoolTaps = 1 << 16;

// y[n,oh,ow,c] = max over the window of x, and where[n,oh,ow,c] = the tap kh * KW + kw of
// its first maximum in scan order (kh, then kw), where TensorFlow routes the gradient.
// where may be null (inference): then only y is written.
void maxpool_forward(const ConvGeometry& g, const float* x, float* y, std::uint16_t* where);

// dx = dy routed to the taps recorded by maxpool_forward. relu_y (the forward's y, or
// null): x came out of a ReLU whose derivative the layer before left to this one, and
// as x at a window's winning tap is y, dy passes only where y is positive.
void maxpool_backward(const ConvGeometry& g, const std::uint16_t* where, const float* dy, const float* relu_y,
                      float* dx);

// Plain loops for the two above, whatever the shape and CPU; the dispatchers above take
// kernels/direct.hpp instead where it fits.
namespace portable {
void maxpool_forward(const ConvGeometry& g, const float* x, float* y, std::uint16_t* where);
void maxpool_backward(const ConvGeometry& g, const std::uint16_t* where, const float* dy, const float* relu_y,
                      float* dx);
}  // namespace portable

}  // namespace kernels
}  // namespace dn

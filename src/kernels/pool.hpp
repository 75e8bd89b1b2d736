#pragma once
// Max pooling on NHWC batches. The geometry is a ConvGeometry with O == C and the
// pool window as kernel (see pool_geometry); padded taps are skipped, never read.
#include "kernels/conv.hpp"

namespace dn {

// Keras MaxPooling2D sizes: the conv rules with the pool window as kernel.
ConvGeometry pool_geometry(int N, int H, int W, int C, int pool_h, int pool_w, int stride_h, int stride_w,
                           Padding padding);

namespace kernels {

// y[n,oh,ow,c] = max over the window of x.
void maxpool_forward(const ConvGeometry& g, const float* x, float* y);

// dx = dy routed to the first maximum of each window in scan order (kh, then kw), as
// TensorFlow does.
void maxpool_backward(const ConvGeometry& g, const float* x, const float* dy, float* dx);

// Plain loops for the two above, whatever the shape and CPU; the dispatchers above take
// kernels/direct.hpp instead where it fits.
namespace portable {
void maxpool_forward(const ConvGeometry& g, const float* x, float* y);
void maxpool_backward(const ConvGeometry& g, const float* x, const float* dy, float* dx);
}  // namespace portable

}  // namespace kernels
}  // namespace dn

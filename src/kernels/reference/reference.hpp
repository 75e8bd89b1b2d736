#pragma once
// Plain loops straight from the definitions, accumulated in double: the oracles the
// tests hold the fast kernels against. Slow on purpose; never used outside tests.
#include <cstddef>

#include "kernels/activation.hpp"
#include "kernels/conv.hpp"

namespace dn::reference {

// y = act(y) in place, computed in double.
void activation_forward(Activation act, float* y, std::size_t rows, int channels);
// dz = dL/dz from y = act(z) and dy.
void activation_backward(Activation act, const float* y, const float* dy, float* dz, std::size_t rows,
                         int channels);

// Convolution, geometry and layouts as in kernels/conv.hpp.
void conv2d_forward(const ConvGeometry& g, const float* x, const float* w, const float* bias, Activation act,
                    float* y);
void conv2d_backward_data(const ConvGeometry& g, const float* dy, const float* w, float* dx);
void conv2d_backward_weights(const ConvGeometry& g, const float* x, const float* dy, float* dw, float* dbias);

// Transposed convolution from its own definition, independent of the conv code:
// x [N,IH,IW,CI], kernel [KH,KW,CO,CI] (Keras layout), y [N,OH,OW,CO],
//   y[n, i*stride_h + kh - pad_top, j*stride_w + kw - pad_left, co] += x[n,i,j,ci] * K[kh,kw,co,ci]
// keeping the rows and columns that land in [0,OH) x [0,OW).
struct TransposeShape {
  int N, IH, IW, CI;
  int OH, OW, CO;
  int KH, KW;
  int stride_h, stride_w;
  int pad_top, pad_left;
};
void conv2d_transpose_forward(const TransposeShape& t, const float* x, const float* k, const float* bias,
                              Activation act, float* y);
// dx from dz = dL/d(pre-activation output).
void conv2d_transpose_backward_data(const TransposeShape& t, const float* dz, const float* k, float* dx);
// dk += dL/dk, dbias += dL/dbias.
void conv2d_transpose_backward_weights(const TransposeShape& t, const float* x, const float* dz, float* dk,
                                       float* dbias);

// Max pooling; the gradient goes to the first maximum of the window in scan order.
void maxpool_forward(const ConvGeometry& g, const float* x, float* y);
void maxpool_backward(const ConvGeometry& g, const float* x, const float* dy, float* dx);

// Dense: x [rows, in], kernel [in, out].
void dense_forward(int rows, int in, int out, const float* x, const float* w, const float* bias, Activation act,
                   float* y);
void dense_backward_data(int rows, int in, int out, const float* dz, const float* w, float* dx);
void dense_backward_weights(int rows, int in, int out, const float* x, const float* dz, float* dw, float* dbias);

}  // namespace dn::reference

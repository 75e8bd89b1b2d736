#pragma once
// 2-D convolution on NHWC batches, described by one geometry and computed by three
// operations: forward, backward-data and backward-weights. Conv2DTranspose needs no
// kernels of its own: its forward is backward-data of the convolution it transposes,
// its backward is that convolution's forward (for dx) and backward-weights with the
// roles of input and output swapped (for dK). Dense is the 1x1 case.
//
// Each implementation is bit-identical for any number of threads (work is cut from the
// geometry alone, never from the thread count, and reduced in a fixed order):
// - SIMD (kernels/simd/simd.hpp), one source for every SIMD target, dispatched at run
//   time: direct and Winograd loops for few channels (at most 16), where im2col costs
//   more than the multiplications; for many channels a forward (Dense included) whose
//   every output sums its taps in one order, so that inference gives the same bits for
//   any batch or block size, the same blocks for backward-data (strided ones phase by
//   phase), and the direct weight gradient 16 outputs at a time (Dense's in tiles);
// - portable: im2col + one single-threaded sgemm per chunk of output rows, with bias
//   and activation fused after the GEMM, OpenMP over chunks; any shape, and what the
//   SIMD kernels leave: few-channel 1x1 convolutions and strides above 2, many-channel
//   kernels smaller than their stride and strides above 4 (no built-in model's layer).
#include <cstdint>
#include <string>

#include "kernels/activation.hpp"
#include "kernels/workspace.hpp"

namespace dn {

enum class Padding { same, valid };
Padding parse_padding(const std::string& name);  // "same" | "valid"; UsageError otherwise
std::string padding_name(Padding padding);

// x [N,H,W,C] -> y [N,OH,OW,O] with kernel w [KH,KW,C,O] (the Keras Conv2D layout):
//   y[n,oh,ow,o] = sum_{kh,kw,c} x[n, oh*stride_h - pad_top + kh, ow*stride_w - pad_left + kw, c] * w[kh,kw,c,o]
// where taps outside the input read zero. The pads after follow from the sizes.
struct ConvGeometry {
  int N = 0, H = 0, W = 0, C = 0;
  int OH = 0, OW = 0, O = 0;
  int KH = 0, KW = 0;
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0;

  std::size_t patch() const { return static_cast<std::size_t>(KH) * KW * C; }  // im2col row length
  std::size_t rows() const { return static_cast<std::size_t>(N) * OH * OW; }    // output pixels
  std::size_t input_size() const { return static_cast<std::size_t>(N) * H * W * C; }
  std::size_t output_size() const { return rows() * O; }
};

// A convolution as TensorFlow lays it out. valid: OH = (H - KH) / stride + 1, no padding.
// same: OH = ceil(H / stride), total pad max((OH-1)*stride + KH - H, 0) split with the
// smaller half before. UsageError when the output would be empty.
ConvGeometry conv_geometry(int N, int H, int W, int C, int O, int KH, int KW, int stride_h, int stride_w,
                           Padding padding);

// The convolution whose backward-data is Keras's Conv2DTranspose of x [N,H,W,C] to
// `filters` channels, kernel [KH,KW,filters,C] (Keras's transposed layout is exactly
// this convolution's [KH,KW,C,O] with C = filters, O = in-channels). Output sizes follow
// Keras: same -> H*stride; valid -> H*stride + max(KH - stride, 0), which is
// (H-1)*stride + KH whenever KH >= stride. In the result, the transposed conv's input is
// (OH, OW, O) and its output (H, W, C); e.g. H=14, stride 2, k 3, same gives 28 rows,
// pad_top 0 (and 1 after): output row r = 2i + kh.
ConvGeometry conv_transpose_geometry(int N, int H, int W, int C, int filters, int KH, int KW, int stride_h,
                                     int stride_w, Padding padding);

namespace kernels {

// y = act(conv(x, w) + bias); bias may be null.
void conv2d_forward(const ConvGeometry& g, const float* x, const float* w, const float* bias, Activation act,
                    float* y, Workspace& ws);

// Inference: y [N,OH/2,OW/2,O] = 2x2, stride-2 max pooling of act(conv(x, w) + bias) in one
// pass, the convolution's output never stored; bit for bit conv2d_forward followed by
// maxpool_forward. Only where conv2d_maxpool_fits: the direct kernels, OH and OW even,
// a fused activation (linear or relu). where (null in inference): the winning taps, as
// maxpool_forward records them for maxpool_backward.
bool conv2d_maxpool_fits(const ConvGeometry& g, Activation act);
void conv2d_forward_maxpool(const ConvGeometry& g, const float* x, const float* w, const float* bias, Activation act,
                            float* y, std::uint16_t* where, Workspace& ws);

// dx = act(conv^T(dy, w) + bias): the gradient of conv2d_forward with respect to x when
// bias is null and act linear; with them, the Conv2DTranspose forward.
void conv2d_backward_data(const ConvGeometry& g, const float* dy, const float* w, const float* bias,
                          Activation act, float* dx, Workspace& ws);

// dw += dL/dw and, if dbias is not null, dbias += dL/dbias, for y = conv(x, w) + bias.
void conv2d_backward_weights(const ConvGeometry& g, const float* x, const float* dy, float* dw, float* dbias,
                             Workspace& ws);

// The whole backward of a Conv2D layer y = act(conv(x, w) + bias) in one call: with
// dz = dL/d(pre-activation) = act'(y) * dy, dx = conv^T(dz, w) (skipped when dx is null),
// dw += dL/dw and dbias += dL/dbias. Where the direct kernels fit, one pass over the
// samples; else dz is written to dz_scratch (y's size) and the three kernels above run.
// relu_dx: x came out of a ReLU whose derivative the layer before left to this one (see
// Layer::takes_relu_derivative): dx is zeroed where x is not positive as it is written.
void conv_layer_backward(const ConvGeometry& g, const float* x, const float* y, const float* dy, Activation act,
                         const float* w, float* dx, bool relu_dx, float* dw, float* dbias, float* dz_scratch,
                         Workspace& ws);

// The same for a Conv2DTranspose layer y = act(conv^T(x, w) + bias), g the convolution it
// transposes (x [N,OH,OW,O], y [N,H,W,C]): dx = conv(dz, w), dw += dL/dw (conv
// backward-weights with dz as the input and x as the output gradient), dbias += sum of dz.
void conv_transpose_layer_backward(const ConvGeometry& g, const float* x, const float* y, const float* dy,
                                   Activation act, const float* w, float* dx, bool relu_dx, float* dw,
                                   float* dbias, float* dz_scratch, Workspace& ws);

// The backward of a Conv2D layer whose 2x2 max pooling (stride 2, tiling the output)
// follows, in one pass: the pooling's gradient pooled_dy [N,OH/2,OW/2,O] goes back to
// the winning taps `where` (through the derivative of the convolution's ReLU where
// relu_y, the pooled y, is given) one sample at a time, so the convolution's output
// gradient is never written for the batch; then as conv_layer_backward with a linear
// activation (the ReLU's derivative is left to the pooling). Only where
// conv_maxpool_layer_backward_fits.
bool conv_maxpool_layer_backward_fits(const ConvGeometry& g, bool with_dx);
void conv_maxpool_layer_backward(const ConvGeometry& g, const float* x, const std::uint16_t* where,
                                 const float* pooled_dy, const float* relu_y, const float* w, float* dx, bool relu_dx,
                                 float* dw, float* dbias, Workspace& ws);

// The im2col + GEMM implementation of the first three, whatever the shape and CPU.
namespace portable {
void conv2d_forward(const ConvGeometry& g, const float* x, const float* w, const float* bias, Activation act,
                    float* y, Workspace& ws);
void conv2d_backward_data(const ConvGeometry& g, const float* dy, const float* w, const float* bias,
                          Activation act, float* dx, Workspace& ws);
void conv2d_backward_weights(const ConvGeometry& g, const float* x, const float* dy, float* dw, float* dbias,
                             Workspace& ws);
}  // namespace portable

}  // namespace kernels
}  // namespace dn

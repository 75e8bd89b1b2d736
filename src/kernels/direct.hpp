#pragma once
// Direct AVX-512 kernels for the few channels of the seed model (1, 12 and 14), where
// im2col + GEMM spends more time copying patches than multiplying. One 16-float vector
// holds the channels of one pixel, so NHWC needs no reorder, and up to 14 pixels
// accumulate in registers at once, so each weight vector is loaded once per block.
// 3x3 kernels take Winograd's minimal filtering on the same vectors where the channels
// make it pay (4 to 16): F(2x2, 3x3) for stride-1 forwards and the backward-data of
// stride-1 convolutions (16 products per tile instead of 36), and F(2, 2) per phase for
// the stride-2 backward-data that is Conv2DTranspose's forward (25 instead of 36).
//
// kernels/conv.cpp and kernels/pool.cpp call these when the CPU has AVX-512 and the
// shape fits; the contracts are those of kernels/conv.hpp and kernels/pool.hpp, and so
// is the determinism: per-sample work is independent, and weight gradients are summed
// over chunks cut from the geometry alone, in chunk order, so results are bit-identical
// for any thread count. Compiled for AVX-512 whatever the build's -march, so that every
// build, the sanitizer one included, tests them.
#include <cstdint>

#include "kernels/conv.hpp"

namespace dn::kernels::direct {

bool available();  // the CPU runs AVX-512F

// Whether the kernel below covers g: few channels on the vector side (at most 16),
// strides the blocks handle, and not a 1x1 convolution (GEMM runs straight on x there).
bool forward_fits(const ConvGeometry& g);
bool forward_maxpool_fits(const ConvGeometry& g, Activation act);  // the contract of kernels::conv2d_maxpool_fits
bool backward_data_fits(const ConvGeometry& g);
bool backward_weights_fits(const ConvGeometry& g);
bool conv_layer_backward_fits(const ConvGeometry& g, bool with_dx);
bool conv_transpose_layer_backward_fits(const ConvGeometry& g, bool with_dx);
bool pool_fits(const ConvGeometry& g);

void conv2d_forward(const ConvGeometry& g, const float* x, const float* w, const float* bias, Activation act,
                    float* y, Workspace& ws);
void conv2d_forward_maxpool(const ConvGeometry& g, const float* x, const float* w, const float* bias, Activation act,
                            float* y, Workspace& ws);
void conv2d_backward_data(const ConvGeometry& g, const float* dy, const float* w, const float* bias,
                          Activation act, float* dx, Workspace& ws);
void conv2d_backward_weights(const ConvGeometry& g, const float* x, const float* dy, float* dw, float* dbias,
                             Workspace& ws);
// One sample at a time through the whole layer backward, so that its dz stays in cache
// and is never written for the batch; partial weight gradients per chunk of samples.
void conv_layer_backward(const ConvGeometry& g, const float* x, const float* y, const float* dy, Activation act,
                         const float* w, float* dx, float* dw, float* dbias, Workspace& ws);
void conv_transpose_layer_backward(const ConvGeometry& g, const float* x, const float* y, const float* dy,
                                   Activation act, const float* w, float* dx, float* dw, float* dbias,
                                   Workspace& ws);

void maxpool_forward(const ConvGeometry& g, const float* x, float* y, std::uint16_t* where);
void maxpool_backward(const ConvGeometry& g, const std::uint16_t* where, const float* dy, float* dx);

}  // namespace dn::kernels::direct

#pragma once
// SIMD kernels: for few channels, where im2col + GEMM spends more time copying patches
// than multiplying, every convolution and pooling operation; for many channels, the
// forward (wide_forward-inl.h), the backward-data at stride 1 (the same blocks run on
// the flipped convolution) and the weight gradient (16 outputs at a time). One source
// per kernel family, compiled for every SIMD target the build knows (Google Highway:
// AVX-512, AVX2 + FMA, NEON, scalar) and dispatched at run time to the best one the CPU
// runs. A group of 16 floats holds the channels of one pixel, so NHWC needs no reorder,
// and a block of pixels accumulates in registers so that each weight group is loaded
// once per block. 3x3 stride-1 kernels take Winograd's minimal filtering where the
// channels make it pay (winograd-inl.h and winograd_weights-inl.h for 4-16 channels,
// wide_winograd*-inl.h for more, whose products run on the wide forward's blocks, with
// F(4x4) tiles from winograd4-inl.h where they take fewer products than F(2x2)'s).
// Pointwise convolutions (Dense layers) take their weight gradient from
// pointwise_weights-inl.h and their input gradient from the wide forward of the
// transposed weights, over the whole batch.
//
// kernels/conv.cpp and kernels/pool.cpp call these where the shape fits; the contracts
// are those of kernels/conv.hpp and kernels/pool.hpp, and so is the determinism:
// per-sample work is independent, and weight gradients are summed over chunks cut from
// the geometry alone, in chunk order, so results are bit-identical for any thread
// count, batch or block size on a given target.
//
// The environment variable DENOISE_SIMD (avx512, avx2, neon, scalar) pins the target,
// as use_target() does.
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/conv.hpp"

namespace dn::kernels::simd {

// The target the kernels run on now ("avx512", "avx2", "neon", "scalar", ...).
std::string target();
// The targets this build holds and this CPU runs, best first.
std::vector<std::string> available_targets();
// Runs the kernels on `name` from now on; UsageError when this build or CPU lacks it.
// Not thread-safe: call it between kernel calls, from one thread.
void use_target(const std::string& name);
// Applies DENOISE_SIMD once, before the first kernel runs; UsageError for a bad value.
void apply_environment();

// Whether the kernels below cover g. Forward: few channels on the group side (at most
// 16), strides the blocks handle, and not a 1x1 convolution (GEMM runs straight on x
// there). Backward-data: few channels, or many at stride 1. Backward-weights: any
// convolution but a 1x1 one.
bool forward_fits(const ConvGeometry& g);
bool forward_maxpool_fits(const ConvGeometry& g, Activation act);  // the contract of kernels::conv2d_maxpool_fits
bool backward_data_fits(const ConvGeometry& g);
bool backward_weights_fits(const ConvGeometry& g);
bool conv_layer_backward_fits(const ConvGeometry& g, bool with_dx);
bool conv_transpose_layer_backward_fits(const ConvGeometry& g, bool with_dx);
bool conv_maxpool_layer_backward_fits(const ConvGeometry& g, bool with_dx);
bool pool_fits(const ConvGeometry& g);
// The wide forward (wide.cpp): more than 16 channels in or out, any kernel and stride.
bool wide_forward_fits(const ConvGeometry& g);
// The output tile side of the wide Winograd kernels for a 3x3 stride-1 g (wide_winograd-inl.h):
// 4, F(4x4, 3x3), wherever its tiles take fewer products than F(2x2)'s (2) over g's output.
inline int wide_winograd_tile(const ConvGeometry& g) {
  const long f2 = long((g.OH + 1) / 2) * ((g.OW + 1) / 2) * 16, f4 = long((g.OH + 3) / 4) * ((g.OW + 3) / 4) * 36;
  return f4 < f2 ? 4 : 2;
}

void conv2d_forward(const ConvGeometry& g, const float* x, const float* w, const float* bias, Activation act,
                    float* y, Workspace& ws);
void conv2d_forward_maxpool(const ConvGeometry& g, const float* x, const float* w, const float* bias, Activation act,
                            float* y, std::uint16_t* where, Workspace& ws);
// Registers hold a block of pixels x output groups; Dense reads x in place, in blocks of samples.
void conv2d_forward_wide(const ConvGeometry& g, const float* x, const float* w, const float* bias, Activation act,
                         float* y, Workspace& ws);
void conv2d_backward_data(const ConvGeometry& g, const float* dy, const float* w, const float* bias,
                          Activation act, float* dx, Workspace& ws);
void conv2d_backward_weights(const ConvGeometry& g, const float* x, const float* dy, float* dw, float* dbias,
                             Workspace& ws);
// One sample at a time through the whole layer backward, so that its dz stays in cache
// and is never written for the batch; partial weight gradients per chunk of samples.
// relu_dx: see kernels::conv_layer_backward.
void conv_layer_backward(const ConvGeometry& g, const float* x, const float* y, const float* dy, Activation act,
                         const float* w, float* dx, bool relu_dx, float* dw, float* dbias, Workspace& ws);
void conv_transpose_layer_backward(const ConvGeometry& g, const float* x, const float* y, const float* dy,
                                   Activation act, const float* w, float* dx, bool relu_dx, float* dw,
                                   float* dbias, Workspace& ws);
void conv_maxpool_layer_backward(const ConvGeometry& g, const float* x, const std::uint16_t* where,
                                 const float* pooled_dy, const float* relu_y, const float* w, float* dx, bool relu_dx,
                                 float* dw, float* dbias, Workspace& ws);

void maxpool_forward(const ConvGeometry& g, const float* x, float* y, std::uint16_t* where);
void maxpool_backward(const ConvGeometry& g, const std::uint16_t* where, const float* dy, const float* relu_y,
                      float* dx);

}  // namespace dn::kernels::simd

#pragma once
// The elementwise parts of the losses (train/losses.cpp), over blocks of a batch's
// predictions p and targets t, compiled for every SIMD target like the other kernels.
// Sums come back in double; within a block their order is the target's vector order,
// so a block's sum is the same for any thread count on a given target.
#include <cstddef>

namespace dn::kernels {

// Keras's backend epsilon, as float32 like the tensors it is applied to; predictions
// are clipped to [eps, 1 - eps] before the logs, as Keras does.
constexpr float kBceEpsilon = 1e-7f;
constexpr std::size_t kLossBlock = 4096;  // the most floats one call to bce_sum takes

// sum over i < n (n <= kLossBlock) of -(t log(c + eps) + (1 - t) log(1 - c + eps)), c = clip(p).
double bce_sum(const float* p, const float* t, std::size_t n);
// d = scale * dL/dp of the above per element (zero where the clip is active).
void bce_gradient(const float* p, const float* t, float* d, std::size_t n, float scale);

// sum over i < n of (p - t)^2, in double.
double squared_error_sum(const float* p, const float* t, std::size_t n);
// d = scale * (p - t)
void scaled_difference(const float* p, const float* t, float* d, std::size_t n, float scale);

}  // namespace dn::kernels

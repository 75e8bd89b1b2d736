#pragma once
// The one place that calls BLAS. OpenBLAS runs single-threaded inside our own
// OpenMP chunks: threads over chunks scale better on these small GEMMs, and each
// chunk's bits then do not depend on how many threads there are. OpenBLAS picks its
// GEMM kernel by CPU model, whose sums round differently: the built-in models' layers
// run on our SIMD kernels instead, and sgemm_calls lets the tests check that they do.
#include <cstdint>

namespace dn::kernels {

// Row-major C = op(A) * op(B) + beta * C, with op(A) m x k and op(B) k x n.
void sgemm(bool trans_a, bool trans_b, int m, int n, int k, const float* a, int lda, const float* b, int ldb,
           float beta, float* c, int ldc);

// GEMM calls since the program started, from every thread.
std::uint64_t sgemm_calls();

}  // namespace dn::kernels

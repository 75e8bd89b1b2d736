#include "kernels/gemm.hpp"

#include <cblas.h>

#include <atomic>

namespace dn::kernels {

namespace {
std::atomic<std::uint64_t> calls{0};
}  // namespace

std::uint64_t sgemm_calls() { return calls.load(std::memory_order_relaxed); }

void sgemm(bool trans_a, bool trans_b, int m, int n, int k, const float* a, int lda, const float* b, int ldb,
           float beta, float* c, int ldc) {
  static const bool single_threaded = [] {
    openblas_set_num_threads(1);
    return true;
  }();
  (void)single_threaded;
  calls.fetch_add(1, std::memory_order_relaxed);
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k,
              1.0f, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace dn::kernels

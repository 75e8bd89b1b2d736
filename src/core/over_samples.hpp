#pragma once
// Work on a batch, sample by sample, split among the threads the way the layers' kernels
// split a batch (OpenMP's static schedule over the samples), so that each core works on
// the samples it made and reads next: data one core wrote and another reads crosses
// slowly when the two share no cache.
#include <cstddef>

#include "core/tensor.hpp"

namespace dn {

// fn(i, first, count) for each sample i of `batch` (its first axis; a tensor of rank 0
// or 1 is one sample), whose floats are [first, first + count); on every thread from
// min_floats floats on, else on this one.
template <class Fn>
void over_samples(const Tensor& batch, std::size_t min_floats, Fn fn) {
  const int n = batch.rank() > 1 ? batch.dim(0) : 1;
  const std::size_t count = n > 0 ? batch.size() / static_cast<std::size_t>(n) : 0;
#pragma omp parallel for schedule(static) if (n > 1 && batch.size() >= min_floats)
  for (int i = 0; i < n; ++i) fn(i, static_cast<std::size_t>(i) * count, count);
}

}  // namespace dn

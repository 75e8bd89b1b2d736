#include "data/augment.hpp"

#include <algorithm>
#include <fmt/core.h>

#include "core/error.hpp"
#include "core/rng.hpp"

namespace dn {

std::uint64_t shift_seed(std::uint64_t seed) { return seed ^ 0x5348494654ull; }  // "SHIFT"

void shift_augment(const Tensor& x, int max_shift, std::uint64_t seed, std::uint64_t first_index, Tensor& out) {
  const int n = x.dim(0), h = x.dim(1), w = x.dim(2);
  if (max_shift < 0 || max_shift >= std::min(h, w))
    throw ArgumentError("shift_augment", fmt::format("must be 0 (no augmentation) or a shift smaller than the "
                                                     "{}x{} images (got {})",
                                                     h, w, max_shift));
  out.resize(x.shape());
  const std::uint64_t stream_seed = shift_seed(seed);
#pragma omp parallel for schedule(static)
  for (int s = 0; s < n; ++s) {
    Rng rng(stream_seed, first_index + std::uint64_t(s));
    const int span = 2 * max_shift + 1;
    const int dy = int(rng.below(std::uint64_t(span))) - max_shift;
    const int dx = int(rng.below(std::uint64_t(span))) - max_shift;
    const float* src = x.data() + std::size_t(s) * h * w;
    float* dst = out.data() + std::size_t(s) * h * w;
    std::fill(dst, dst + std::size_t(h) * w, 0.0f);
    const int i0 = std::max(0, dy), i1 = std::min(h, h + dy), j0 = std::max(0, dx), j1 = std::min(w, w + dx);
    for (int i = i0; i < i1; ++i)
      for (int j = j0; j < j1; ++j) dst[i * w + j] = src[(i - dy) * w + (j - dx)];
  }
}

}  // namespace dn

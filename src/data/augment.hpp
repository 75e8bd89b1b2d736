#pragma once
// Training-time augmentation: every image moved by a random whole-pixel shift,
// drawn afresh each epoch, so a classifier sees the digits where the test set
// may put them. Seeded per image, as the noise is (data/noise.hpp).
#include <cstdint>

#include "core/tensor.hpp"

namespace dn {

// x (N, H, W) -> out (N, H, W): image i moved by (dy, dx), each drawn uniformly
// from [-max_shift, max_shift] by Rng(shift_seed(seed), first_index + i); pixel
// (r, c) of the result is pixel (r - dy, c - dx) of the image, 0 (background)
// where that falls outside. Independent of the thread count. max_shift 0 copies.
// ArgumentError("shift_augment", ...) for a negative max_shift or one not smaller than H and W.
void shift_augment(const Tensor& x, int max_shift, std::uint64_t seed, std::uint64_t first_index, Tensor& out);

// The generator seed of a run seeded `seed`: its own, so the shifts do not
// follow the noise drawn from the same run seed (data/noise_streams.hpp).
std::uint64_t shift_seed(std::uint64_t seed);

}  // namespace dn

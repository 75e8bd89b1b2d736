#pragma once
// Which noise each split of a run sees. The noise stream depends on (seed, split),
// so train, validation and test get different but reproducible noise, and every
// command that redraws a run's noise (training, eval, the classifiers) draws the same.
#include <cstdint>
#include <string>

#include "core/tensor.hpp"
#include "data/noise.hpp"

namespace dn {

enum class Split { train = 0, validation = 1, test = 2 };
// ArgumentError("split", ...) for anything but train, validation or test.
Split parse_split(const std::string& text);
const char* split_name(Split split);

// The noise seed of a split in a run seeded `seed`. Training epochs continue the
// train split's streams (first_index = epoch * N), so no epoch repeats another's
// noise and none ever matches the validation or test noise.
std::uint64_t split_noise_seed(std::uint64_t seed, Split split);

// clean's images with the split's noise; image i draws from stream first_index + i.
Tensor noisy_images(const Tensor& clean, const NoiseSpec& noise, std::uint64_t seed, Split split,
                    std::uint64_t first_index = 0);

}  // namespace dn

#include "data/noise_streams.hpp"

#include "core/error.hpp"

namespace dn {

Split parse_split(const std::string& text) {
  if (text == "train") return Split::train;
  if (text == "validation") return Split::validation;
  if (text == "test") return Split::test;
  throw ArgumentError("split", "must be train, validation or test (got '" + text + "')");
}

const char* split_name(Split split) {
  switch (split) {
    case Split::train: return "train";
    case Split::validation: return "validation";
    case Split::test: return "test";
  }
  return "?";
}

std::uint64_t split_noise_seed(std::uint64_t seed, Split split) { return seed * 3 + static_cast<std::uint64_t>(split); }

Tensor noisy_images(const Tensor& clean, const NoiseSpec& noise, std::uint64_t seed, Split split,
                    std::uint64_t first_index) {
  Tensor noisy;
  add_noise(noise, clean, noisy, split_noise_seed(seed, split), first_index);
  return noisy;
}

}  // namespace dn

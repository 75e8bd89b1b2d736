#pragma once
// Noise models, made by the program, seeded and reproducible. One spec syntax
// everywhere: "gaussian:0.5", "salt-pepper:0.2", "speckle:0.3", "poisson:10", "none".
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "core/tensor.hpp"

namespace dn {

struct NoiseSpec {
  enum class Kind { none, gaussian, salt_pepper, speckle, poisson };
  Kind kind = Kind::none;
  // gaussian, speckle: the factor f of N(0, 1); salt_pepper: the fraction of pixels hit;
  // poisson: the peak count that a pixel of value 1 becomes.
  double param = 0.0;

  std::string str() const;  // parse_noise(spec.str()) == spec
  bool operator==(const NoiseSpec&) const = default;
};

// gaussian:F  x + F*N(0,1), clipped to [0, 1]; bare "gaussian" means gaussian:0.5
// salt-pepper:P  each pixel, with probability P, becomes 0 or 1 (equal chance)
// speckle:F  x + x*F*N(0,1), clipped
// poisson:PEAK  Poisson(x*PEAK)/PEAK, clipped
// none  unchanged
// UsageError quoting the text for an unknown kind, a malformed number or an
// out-of-range parameter (negative or not finite F, P outside [0, 1], PEAK <= 0).
NoiseSpec parse_noise(const std::string& text);

// The spec forms in one line, for help texts and errors:
// "gaussian:F, salt-pepper:P, speckle:F, poisson:PEAK or none".
const char* noise_spec_help();

// noisy = clean with noise added; the first dimension of clean indexes images.
// Image i draws from its own stream Rng(seed, first_index + i), so the result is
// the same whatever the thread count and however a dataset is cut into batches.
// noisy may be the same tensor as clean. With param_max, each image's parameter is
// drawn uniformly in [spec.param, param_max] (training on a range of noise levels);
// UsageError when param_max is below spec.param or not finite.
void add_noise(const NoiseSpec& spec, const Tensor& clean, Tensor& noisy, std::uint64_t seed,
               std::uint64_t first_index = 0, std::optional<double> param_max = std::nullopt);

// What add_noise does to image `index` of a set (`pixels` values read from x, written
// to y, which may be x), for callers that hold images their own way; check_noise_range first.
void add_noise_image(const NoiseSpec& spec, const float* x, float* y, std::size_t pixels, std::uint64_t seed,
                     std::uint64_t index, std::optional<double> param_max = std::nullopt);
// add_noise's UsageError for a param_max below spec.param or not finite.
void check_noise_range(const NoiseSpec& spec, std::optional<double> param_max);

}  // namespace dn

#include "data/noise.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

#include <fmt/core.h>

#include "core/error.hpp"
#include "core/rng.hpp"

namespace dn {

using Kind = NoiseSpec::Kind;

static const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::none: return "none";
    case Kind::gaussian: return "gaussian";
    case Kind::salt_pepper: return "salt-pepper";
    case Kind::speckle: return "speckle";
    case Kind::poisson: return "poisson";
  }
  return "?";
}

std::string NoiseSpec::str() const {
  if (kind == Kind::none) return "none";
  return fmt::format("{}:{}", kind_name(kind), param);
}

const char* noise_spec_help() { return "gaussian:F, salt-pepper:P, speckle:F, poisson:PEAK or none"; }

NoiseSpec parse_noise(const std::string& text) {
  const auto fail = [&](const std::string& why) {
    return UsageError("bad noise spec '" + text + "': " + why + " (expected " + noise_spec_help() + ")");
  };
  const std::size_t colon = text.find(':');
  const std::string name = text.substr(0, colon);
  const bool has_param = colon != std::string::npos;
  NoiseSpec spec;
  if (name == "none") spec.kind = Kind::none;
  else if (name == "gaussian") spec.kind = Kind::gaussian;
  else if (name == "salt-pepper") spec.kind = Kind::salt_pepper;
  else if (name == "speckle") spec.kind = Kind::speckle;
  else if (name == "poisson") spec.kind = Kind::poisson;
  else throw fail("unknown noise kind '" + name + "'");

  if (spec.kind == Kind::none) {
    if (has_param) throw fail("none takes no parameter");
    return spec;
  }
  if (!has_param) {
    if (spec.kind != Kind::gaussian) throw fail(name + " needs a parameter, e.g. " + name + ":" +
                                                (spec.kind == Kind::poisson ? "10" : "0.2"));
    spec.param = 0.5;
    return spec;
  }
  const std::string number = text.substr(colon + 1);
  const char* end = number.data() + number.size();
  const auto [ptr, ec] = std::from_chars(number.data(), end, spec.param);
  if (number.empty() || ec != std::errc() || ptr != end) throw fail("'" + number + "' is not a number");
  if (!std::isfinite(spec.param)) throw fail("the parameter must be finite");
  switch (spec.kind) {
    case Kind::gaussian:
    case Kind::speckle:
      if (spec.param < 0) throw fail("the factor must be >= 0");
      break;
    case Kind::salt_pepper:
      if (spec.param < 0 || spec.param > 1) throw fail("the fraction must be in [0, 1]");
      break;
    case Kind::poisson:
      if (spec.param <= 0) throw fail("the peak must be > 0");
      break;
    case Kind::none: break;
  }
  return spec;
}

static float clip01(double v) { return static_cast<float>(std::clamp(v, 0.0, 1.0)); }

void check_noise_range(const NoiseSpec& spec, std::optional<double> param_max) {
  if (param_max && !(std::isfinite(*param_max) && *param_max >= spec.param))
    throw UsageError(fmt::format("noise range: the largest level {} must be finite and at least {}'s", *param_max,
                                 spec.str()));
}

void add_noise_image(const NoiseSpec& spec, const float* x, float* y, std::size_t pixels, std::uint64_t seed,
                     std::uint64_t index, std::optional<double> param_max) {
  Rng rng(seed, index);
  // A range draws the image's level first, from the image's own stream.
  const double p = param_max ? spec.param + (*param_max - spec.param) * rng.uniform() : spec.param;
  switch (spec.kind) {
    case Kind::none:
      if (x != y) std::memcpy(y, x, pixels * sizeof(float));
      break;
    case Kind::gaussian:
      for (std::size_t j = 0; j < pixels; ++j) y[j] = clip01(x[j] + p * rng.normal());
      break;
    case Kind::salt_pepper:
      for (std::size_t j = 0; j < pixels; ++j) {
        const bool hit = rng.uniform() < p;
        const bool salt = rng.uniform() < 0.5;  // drawn always, so pixel j's draws do not depend on hits
        y[j] = hit ? (salt ? 1.0f : 0.0f) : x[j];
      }
      break;
    case Kind::speckle:
      for (std::size_t j = 0; j < pixels; ++j) y[j] = clip01(x[j] + x[j] * p * rng.normal());
      break;
    case Kind::poisson:
      for (std::size_t j = 0; j < pixels; ++j) y[j] = clip01(double(rng.poisson(x[j] * p)) / p);
      break;
  }
}

void add_noise(const NoiseSpec& spec, const Tensor& clean, Tensor& noisy, std::uint64_t seed,
               std::uint64_t first_index, std::optional<double> param_max) {
  check_noise_range(spec, param_max);
  if (&noisy != &clean) noisy.resize(clean.shape());
  if (clean.empty()) return;
  const std::size_t images = std::size_t(clean.dim(0));
  const std::size_t pixels = clean.size() / images;
#pragma omp parallel for schedule(static)
  for (std::size_t i = 0; i < images; ++i)
    add_noise_image(spec, clean.data() + i * pixels, noisy.data() + i * pixels, pixels, seed, first_index + i,
                    param_max);
}

}  // namespace dn

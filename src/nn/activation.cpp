#include "nn/activation.hpp"

#include <array>
#include <utility>

#include <fmt/core.h>

#include "core/error.hpp"

namespace dn {

namespace {

constexpr std::array<std::pair<Activation, const char*>, 5> kNames{{
    {Activation::linear, "linear"},
    {Activation::relu, "relu"},
    {Activation::sigmoid, "sigmoid"},
    {Activation::tanh, "tanh"},
    {Activation::softmax, "softmax"},
}};

}  // namespace

Activation parse_activation(const std::string& name) {
  std::string valid;
  for (const auto& [act, n] : kNames) {
    if (name == n) return act;
    valid += valid.empty() ? n : std::string(", ") + n;
  }
  throw UsageError(fmt::format("unknown activation '{}' (valid: {})", name, valid));
}

std::string activation_name(Activation act) {
  for (const auto& [a, n] : kNames)
    if (a == act) return n;
  return "linear";
}

}  // namespace dn

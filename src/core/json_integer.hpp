#pragma once
// Integers read from JSON documents the program did not necessarily write (config.json,
// checkpoints). nlohmann's get<int>() converts whatever number it finds with a plain cast,
// which is undefined behaviour for a float out of the type's range (2.5e57 as an int) and
// wraps integers silently; this refuses them.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace dn {

// v as T when it is an integer (or an integral float, as 10.0) that T holds; UsageError
// "<key> must be an integer from MIN to MAX (got V)" otherwise.
template <class T>
T json_integer(const nlohmann::json& v, const std::string& key) {
  using L = std::numeric_limits<T>;
  if (v.is_number_unsigned()) {
    const std::uint64_t u = v.get<std::uint64_t>();
    if (u <= static_cast<std::uint64_t>(L::max())) return static_cast<T>(u);
  } else if (v.is_number_integer()) {
    const std::int64_t i = v.get<std::int64_t>();
    if ((L::is_signed || i >= 0) && (!L::is_signed || i >= static_cast<std::int64_t>(L::min())) &&
        (i < 0 || static_cast<std::uint64_t>(i) <= static_cast<std::uint64_t>(L::max())))
      return static_cast<T>(i);
  } else if (v.is_number_float()) {
    const double d = v.get<double>();
    const double end = std::ldexp(1.0, L::digits);  // L::max() + 1, exactly
    if (std::isfinite(d) && d == std::trunc(d) && d < end && (L::is_signed ? d >= -end : d >= 0))
      return static_cast<T>(d);
  }
  throw UsageError(key + " must be an integer from " + std::to_string(L::min()) + " to " + std::to_string(L::max()) +
                   " (got " + v.dump() + ")");
}

// j[key] as T when present, else fallback.
template <class T>
T json_integer_or(const nlohmann::json& j, const std::string& key, T fallback) {
  return j.is_object() && j.contains(key) ? json_integer<T>(j.at(key), key) : fallback;
}

}  // namespace dn

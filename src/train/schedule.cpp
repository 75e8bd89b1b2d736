#include "train/schedule.hpp"

#include <cmath>

#include <fmt/core.h>

#include "core/error.hpp"

namespace dn {

void validate_schedule(int epochs, int batch_size, std::optional<double> lr) {
  if (epochs < 1) throw ArgumentError("epochs", fmt::format("must be >= 1 (got {})", epochs));
  if (batch_size < 1) throw ArgumentError("batch_size", fmt::format("must be >= 1 (got {})", batch_size));
  if (lr && !(*lr > 0.0 && std::isfinite(*lr))) throw ArgumentError("lr", fmt::format("must be > 0 (got {})", *lr));
}

}  // namespace dn

#include "train/schedule.hpp"

#include <cmath>
#include <numbers>

#include <fmt/core.h>

#include "core/error.hpp"

namespace dn {

void validate_schedule(int epochs, int batch_size, std::optional<double> lr) {
  if (epochs < 1) throw ArgumentError("epochs", fmt::format("must be >= 1 (got {})", epochs));
  if (batch_size < 1) throw ArgumentError("batch_size", fmt::format("must be >= 1 (got {})", batch_size));
  if (lr && !(*lr > 0.0 && std::isfinite(*lr))) throw ArgumentError("lr", fmt::format("must be > 0 (got {})", *lr));
}

const char* lr_schedule_name(LrSchedule schedule) {
  switch (schedule) {
    case LrSchedule::constant: return "constant";
    case LrSchedule::cosine: return "cosine";
    case LrSchedule::plateau: return "plateau";
  }
  return "?";
}

LrSchedule parse_lr_schedule(const std::string& text) {
  for (LrSchedule s : {LrSchedule::constant, LrSchedule::cosine, LrSchedule::plateau})
    if (text == lr_schedule_name(s)) return s;
  throw ArgumentError("lr_schedule", "must be constant, cosine or plateau (got '" + text + "')");
}

double scheduled_lr(LrSchedule schedule, double base, int epoch, int epochs) {
  if (schedule != LrSchedule::cosine) return base;
  return base * 0.5 * (1.0 + std::cos(std::numbers::pi * double(epoch - 1) / double(epochs)));
}

}  // namespace dn

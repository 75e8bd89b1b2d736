#pragma once
// What every training config shares and checks the same way: the schedule's
// numbers and the learning-rate schedules.
#include <optional>
#include <string>

namespace dn {

// ArgumentError unless epochs >= 1, batch_size >= 1 and lr (when given) is positive and finite.
void validate_schedule(int epochs, int batch_size, std::optional<double> lr);

// How the learning rate moves over the epochs: constant; cosine (see scheduled_lr);
// plateau: Keras's ReduceLROnPlateau on val_loss (train/keras_callbacks.hpp).
enum class LrSchedule { constant, cosine, plateau };
const char* lr_schedule_name(LrSchedule schedule);
LrSchedule parse_lr_schedule(const std::string& text);  // ArgumentError("lr_schedule", ...)

// The learning rate of an epoch (1-based) of `epochs` before any plateau
// reduction: base for constant and plateau; for cosine, base * (1 + cos(pi *
// (epoch - 1) / epochs)) / 2, from base in the first epoch down towards 0 in the
// last (Keras's CosineDecay at each epoch's start).
double scheduled_lr(LrSchedule schedule, double base, int epoch, int epochs);

}  // namespace dn

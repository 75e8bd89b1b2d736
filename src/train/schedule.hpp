#pragma once
// What every training config shares and checks the same way.
#include <optional>

namespace dn {

// ArgumentError unless epochs >= 1, batch_size >= 1 and lr (when given) is positive and finite.
void validate_schedule(int epochs, int batch_size, std::optional<double> lr);

}  // namespace dn

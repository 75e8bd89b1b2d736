#pragma once
// Keras-style model summary (the table model.summary() prints).
#include <string>

#include "nn/layer.hpp"

namespace dn {

// The table for one built model: a row per direct child, then the totals.
// With nested = true, each nested Sequential's own table follows (the seed
// printed its encoder's and decoder's summaries the same way).
std::string summary(Layer& model, bool nested = false);

// 3279 -> "3,279"
std::string with_commas(std::size_t n);

}  // namespace dn

#pragma once
// Summary numbers for a dataset, as `denoise data info` reports them.
#include <array>
#include <cstddef>

#include <nlohmann/json.hpp>

#include "data/dataset.hpp"

namespace dn {

struct DatasetStats {
  std::size_t count = 0;
  int height = 0, width = 0;
  double pixel_mean = 0.0;
  std::array<std::size_t, kNumClasses> label_counts{};
  // Fraction of pixels exactly 0 or exactly 1: the best binary_accuracy any model
  // can reach against these images as targets (DESIGN.md section 1).
  double binary_accuracy_ceiling = 0.0;
};

DatasetStats dataset_stats(const Dataset& data);

// {"count", "height", "width", "pixel_mean", "label_counts": [10], "binary_accuracy_ceiling"}
nlohmann::json to_json(const DatasetStats& stats);

}  // namespace dn

#pragma once
// Summary numbers for a dataset, as `denoise data info` reports them.
#include <cstddef>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/dataset.hpp"

namespace dn {

struct DatasetStats {
  std::size_t count = 0;
  int height = 0, width = 0;
  double pixel_mean = 0.0;
  std::vector<std::size_t> label_counts;  // one per class: the dataset's num_classes
  // Fraction of pixels exactly 0 or exactly 1: the best binary_accuracy any model
  // can reach against these images as targets (DESIGN.md section 1).
  double binary_accuracy_ceiling = 0.0;
};

// std::out_of_range when a label is not below data.num_classes.
DatasetStats dataset_stats(const Dataset& data);

// {"count", "height", "width", "pixel_mean", "label_counts": [num_classes], "binary_accuracy_ceiling"}
nlohmann::json to_json(const DatasetStats& stats);

}  // namespace dn

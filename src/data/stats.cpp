#include "data/stats.hpp"

#include <algorithm>
#include <vector>

namespace dn {

DatasetStats dataset_stats(const Dataset& data) {
  DatasetStats s;
  s.count = data.size();
  s.height = data.height();
  s.width = data.width();
  // Per-image partial sums added in order: the result does not depend on the thread count.
  const std::size_t pixels = std::size_t(s.height) * std::size_t(s.width);
  std::vector<double> sums(s.count);
  std::vector<std::size_t> binaries(s.count);
#pragma omp parallel for schedule(static)
  for (std::size_t i = 0; i < s.count; ++i) {
    const float* px = data.images.data() + i * pixels;
    double sum = 0.0;
    std::size_t binary = 0;
    for (std::size_t j = 0; j < pixels; ++j) {
      sum += px[j];
      binary += (px[j] == 0.0f || px[j] == 1.0f);
    }
    sums[i] = sum;
    binaries[i] = binary;
  }
  const double n = double(s.count * pixels);
  double sum = 0.0;
  std::size_t binary = 0;
  for (std::size_t i = 0; i < s.count; ++i) {
    sum += sums[i];
    binary += binaries[i];
  }
  s.pixel_mean = n > 0 ? sum / n : 0.0;
  s.binary_accuracy_ceiling = n > 0 ? double(binary) / n : 0.0;
  s.label_counts.assign(std::size_t(std::max(0, data.num_classes)), 0);
  for (std::uint8_t label : data.labels) ++s.label_counts.at(label);
  return s;
}

nlohmann::json to_json(const DatasetStats& s) {
  return {{"count", s.count},
          {"height", s.height},
          {"width", s.width},
          {"pixel_mean", s.pixel_mean},
          {"label_counts", s.label_counts},
          {"binary_accuracy_ceiling", s.binary_accuracy_ceiling}};
}

}  // namespace dn

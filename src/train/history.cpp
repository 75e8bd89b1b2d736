#include "train/history.hpp"

#include <cmath>

#include "core/error.hpp"

namespace dn {

std::string metric_name(Metric metric) {
  return metric == Metric::accuracy ? "accuracy" : "binary_accuracy";
}

Metric parse_metric(const std::string& text) {
  if (text == "binary_accuracy") return Metric::binary_accuracy;
  if (text == "accuracy") return Metric::accuracy;
  throw ArgumentError("metric", "must be binary_accuracy or accuracy (got '" + text + "')");
}

nlohmann::json History::to_json() const {
  // JSON has no NaN: a diverged value is written as null.
  auto value = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  const std::string name = metric_name(metric);
  nlohmann::json out = nlohmann::json::array();
  for (const EpochLog& e : epochs)
    out.push_back({{"epoch", e.epoch},
                   {"loss", value(e.loss)},
                   {name, value(e.metric)},
                   {"val_loss", value(e.val_loss)},
                   {"val_" + name, value(e.val_metric)},
                   {"lr", e.lr},
                   {"seconds", e.seconds}});
  return out;
}

}  // namespace dn

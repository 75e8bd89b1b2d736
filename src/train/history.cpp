#include "train/history.hpp"

#include <cmath>
#include <limits>

#include "core/error.hpp"
#include "core/json_integer.hpp"

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

History History::from_json(const nlohmann::json& j, Metric metric) {
  auto value = [](const nlohmann::json& v) {
    return v.is_null() ? std::numeric_limits<double>::quiet_NaN() : v.get<double>();
  };
  const std::string name = metric_name(metric);
  History h;
  h.metric = metric;
  for (const auto& row : j) {
    EpochLog e;
    e.epoch = json_integer<int>(row.at("epoch"), "epoch");
    e.loss = value(row.at("loss"));
    e.metric = value(row.at(name));
    e.val_loss = value(row.at("val_loss"));
    e.val_metric = value(row.at("val_" + name));
    e.lr = row.contains("lr") ? row.at("lr").get<double>() : 0.0;  // histories written before it was recorded
    e.seconds = row.at("seconds").get<double>();
    h.diverged = h.diverged || !std::isfinite(e.loss);
    h.epochs.push_back(e);
  }
  return h;
}

}  // namespace dn

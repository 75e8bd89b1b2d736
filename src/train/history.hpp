#pragma once
// What fit reports (Keras's History): the metric beside the loss, and each
// epoch's loss, metric and their validation values.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace dn {

// binary_accuracy: pixels whose rounded prediction equals the target (denoisers);
// accuracy: argmax of prediction equals argmax of the one-hot target (classifiers).
enum class Metric { binary_accuracy, accuracy };
std::string metric_name(Metric metric);  // "binary_accuracy", as Keras names it
// UsageError "metric must be binary_accuracy or accuracy (got 'f1')".
Metric parse_metric(const std::string& text);

struct EpochLog {
  int epoch = 0;
  double loss = 0, metric = 0, val_loss = 0, val_metric = 0, seconds = 0;
  double lr = 0;  // the learning rate the epoch trained with
};

struct History {
  Metric metric = Metric::binary_accuracy;
  std::vector<EpochLog> epochs;
  bool diverged = false;  // a non-finite loss was seen
  bool interrupted = false;  // stop_now was set: the last epoch did not finish
  bool stopped = false;   // stop_training was set (by a callback, or by fit on a non-finite loss under OnNaN::stop)
  std::string stop_reason;  // what the callback that stopped training said, or empty
  // [{"epoch":1, "loss":..., "<metric>":..., "val_loss":..., "val_<metric>":..., "lr":..., "seconds":...}, ...]
  nlohmann::json to_json() const;
  // Back from to_json (null as NaN); diverged when a loss is not finite. nlohmann::json's
  // exceptions for a malformed document.
  static History from_json(const nlohmann::json& j, Metric metric);
};

}  // namespace dn

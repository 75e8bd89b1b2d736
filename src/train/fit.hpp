#pragma once
// The fit loop (Keras's model.fit): mini-batches over shuffled samples, a
// progress line per epoch, validation at each epoch's end, and a History.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nn/inference.hpp"
#include "train/losses.hpp"
#include "train/optimizers.hpp"
#include "train/progress.hpp"

namespace dn {

enum class OnNaN { stop, continue_training };
OnNaN parse_on_nan(const std::string& text);

// The metric reported beside the loss: "binary_accuracy" (denoisers) or
// "accuracy" (classifiers: argmax of prediction equals argmax of one-hot target).
double batch_metric(const std::string& metric, const Tensor& y_pred, const Tensor& y_true);

struct FitOptions {
  int epochs = 10;
  int batch_size = 32;
  std::uint64_t seed = 0;  // shuffling order
  bool shuffle = true;
  OnNaN on_nan = OnNaN::stop;
  std::string metric = "binary_accuracy";
  int verbose = 1;
};

struct EpochLog {
  int epoch = 0;
  double loss = 0, metric = 0, val_loss = 0, val_metric = 0, seconds = 0;
};

struct History {
  std::string metric;
  std::vector<EpochLog> epochs;
  bool diverged = false;  // a non-finite loss was seen
  // [{"epoch":1, "loss":..., "<metric>":..., "val_loss":..., "val_<metric>":..., "seconds":...}, ...]
  nlohmann::json to_json() const;
};

struct Evaluation {
  double loss = 0, metric = 0;
};

// Mean loss and metric over a whole set, weighted by batch size as Keras does.
Evaluation evaluate(Layer& model, const Loss& loss, const std::string& metric, const Tensor& x, const Tensor& y,
                    int batch_size = 256);

// Called at the start of every epoch (1-based) before batching; lets a caller
// draw fresh noisy inputs each epoch. May be empty.
using EpochHook = std::function<void(int epoch, Tensor& x)>;

History fit(Layer& model, const Loss& loss, Optimizer& optimizer, Tensor& x, const Tensor& y, const Tensor& x_val,
            const Tensor& y_val, const FitOptions& options, const EpochHook& on_epoch_begin = {});

}  // namespace dn

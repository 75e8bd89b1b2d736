#pragma once
// A denoiser run's settings: everything needed to rerun it, stored as its config.json.
// Defaults are the seed report's experiment.
#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "data/dataset.hpp"
#include "train/controls.hpp"
#include "train/fit.hpp"

namespace dn {

struct DenoiserConfig {
  std::string model = "seed";        // a built-in model of nn/models.hpp
  std::string activation = "relu";   // its hidden activation
  std::string optimizer = "adadelta";
  std::optional<double> lr;  // the optimizer's Keras default when empty
  std::string loss = "binary_crossentropy";
  int epochs = 10;
  int batch_size = 32;
  std::string noise = "gaussian:0.5";
  // When set, each training image's noise level is drawn uniformly in [lo, hi] (noise's
  // kind; one model for a range of levels); validation and evaluation keep `noise`.
  std::optional<std::array<double, 2>> train_noise_range;
  // Draw the training images' noise afresh every epoch, where the seed's experiment
  // (and Keras's) draws it once: more noise samples for a model large enough to learn
  // one draw by heart. Validation keeps one draw.
  bool fresh_noise = false;
  // A denoiser run folder of the same model and activation whose weights training
  // starts from (fine-tuning, e.g. with another loss); empty: fresh weights.
  std::string init_from;
  DataOptions data;  // dataset, data_dir, limit
  std::uint64_t seed = 0;
  OnNaN on_nan = OnNaN::stop;
  TrainingControls controls;  // early stopping, save-best, lr schedule, CSV log, verbosity

  // "lr" is written as the rate used (the optimizer's default when not given);
  // "validation_split" as null for the seed's split.
  nlohmann::json to_json() const;
  static DenoiserConfig from_json(const nlohmann::json& j);  // DataError on missing or mistyped keys
  void validate() const;  // ArgumentError naming the argument and its value
};

// What every training run checks: epochs >= 1, batch_size >= 1, a positive finite lr.
void validate_schedule(int epochs, int batch_size, std::optional<double> lr);

}  // namespace dn

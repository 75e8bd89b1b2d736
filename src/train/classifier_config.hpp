#pragma once
// A digit classifier run's settings: everything needed to rerun it, stored as its
// config.json. Loss (categorical cross-entropy) and optimizer (Adam) are fixed and
// recorded there too. Defaults are Keras's simple MNIST convnet example's.
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "data/dataset.hpp"
#include "train/controls.hpp"
#include "train/schedule.hpp"

namespace dn {

// What a classifier trains on.
enum class TrainOn { clean, noisy, denoised };
const char* train_on_name(TrainOn on);
TrainOn parse_train_on(const std::string& text);  // ArgumentError("on", ...)

inline constexpr const char* kClassifierLoss = "categorical_crossentropy";
inline constexpr const char* kClassifierOptimizer = "adam";
// The noise a noisy-trained classifier gets when none is given.
inline constexpr const char* kDefaultClassifierNoise = "gaussian:0.5";

struct ClassifierConfig {
  std::string model = "classifier";  // a classifier model of nn/models.hpp
  TrainOn on = TrainOn::clean;
  // noisy, denoised: the noise, drawn afresh every epoch. Empty: the denoiser
  // run's noise for denoised, kDefaultClassifierNoise for noisy; train_classifier
  // records the resolved spec.
  std::string noise;
  std::string denoiser;  // denoised: the denoiser's run folder
  // A classifier run folder whose weights the model starts from instead of fresh
  // ones (fine-tuning: Keras's load_weights into a new model of the same
  // architecture; the optimizer starts afresh). Empty: fresh weights.
  std::string init_from;
  // Training-time augmentation: each epoch moves every training image by a random
  // shift of up to this many pixels in each direction before its noise is drawn
  // (data/augment.hpp). 0: none. Validation and test images are never moved.
  int shift_augment = 0;
  int epochs = 15;
  int batch_size = 128;
  std::optional<double> lr;  // Adam's 0.001 when empty
  TrainingControls controls;  // early stopping, save-best, lr schedule, CSV log, verbosity
  DataOptions data;
  std::uint64_t seed = 0;

  nlohmann::json to_json() const;
  static ClassifierConfig from_json(const nlohmann::json& j);  // DataError on missing or mistyped keys
  void validate() const;  // ArgumentError naming the argument and its value
};

}  // namespace dn

#pragma once
// Digit classifiers: train a convnet (Keras's simple MNIST convnet or a larger
// one) on clean, noisy or denoised images into a run folder, and load one back.
//
// A classifier run folder holds what every run folder holds (run/run_folder.hpp,
// config.json with "task": "classify") plus predictions.png: the first test
// digits as the classifier saw them, each with its predicted digit, green when
// right, red when wrong.
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dist/communicator.hpp"
#include "nn/sequential.hpp"
#include "run/run_folder.hpp"
#include "run/run_writer.hpp"
#include "train/callbacks.hpp"
#include "train/classifier_config.hpp"

namespace dn {

// metrics.json.
struct ClassifierMetrics {
  std::size_t count = 0;                 // clean test images
  double test_accuracy = 0, test_loss = 0;  // on them
  // noisy and denoised runs: the accuracy on the test set with the run's noise
  // (denoised by its denoiser), as "test_accuracy_noisy" or "test_accuracy_denoised".
  std::optional<double> test_accuracy_on_input;
  std::string noise;  // the run's noise; empty for clean runs
  bool diverged = false;

  nlohmann::json to_json(TrainOn on) const;
};

struct ClassifierResult {
  History history;
  ClassifierMetrics metrics;
};

// Trains per config into out_dir, written whole and checkpointed each epoch as a
// denoiser run is (train/denoiser.hpp); the callbacks see the fit. Throws
// DivergedError (after writing the folder) when the loss became NaN or infinite,
// InterruptedError when a callback set stop_now. Several processes train
// data-parallel as train_denoiser's do: rank 0 writes, the others return the history.
ClassifierResult train_classifier(const ClassifierConfig& config, const std::filesystem::path& out_dir,
                                  const std::vector<Callback*>& callbacks = {},
                                  ExistingRun existing = ExistingRun::refuse,
                                  dist::Communicator& communicator = dist::local());
// Continues the interrupted run at out_dir with the config it started with.
ClassifierResult resume_classifier(const std::filesystem::path& out_dir, const std::vector<Callback*>& callbacks = {},
                                   dist::Communicator& communicator = dist::local());

using LoadedClassifier = LoadedRun<ClassifierConfig>;
// DataError naming the folder when it is missing, is not a classifier's run
// folder, or its weights do not match.
LoadedClassifier load_classifier(const std::filesystem::path& run_dir);

// The run a fine-tuning run starts from (config.init_from), loaded as
// load_classifier does; ArgumentError("init_from", ...) naming the folder when its
// model is not config.model. train_classifier calls it before loading any data.
LoadedClassifier load_init_from(const ClassifierConfig& config);

}  // namespace dn

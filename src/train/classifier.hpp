#pragma once
// Digit classifiers (issue 6): train a convnet (Keras's simple MNIST convnet or a larger one) on clean,
// noisy or denoised images into a run folder, load it back, evaluate the
// classification pipelines from run folders, and the main job's whole
// classification experiment.
//
// A classifier run folder holds what a denoiser's does: config.json ("task":
// "classify" and everything to rerun), history.json (loss, accuracy,
// val_loss, val_accuracy, seconds per epoch), model.safetensors, metrics.json
// and predictions.png (the first test digits as the classifier saw them, each
// with its predicted digit, green when right, red when wrong).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/dataset.hpp"
#include "eval/classify_pipelines.hpp"
#include "nn/sequential.hpp"
#include "train/fit.hpp"

namespace dn {

// Everything needed to rerun a classifier's training; stored as config.json.
// Loss (categorical cross-entropy) and optimizer (Adam) are fixed and recorded
// there too. Defaults are Keras's example's.
struct ClassifierConfig {
  std::string model = "classifier";  // a classifier model of nn/models.hpp
  std::string on = "clean";  // what it trains on: clean, noisy or denoised images
  // noisy, denoised: the noise, drawn afresh every epoch. Empty: the denoiser
  // run's noise for denoised, gaussian:0.5 for noisy; train_classifier records
  // the resolved spec.
  std::string noise;
  std::string denoiser;      // denoised: the denoiser's run folder
  // A classifier run folder whose weights the model starts from instead of fresh
  // ones (fine-tuning: Keras's load_weights into a new model of the same
  // architecture; the optimizer starts afresh). Empty: fresh weights.
  std::string init_from;
  int epochs = 15;
  int batch_size = 128;
  std::optional<double> lr;  // Adam's 0.001 when empty
  std::string lr_schedule = "constant";  // or "cosine": see scheduled_lr
  DataOptions data;
  std::uint64_t seed = 0;

  nlohmann::json to_json() const;
  static ClassifierConfig from_json(const nlohmann::json& j);  // DataError on missing or mistyped keys
  void validate() const;                                        // UsageError on any bad value
};

// The learning rate of an epoch (1-based) of `epochs`: base for "constant";
// for "cosine", base * (1 + cos(pi * (epoch - 1) / epochs)) / 2, from base in the
// first epoch down towards 0 in the last.
double scheduled_lr(const std::string& schedule, double base, int epoch, int epochs);

// metrics.json: test_accuracy and test_loss on the clean test set, count; for
// noisy and denoised runs also test_accuracy_noisy or test_accuracy_denoised on
// the test set with the run's noise (denoised by its denoiser), and noise;
// diverged. Throws DivergedError (after writing the folder) when the loss
// became NaN.
struct ClassifierResult {
  History history;
  nlohmann::json metrics;
};
ClassifierResult train_classifier(const ClassifierConfig& config, const std::filesystem::path& out_dir,
                                  int verbose = 1);

struct LoadedClassifier {
  ClassifierConfig config;
  std::unique_ptr<Sequential> model;
};
// DataError naming the folder when it is missing, is not a classifier's run
// folder, or its weights do not match.
LoadedClassifier load_classifier(const std::filesystem::path& run_dir);

// The run a fine-tuning run starts from (config.init_from), loaded as
// load_classifier does; UsageError naming the folder when its model is not
// config.model. train_classifier calls it before loading any data.
LoadedClassifier load_init_from(const ClassifierConfig& config);

// `denoise classify eval`: the pipelines of classify_pipelines.hpp from run
// folders, on the test set of the clean classifier's dataset (or the one
// given), written to out_dir (classify.json, classify.md, classify.png).
// The result is evaluate_classify_pipelines's plus "seed" and the run folders
// ("classifier", "noisy_classifier", "denoiser", "denoised_classifier"; empty
// when not given).
struct ClassifyEvalRequest {
  std::filesystem::path classifier;        // trained on clean images
  std::filesystem::path noisy_classifier;  // optional
  std::filesystem::path denoiser;          // optional
  std::filesystem::path denoised_classifier;  // optional, trained on denoised images; needs denoiser
  NoiseLevels noise;  // its seed as a run's: the images get the noise a run with that seed tests on
  std::string dataset, data_dir;  // empty: the classifier run's
  std::size_t limit = 0;          // first N test images; 0 = all
};
nlohmann::json run_classify_eval(const ClassifyEvalRequest& request, const std::filesystem::path& out_dir,
                                 int verbose = 1);

// The main job's classification part: trains a classifier on clean images
// (out_dir/classifier-clean), one on noisy images (out_dir/classifier-noisy,
// with the denoiser's noise, else gaussian:0.5) and, when a denoiser run is
// given, one on its output (out_dir/classifier-denoised), these two by default
// fine-tuned from the clean one's weights; evaluates every
// pipeline at every level of that noise kind and writes
// out_dir/classify.{json,md,png}. Prints the table and the accuracies at the
// training noise. Returns classify.json's content plus "test_accuracy":
// {"clean": ..., "noisy": ..., "denoised": ...} (each classifier on the clean
// test set) and, when the levels include the training noise's,
// "at_training_noise": {"noise": spec, "accuracy": {pipeline: fraction},
// "best": pipeline}.
struct ClassificationExperiment {
  std::filesystem::path denoiser_run;  // optional
  DataOptions data;
  std::uint64_t seed = 0;
  // The same model and schedule for every classifier, so that the pipelines
  // differ only in what the classifiers see.
  std::string model = "classifier-large";
  std::string lr_schedule = "cosine";
  // The noise-aware classifiers start from the clean one's weights, which
  // already know the digits, and adapt them to the noise at Adam's default
  // rate (a peak of 0.0003 adapts too slowly). At gaussian:0.5 their average
  // reaches 98.4% after 5 or 7 epochs; from fresh weights (fine_tune false) it
  // takes 30 for 98.5-98.6%, three times as long. Clean digits are at 99.45%
  // by 10 epochs as by 15.
  bool fine_tune = true;
  int epochs = 7;  // noise-aware classifiers
  int clean_epochs = 10;
  std::vector<double> levels = NoiseLevels{}.levels;
  int verbose = 1;
};
nlohmann::json run_classification_experiment(const ClassificationExperiment& experiment,
                                             const std::filesystem::path& out_dir);

}  // namespace dn

#pragma once
// The main job's classification part: trains a classifier on clean images
// (out_dir/classifier-clean), one on noisy images (out_dir/classifier-noisy, with
// the denoiser's noise, else gaussian:0.5) and, when a denoiser run is given, one
// on its output (out_dir/classifier-denoised), these two by default fine-tuned from
// the clean one's weights, and, when a strong denoiser run is given too, one on
// that denoiser's output (out_dir/classifier-strong-denoised), averaged with the
// other two (ensemble_of_many); evaluates every pipeline at every level of that
// noise kind and writes out_dir/classify.{json,md,png}.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/dataset.hpp"
#include "experiments/observer.hpp"
#include "train/classifier_config.hpp"
#include "train/classify_eval.hpp"

namespace dn {

struct ClassificationExperiment {
  std::filesystem::path denoiser_run;  // optional
  // Optional, e.g. the shipped models/unet-large-mnist-gaussian0.1-1.0: trained
  // elsewhere, it costs the experiment its inference only.
  std::filesystem::path strong_denoiser_run;
  DataOptions data;
  std::uint64_t seed = 0;
  // The same model and schedule for every classifier, so that the pipelines
  // differ only in what the classifiers see.
  std::string model = "classifier-large";
  LrSchedule lr_schedule = LrSchedule::cosine;
  // The noise-aware classifiers start from the clean one's weights, which
  // already know the digits, and adapt them to the noise at Adam's default
  // rate (a peak of 0.0003 adapts too slowly). At gaussian:0.5 their average
  // reaches 98.4% after 5 or 7 epochs; from fresh weights (fine_tune false) it
  // takes 30 for 98.5-98.6%, three times as long. Clean digits are at 99.45%
  // by 10 epochs as by 15.
  bool fine_tune = true;
  int epochs = 7;  // noise-aware classifiers
  // The one behind the strong denoiser gains for longer: after 10 epochs it scores 98.74%
  // on the validation digits at gaussian:0.5 (five draws of their noise) against 98.64%
  // after 7, and the three averaged 98.77% against 98.74%.
  int strong_epochs = 10;
  int clean_epochs = 10;
  // The noise-aware classifiers train at once, one thread each and
  // without progress bars (experiments/beside.hpp); the numbers are the same.
  bool side_by_side = false;
  std::vector<double> levels = NoiseLevels{}.levels;
  // Draws of the test noise at the training level (seeds seed, seed + 1, ...): their
  // mean accuracy picks the best pipeline.
  int draws = 1;
};

struct ClassificationResult {
  ClassifyEvaluation evaluation;
  // each classifier ("clean", "noisy", "denoised", "strong-denoised") on clean test digits
  std::map<std::string, double> test_accuracy;
  // At the training noise's level, when the levels include it.
  std::string training_noise;
  std::optional<std::size_t> training_level;  // its row in evaluation.report.levels
  std::optional<Pipeline> best;               // the most accurate pipeline there, over the draws
  std::vector<std::uint64_t> draw_seeds;      // the test noise's seeds there, the evaluation's first
  std::map<std::string, std::vector<double>> draws;  // each pipeline's accuracy there, a value per seed
  double mean_accuracy(Pipeline p) const;             // over the draws

  // classify.json's content plus "test_accuracy": {name: fraction} and, with a
  // training level, "at_training_noise": {"noise", "accuracy": {pipeline: fraction},
  // "draws": {"seeds": [...], "accuracy": {pipeline: [fraction per seed]}, "mean":
  // {pipeline: fraction}}, "best"}.
  nlohmann::json to_json() const;
};

ClassificationResult run_classification_experiment(const ClassificationExperiment& experiment,
                                                   const std::filesystem::path& out_dir,
                                                   const ExperimentObserver& observer = {});

}  // namespace dn

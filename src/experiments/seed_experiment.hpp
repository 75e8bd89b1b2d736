#pragma once
// The seed report's experiment end to end (the README's main job): train the
// seed model with the seed's settings, evaluate it on the test set, draw the
// reconstructions, run the optimizer x activation sweep, predict digits from
// noisy and denoised images, and compare every number with the report's.
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "experiments/classification.hpp"
#include "experiments/observer.hpp"
#include "train/denoiser_config.hpp"

namespace dn {

struct SeedExperimentOptions {
  DenoiserConfig train;    // the seed's defaults
  int sweep_repeats = 5;  // 0 skips the sweep
  int sweep_epochs = 10;
  // Digit classifiers (the seed's stated goal); defaults: ClassificationExperiment's.
  int classify_epochs = ClassificationExperiment{}.epochs;  // noise-aware ones; 0 skips them all
  int classify_clean_epochs = ClassificationExperiment{}.clean_epochs;  // the one trained on clean digits
  bool classify_fine_tune = ClassificationExperiment{}.fine_tune;  // noise-aware ones start from the clean one
  std::string classify_model = "classifier-large";
  // A denoiser run trained elsewhere (the program's default: the shipped unet-large);
  // a third noise-aware classifier fine-tunes behind it. Empty: none.
  std::filesystem::path classify_strong_denoiser;
  int classify_strong_epochs = ClassificationExperiment{}.strong_epochs;  // the classifier behind it
  int classify_draws = 5;  // draws of the test noise at the classifiers' training level
};

// The settings that differ from the seed report's (SeedExperimentOptions{}), one
// phrase each, e.g. "epochs 1 (the seed's: 10)"; empty when the run is like for
// like. Settings the seed did not report (the classifiers, the threads) never count.
std::vector<std::string> seed_setting_differences(const SeedExperimentOptions& options);

// Writes out_dir/{seed-run/, sweep/, classify/, report.md, report.json}, tells the
// observer what it does and ends with the comparison; returns report.json's content.
// When seed_setting_differences is not empty, the first line said and report.md's
// first paragraph name the differences, and report.json lists them under
// "differs_from_seed".
nlohmann::json run_seed_experiment(const SeedExperimentOptions& options, const std::filesystem::path& out_dir,
                                   const ExperimentObserver& observer = {});

}  // namespace dn

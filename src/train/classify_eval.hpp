#pragma once
// `denoise classify eval`: the pipelines of eval/classify_pipelines.hpp from run
// folders, on the test set of the clean classifier's dataset (or the one given),
// written as classify.json, classify.md and classify.png.
#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/classify_pipelines.hpp"

namespace dn {

struct ClassifyEvalRequest {
  std::filesystem::path classifier;           // trained on clean images
  std::filesystem::path noisy_classifier;     // optional
  std::filesystem::path denoiser;             // optional
  std::filesystem::path denoised_classifier;  // optional, trained on denoised images; needs denoiser
  NoiseLevels noise;  // its seed as a run's: the images get the noise a run with that seed tests on
  std::string dataset, data_dir;  // empty: the classifier run's
  std::size_t limit = 0;          // first N test images; 0 = all
  int tta_shift = 0;              // test-time augmentation (eval/classify_pipelines.hpp); 0 = none
  // Noisy- or denoised-trained classifier run folders (two or more, or none) averaged
  // as ensemble_of_many; a denoised-trained one sees the output of the denoiser its
  // config.json names (a relative path is taken from the working directory).
  std::vector<std::filesystem::path> ensemble;
};

struct ClassifyEvaluation {
  ClassifyReport report;
  ClassifyEvalRequest request;
  std::vector<std::string> ensemble_denoisers;  // for each of request.ensemble: its denoiser, or "" (noisy-trained)
  // classify.json: the report's JSON plus "seed" and the run folders ("classifier",
  // "noisy_classifier", "denoiser", "denoised_classifier"; empty when not given;
  // "ensemble": the list, each with the denoiser it was fed through or "").
  nlohmann::json to_json() const;
};

// Evaluates and writes out_dir/classify.{json,md,png}. on_level (optional) sees each level as it is done.
ClassifyEvaluation run_classify_eval(const ClassifyEvalRequest& request, const std::filesystem::path& out_dir,
                                     const std::function<void(const ClassifyReport&)>& on_level = {});

}  // namespace dn

#pragma once
// `denoise classify eval`: the pipelines of eval/classify_pipelines.hpp from run
// folders, on the test set of the clean classifier's dataset (or the one given),
// written as classify.json, classify.md and classify.png.
#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>

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
};

struct ClassifyEvaluation {
  ClassifyReport report;
  ClassifyEvalRequest request;
  // classify.json: the report's JSON plus "seed" and the run folders ("classifier",
  // "noisy_classifier", "denoiser", "denoised_classifier"; empty when not given).
  nlohmann::json to_json() const;
};

// Evaluates and writes out_dir/classify.{json,md,png}. on_level (optional) sees each level as it is done.
ClassifyEvaluation run_classify_eval(const ClassifyEvalRequest& request, const std::filesystem::path& out_dir,
                                     const std::function<void(const ClassifyReport&)>& on_level = {});

}  // namespace dn

#include "train/classify_eval.hpp"

#include "data/noise_streams.hpp"
#include "train/classifier.hpp"
#include "train/denoiser.hpp"

namespace dn {

namespace fs = std::filesystem;

nlohmann::json ClassifyEvaluation::to_json() const {
  nlohmann::json j = report.to_json();
  j["seed"] = request.noise.seed;
  j["classifier"] = request.classifier.string();
  j["noisy_classifier"] = request.noisy_classifier.string();
  j["denoiser"] = request.denoiser.string();
  j["denoised_classifier"] = request.denoised_classifier.string();
  return j;
}

ClassifyEvaluation run_classify_eval(const ClassifyEvalRequest& request, const fs::path& out_dir,
                                     const std::function<void(const ClassifyReport&)>& on_level) {
  const LoadedClassifier clean = load_classifier(request.classifier);
  LoadedClassifier noisy, denoised;
  LoadedDenoiser denoiser;
  if (!request.noisy_classifier.empty()) noisy = load_classifier(request.noisy_classifier);
  if (!request.denoiser.empty()) denoiser = load_denoiser(request.denoiser);
  if (!request.denoised_classifier.empty()) denoised = load_classifier(request.denoised_classifier);

  DataOptions options = clean.config.data;
  if (!request.dataset.empty()) options.dataset = request.dataset;
  if (!request.data_dir.empty()) options.data_dir = request.data_dir;
  Dataset test = load_data_file(options, DataFile::test);
  if (request.limit) test = subset(test, 0, std::min(request.limit, test.size()));

  NoiseLevels noise = request.noise;
  noise.seed = split_noise_seed(request.noise.seed, Split::test);  // the test noise of a run with this seed
  ClassifyEvaluation result;
  result.request = request;
  result.report = evaluate_classify_pipelines(
      {clean.model.get(), denoiser.model.get(), noisy.model.get(), denoised.model.get()}, test, noise, on_level);
  write_classify_report(result.report, result.to_json(), out_dir);
  return result;
}

}  // namespace dn

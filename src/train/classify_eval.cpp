#include "train/classify_eval.hpp"

#include <map>

#include "core/error.hpp"
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
  j["ensemble"] = nlohmann::json::array();
  for (std::size_t i = 0; i < request.ensemble.size(); ++i)
    j["ensemble"].push_back({{"classifier", request.ensemble[i].string()}, {"denoiser", ensemble_denoisers.at(i)}});
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
  // The ensemble's classifiers and the denoisers they trained behind, each denoiser
  // loaded once (and the --denoiser one reused) so that it runs once per level. A member
  // that is also the noisy- or denoised-trained classifier is that model, so that its
  // probabilities are computed once per level too.
  const auto same_run = [](const fs::path& a, const fs::path& b) {
    std::error_code missing;  // a path that is not there is no other's
    return !b.empty() && fs::equivalent(a, b, missing);
  };
  std::vector<LoadedClassifier> own_members;  // the models live behind unique_ptrs: Layer* stay valid
  std::map<std::string, LoadedDenoiser> member_denoisers;
  std::vector<std::string> member_denoiser_paths;
  std::vector<EnsembleMember> many;
  for (const fs::path& run : request.ensemble) {
    const LoadedClassifier& member = same_run(run, request.noisy_classifier)      ? noisy
                                     : same_run(run, request.denoised_classifier) ? denoised
                                     : own_members.emplace_back(load_classifier(run));
    const ClassifierConfig& c = member.config;
    if (c.on == TrainOn::clean)
      throw ArgumentError("ensemble", "'" + run.string() +
                                          "' was trained on clean images; its members are noisy- or "
                                          "denoised-trained classifiers");
    member_denoiser_paths.push_back(c.denoiser);
    Layer* member_denoiser = nullptr;  // none: the member reads the noisy images themselves
    if (same_run(c.denoiser, request.denoiser)) {
      member_denoiser = denoiser.model.get();
    } else if (!c.denoiser.empty()) {
      auto it = member_denoisers.find(c.denoiser);
      if (it == member_denoisers.end()) it = member_denoisers.emplace(c.denoiser, load_denoiser(c.denoiser)).first;
      member_denoiser = it->second.model.get();
    }
    many.push_back({member.model.get(), member_denoiser});
  }

  DataOptions options = clean.config.data;
  if (!request.dataset.empty()) options.dataset = request.dataset;
  if (!request.data_dir.empty()) options.data_dir = request.data_dir;
  Dataset test = load_data_file(options, DataFile::test);
  if (request.limit) test = subset(test, 0, std::min(request.limit, test.size()));

  NoiseLevels noise = request.noise;
  noise.seed = split_noise_seed(request.noise.seed, Split::test);  // the test noise of a run with this seed
  const ClassifyModels models{clean.model.get(), denoiser.model.get(), noisy.model.get(), denoised.model.get(),
                              std::move(many)};
  ClassifyEvaluation result;
  result.request = request;
  result.ensemble_denoisers = member_denoiser_paths;
  result.report = evaluate_classify_pipelines(models, test, noise, request.tta_shift, on_level);
  write_classify_report(result.report, result.to_json(), out_dir);
  return result;
}

}  // namespace dn

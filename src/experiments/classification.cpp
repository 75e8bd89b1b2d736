#include "experiments/classification.hpp"

#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>

#include <fmt/core.h>

#include "core/error.hpp"
#include "experiments/beside.hpp"
#include "train/classifier.hpp"
#include "train/denoiser.hpp"
#include "train/progress.hpp"

namespace dn {

namespace fs = std::filesystem;

nlohmann::json ClassificationResult::to_json() const {
  nlohmann::json j = evaluation.to_json();
  j["test_accuracy"] = test_accuracy;
  if (training_level) {
    const ClassifyReport& r = evaluation.report;
    nlohmann::json accuracy = nlohmann::json::object();
    for (Pipeline p : r.pipelines) accuracy[pipeline_name(p)] = r.accuracy(*training_level, p);
    nlohmann::json mean = nlohmann::json::object();
    for (Pipeline p : r.pipelines) mean[pipeline_name(p)] = mean_accuracy(p);
    j["at_training_noise"] = {{"noise", training_noise},
                              {"accuracy", accuracy},
                              {"draws", {{"seeds", draw_seeds}, {"accuracy", draws}, {"mean", mean}}},
                              {"best", pipeline_name(*best)}};
  }
  return j;
}

double ClassificationResult::mean_accuracy(Pipeline p) const {
  const std::vector<double>& all = draws.at(pipeline_name(p));
  double sum = 0;
  for (double a : all) sum += a;
  return sum / static_cast<double>(all.size());
}

static std::string noise_kind(const NoiseSpec& spec) {
  const std::string s = spec.str();
  return s.substr(0, s.find(':'));
}

ClassificationResult run_classification_experiment(const ClassificationExperiment& e, const fs::path& out_dir,
                                                   const ExperimentObserver& observer) {
  if (e.draws < 1) throw ArgumentError("draws", fmt::format("must be >= 1 (got {})", e.draws));
  const std::string noise =
      e.denoiser_run.empty() ? std::string(kDefaultClassifierNoise) : load_denoiser(e.denoiser_run).config.noise;
  const NoiseSpec spec = parse_noise(noise);
  if (spec.kind == NoiseSpec::Kind::none)
    throw UsageError("the denoiser run " + e.denoiser_run.string() + " has no noise to classify under");

  ClassifierConfig clean_config;
  clean_config.data = e.data;
  clean_config.seed = e.seed;
  clean_config.epochs = e.clean_epochs;
  clean_config.model = e.model;
  clean_config.controls.lr_schedule = e.lr_schedule;
  ClassifierConfig noisy_config = clean_config;
  noisy_config.epochs = e.epochs;
  noisy_config.on = TrainOn::noisy;
  noisy_config.noise = spec.str();
  if (e.fine_tune) noisy_config.init_from = (out_dir / "classifier-clean").string();
  const std::string how = e.fine_tune ? ", fine-tuned from the clean one" : "";

  ClassificationResult result;
  observer.say(fmt::format("== Training the digit classifier ({}) on clean images ({} epochs)", e.model,
                           e.clean_epochs));
  result.test_accuracy["clean"] =
      train_classifier(clean_config, out_dir / "classifier-clean", RunCallbacks(observer).list(), ExistingRun::overwrite)
          .metrics.test_accuracy;
  // The noise-aware classifiers: on noisy images, on the denoiser's output and on the
  // strong denoiser's, each in out_dir/classifier-<name>.
  struct NoiseAware {
    std::string name, what;
    ClassifierConfig config;
  };
  std::vector<NoiseAware> aware = {{"noisy", "noisy images", noisy_config}};
  auto behind = [&](const fs::path& denoiser, const std::string& name, const std::string& what, int epochs) {
    ClassifierConfig c = noisy_config;
    c.on = TrainOn::denoised;
    c.denoiser = denoiser.string();
    c.epochs = epochs;
    aware.push_back({name, what, c});
  };
  if (!e.denoiser_run.empty()) behind(e.denoiser_run, "denoised", "denoised images", e.epochs);
  if (!e.strong_denoiser_run.empty())
    behind(e.strong_denoiser_run, "strong-denoised", "images denoised by " + e.strong_denoiser_run.filename().string(),
           e.strong_epochs);
  auto train = [&](const NoiseAware& a, const ExperimentObserver& o, bool with_progress) {
    return train_classifier(a.config, out_dir / ("classifier-" + a.name), RunCallbacks(o, with_progress).list(),
                            ExistingRun::overwrite)
        .metrics.test_accuracy;
  };
  if (e.side_by_side && aware.size() > 1) {
    std::string whats;
    for (std::size_t i = 0; i < aware.size(); ++i)
      whats += fmt::format("{}{} ({} epochs)", i == 0 ? "" : i + 1 == aware.size() ? " and on " : ", on ",
                           aware[i].what, aware[i].config.epochs);
    observer.say(
        fmt::format("\n== Training the digit classifiers on {} side by side ({}{})", whats, spec.str(), how));
    std::vector<double> accuracy(aware.size());
    std::atomic<bool> failed{false};
    const ExperimentObserver quiet = observer.or_when(failed);
    std::vector<std::unique_ptr<Beside>> running;
    for (std::size_t i = 0; i < aware.size(); ++i)
      running.push_back(std::make_unique<Beside>([&, i] { accuracy[i] = train(aware[i], quiet, false); }, &failed));
    Failures failures(failed);
    for (auto& r : running) failures.run([&] { r->join(); });
    failures.rethrow_cause();
    for (std::size_t i = 0; i < aware.size(); ++i) result.test_accuracy[aware[i].name] = accuracy[i];
  } else {
    for (const NoiseAware& a : aware) {
      observer.say(fmt::format("\n== Training the digit classifier on {} ({}, {} epochs{})", a.what, spec.str(),
                               a.config.epochs, how));
      result.test_accuracy[a.name] = train(a, observer, true);
    }
  }

  ClassifyEvalRequest request;
  request.classifier = out_dir / "classifier-clean";
  request.noisy_classifier = out_dir / "classifier-noisy";
  request.denoiser = e.denoiser_run;
  if (!e.denoiser_run.empty()) request.denoised_classifier = out_dir / "classifier-denoised";
  if (!e.strong_denoiser_run.empty())  // all of them, averaged (ensemble_of_many)
    for (const NoiseAware& a : aware) request.ensemble.push_back(out_dir / ("classifier-" + a.name));
  request.noise = {noise_kind(spec), e.levels, e.seed};
  request.limit = e.data.limit;
  observer.say(fmt::format("\n== Digit accuracy under {} noise", request.noise.kind));
  const auto start = std::chrono::steady_clock::now();
  result.evaluation = run_classify_eval(request, out_dir, [&](const ClassifyReport& r) {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    observer.say(progress_counter(r.levels.size(), e.levels.size(), elapsed) + " " + format_level_line(r));
  });
  const ClassifyReport& report = result.evaluation.report;
  result.training_noise = spec.str();
  for (std::size_t row = 0; row < report.levels.size(); ++row)
    if (std::abs(report.levels[row].level - spec.param) < 1e-9) result.training_level = row;
  if (result.training_level) {
    // One draw of the test noise measures an accuracy to about +-0.1 points: the
    // training level again under the noise of the next seeds (out_dir/draws/seed-K).
    for (Pipeline p : report.pipelines)
      result.draws[pipeline_name(p)].push_back(report.accuracy(*result.training_level, p));
    result.draw_seeds = {e.seed};
    ClassifyEvalRequest again = request;
    again.noise.levels = {spec.param};
    fs::remove_all(out_dir / "draws");  // a run before with more draws must not leave its own behind
    for (int k = 1; k < e.draws; ++k) {
      again.noise.seed = e.seed + static_cast<std::uint64_t>(k);
      const fs::path dir = out_dir / "draws" / fmt::format("seed-{}", again.noise.seed);
      const ClassifyReport r = run_classify_eval(again, dir).report;
      for (Pipeline p : r.pipelines) result.draws[pipeline_name(p)].push_back(r.accuracy(0, p));
      result.draw_seeds.push_back(again.noise.seed);
    }
    for (Pipeline p : report.pipelines)  // the first of equals, in the tables' order
      if (!result.best || result.mean_accuracy(p) > result.mean_accuracy(*result.best)) result.best = p;
  }

  observer.say(fmt::format("\n{}", format_classify_table(report)));
  std::string line = "Clean test accuracy:";
  for (const auto& [name, acc] : result.test_accuracy) line += fmt::format(" {}-trained {:.2f}%", name, 100 * acc);
  observer.say(line);
  if (result.training_level) {
    line = "At " + spec.str() + ":";
    for (Pipeline p : report.pipelines)
      line += fmt::format(" {} {:.2f}%", pipeline_name(p), 100 * report.accuracy(*result.training_level, p));
    if (result.draw_seeds.size() > 1) {
      line += fmt::format("; mean over {} draws of the test noise:", result.draw_seeds.size());
      for (Pipeline p : report.pipelines)
        line += fmt::format(" {} {:.2f}%", pipeline_name(p), 100 * result.mean_accuracy(p));
    }
    observer.say(line + "; best: " + pipeline_name(*result.best));
  }
  observer.say(fmt::format("Wrote {}/classify.json, classify.md, classify.png", out_dir.string()));
  return result;
}

}  // namespace dn

#include "experiments/classification.hpp"

#include <chrono>
#include <atomic>
#include <cmath>

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
    j["at_training_noise"] = {{"noise", training_noise}, {"accuracy", accuracy}, {"best", pipeline_name(*best)}};
  }
  return j;
}

static std::string noise_kind(const NoiseSpec& spec) {
  const std::string s = spec.str();
  return s.substr(0, s.find(':'));
}

ClassificationResult run_classification_experiment(const ClassificationExperiment& e, const fs::path& out_dir,
                                                   const ExperimentObserver& observer) {
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
  ClassifierConfig denoised_config = noisy_config;
  denoised_config.on = TrainOn::denoised;
  denoised_config.denoiser = e.denoiser_run.string();
  auto train_noisy = [&](const ExperimentObserver& o, bool with_progress) {
    return train_classifier(noisy_config, out_dir / "classifier-noisy", RunCallbacks(o, with_progress).list(),
                            ExistingRun::overwrite)
        .metrics.test_accuracy;
  };
  auto train_denoised = [&](const ExperimentObserver& o, bool with_progress) {
    return train_classifier(denoised_config, out_dir / "classifier-denoised", RunCallbacks(o, with_progress).list(),
                            ExistingRun::overwrite)
        .metrics.test_accuracy;
  };
  if (e.side_by_side && !e.denoiser_run.empty()) {
    observer.say(fmt::format("\n== Training the digit classifiers on noisy and on denoised images side by side ({}, "
                             "{} epochs{})",
                             spec.str(), e.epochs, how));
    double noisy_accuracy = 0, denoised_accuracy = 0;
    std::atomic<bool> failed{false};
    const ExperimentObserver pair = observer.or_when(failed);
    Beside noisy([&] { noisy_accuracy = train_noisy(pair, false); }, &failed);
    Beside denoised([&] { denoised_accuracy = train_denoised(pair, false); }, &failed);
    Failures failures(failed);
    failures.run([&] { noisy.join(); });
    failures.run([&] { denoised.join(); });
    failures.rethrow_cause();
    result.test_accuracy["noisy"] = noisy_accuracy;
    result.test_accuracy["denoised"] = denoised_accuracy;
  } else {
    observer.say(fmt::format("\n== Training the digit classifier on noisy images ({}, {} epochs{})", spec.str(),
                             e.epochs, how));
    result.test_accuracy["noisy"] = train_noisy(observer, true);
    if (!e.denoiser_run.empty()) {
      observer.say(fmt::format("\n== Training the digit classifier on denoised images ({}, {} epochs{})", spec.str(),
                               e.epochs, how));
      result.test_accuracy["denoised"] = train_denoised(observer, true);
    }
  }

  ClassifyEvalRequest request;
  request.classifier = out_dir / "classifier-clean";
  request.noisy_classifier = out_dir / "classifier-noisy";
  request.denoiser = e.denoiser_run;
  if (!e.denoiser_run.empty()) request.denoised_classifier = out_dir / "classifier-denoised";
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
  for (std::size_t row = 0; row < report.levels.size(); ++row) {
    if (std::abs(report.levels[row].level - spec.param) > 1e-9) continue;
    result.training_level = row;
    for (Pipeline p : report.pipelines)  // the first of equals, in the tables' order
      if (!result.best || report.accuracy(row, p) > report.accuracy(row, *result.best)) result.best = p;
  }

  observer.say(fmt::format("\n{}", format_classify_table(report)));
  std::string line = "Clean test accuracy:";
  for (const auto& [name, acc] : result.test_accuracy) line += fmt::format(" {}-trained {:.2f}%", name, 100 * acc);
  observer.say(line);
  if (result.training_level) {
    line = "At " + spec.str() + ":";
    for (Pipeline p : report.pipelines)
      line += fmt::format(" {} {:.2f}%", pipeline_name(p), 100 * report.accuracy(*result.training_level, p));
    observer.say(line + "; best: " + pipeline_name(*result.best));
  }
  observer.say(fmt::format("Wrote {}/classify.json, classify.md, classify.png", out_dir.string()));
  return result;
}

}  // namespace dn

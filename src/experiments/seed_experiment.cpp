#include "experiments/seed_experiment.hpp"

#include <cmath>

#include <fmt/core.h>

#include "core/file_io.hpp"
#include "experiments/sweep.hpp"
#include "train/denoiser.hpp"

namespace dn {

namespace fs = std::filesystem;

// The seed report's figures: Keras, Adadelta, 10 epochs.
static const nlohmann::json kSeed = {{"loss_epoch_1", 0.1275},
                                     {"loss", 0.0958},
                                     {"binary_accuracy", 0.8130},
                                     {"val_loss", 0.0957},
                                     {"val_binary_accuracy", 0.8129},
                                     {"seconds_per_epoch", 8.0},
                                     {"sweep_average_val_binary_accuracy",
                                      {{"sgd-relu", 0.80936}, {"sgd-softmax", nullptr},
                                       {"adadelta-softmax", 0.80858}, {"adadelta-relu", 0.81294}}}};

static std::string num(const nlohmann::json& j, int digits = 4) {
  return j.is_number() ? fmt::format("{:.{}f}", j.get<double>(), digits) : std::string("NAN");
}

nlohmann::json run_seed_experiment(const SeedExperimentOptions& options, const fs::path& out_dir,
                                   const ExperimentObserver& observer) {
  const fs::path run_dir = out_dir / "seed-run";
  observer.say(fmt::format("== Training the seed model ({} epochs, {}, noise {})", options.train.epochs,
                           options.train.optimizer, options.train.noise));
  const DenoiserResult trained = train_denoiser(options.train, run_dir, observer.fit_callbacks, ExistingRun::overwrite);

  observer.say("\n== Test set");
  const DenoiseEvaluation test = evaluate_denoiser_run(run_dir, Split::test, "", options.train.data.limit);
  write_json_atomic(run_dir / "test_metrics.json", test.to_json());
  show_denoiser_run(run_dir, Split::test, "", 10, run_dir / "test_reconstructions.png");
  observer.say(format_denoise_metrics(test));

  nlohmann::json sweep;
  if (options.sweep_repeats > 0) {
    observer.say(fmt::format("\n== Sweep: optimizers sgd, adadelta x activations relu, softmax, {} repeats, {} epochs",
                             options.sweep_repeats, options.sweep_epochs));
    SweepOptions s;
    s.repeats = options.sweep_repeats;
    s.base = options.train;
    s.base.epochs = options.sweep_epochs;
    sweep = run_sweep(s, out_dir / "sweep", observer);
    observer.say("\n" + format_sweep(sweep));
  }

  nlohmann::json classify;
  if (options.classify_epochs > 0) {
    observer.say("\n== Predicting digits from noisy images: classifiers on clean, noisy and denoised digits");
    ClassificationExperiment c;
    c.denoiser_run = run_dir;
    c.data = options.train.data;
    c.seed = options.train.seed;
    c.epochs = options.classify_epochs;
    c.clean_epochs = options.classify_clean_epochs;
    c.fine_tune = options.classify_fine_tune;
    c.model = options.classify_model;
    classify = run_classification_experiment(c, out_dir / "classify", observer).to_json();
  }

  const auto& h = trained.history.epochs;
  double seconds = 0;
  for (const auto& e : h) seconds += e.seconds;
  const nlohmann::json ours = {{"loss_epoch_1", h.front().loss},
                               {"loss", h.back().loss},
                               {"binary_accuracy", h.back().metric},
                               {"val_loss", h.back().val_loss},
                               {"val_binary_accuracy", h.back().val_metric},
                               {"val_binary_accuracy_ceiling", trained.metrics.denoised.binary_accuracy_ceiling},
                               {"seconds_per_epoch", seconds / static_cast<double>(h.size())},
                               {"test", test.to_json()}};

  std::string md = "## The seed report beside this run\n\n| figure | seed (Keras) | denoise |\n|---|---|---|\n";
  const std::pair<const char*, const char*> rows[] = {{"loss after epoch 1", "loss_epoch_1"},
                                                      {"loss after the last epoch", "loss"},
                                                      {"binary_accuracy", "binary_accuracy"},
                                                      {"val_loss", "val_loss"},
                                                      {"val_binary_accuracy", "val_binary_accuracy"}};
  for (auto [label, key] : rows) md += fmt::format("| {} | {} | {} |\n", label, num(kSeed[key]), num(ours[key]));
  md += fmt::format("| val binary_accuracy ceiling (exact 0/1 pixels) | not reported | {} |\n",
                    num(ours["val_binary_accuracy_ceiling"]));
  md += fmt::format("| seconds per epoch | {:.0f} | {:.1f} |\n", kSeed["seconds_per_epoch"].get<double>(),
                    ours["seconds_per_epoch"].get<double>());
  md += fmt::format("| test PSNR noisy -> denoised (dB) | not reported | {} -> {} |\n", num(test.noisy.psnr, 2),
                    num(test.denoised.psnr, 2));
  md += fmt::format("| test SSIM noisy -> denoised | not reported | {} -> {} |\n", num(test.noisy.ssim, 3),
                    num(test.denoised.ssim, 3));
  if (!sweep.is_null()) {
    md += "\n| sweep cell: average final val_binary_accuracy | seed | denoise |\n|---|---|---|\n";
    for (const auto& cell : sweep["cells"]) {
      const std::string name =
          cell["optimizer"].get<std::string>() + "-" + cell["activation"].get<std::string>();
      const auto& seed_avg = kSeed["sweep_average_val_binary_accuracy"];
      md += fmt::format("| {} | {} | {} |\n", name, seed_avg.contains(name) ? num(seed_avg[name], 5) : "-",
                        num(cell["average"]["val_binary_accuracy"], 5));
    }
  }
  if (!classify.is_null() && classify.contains("at_training_noise")) {
    const auto& at = classify["at_training_noise"];
    md += fmt::format("\n| digit accuracy on the test set at {} | seed | denoise |\n|---|---|---|\n",
                      at["noise"].get<std::string>());
    for (const auto& [pipeline, accuracy] : at["accuracy"].items())
      md += fmt::format("| {} | not reported | {:.2f}% |\n", pipeline, 100.0 * accuracy.get<double>());
  }
  const nlohmann::json report = {{"seed", kSeed}, {"denoise", ours}, {"sweep", sweep}, {"classify", classify}};
  write_json_atomic(out_dir / "report.json", report);
  write_file_atomic(out_dir / "report.md", md);
  observer.say(fmt::format("\n{}\nWrote {}/report.md, report.json; pictures in {}", md, out_dir.string(),
                           run_dir.string()));
  return report;
}

}  // namespace dn

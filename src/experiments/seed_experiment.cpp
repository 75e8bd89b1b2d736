#include "experiments/seed_experiment.hpp"

#include <atomic>
#include <cmath>
#include <mutex>
#include <optional>

#include <fmt/core.h>
#include <omp.h>

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "experiments/beside.hpp"
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

std::vector<std::string> seed_setting_differences(const SeedExperimentOptions& options) {
  const SeedExperimentOptions seed;
  const DenoiserConfig &ours = options.train, &theirs = seed.train;
  std::vector<std::string> out;
  auto differ = [&out](const std::string& name, const auto& mine, const auto& seeds) {
    if (mine != seeds) out.push_back(fmt::format("{} {} (the seed's: {})", name, mine, seeds));
  };
  differ("model", ours.model, theirs.model);
  differ("activation", ours.activation, theirs.activation);
  differ("optimizer", ours.optimizer, theirs.optimizer);
  if (ours.lr != theirs.lr)
    out.push_back(fmt::format("lr {} (the seed's: the optimizer's default)", ours.lr ? fmt::format("{}", *ours.lr) : "default"));
  differ("loss", ours.loss, theirs.loss);
  differ("epochs", ours.epochs, theirs.epochs);
  differ("batch_size", ours.batch_size, theirs.batch_size);
  differ("noise", ours.noise, theirs.noise);
  differ("dataset", ours.data.dataset, theirs.data.dataset);
  if (ours.data.limit != theirs.data.limit)
    out.push_back(fmt::format("limit {} images per split (the seed's: all of them)", ours.data.limit));
  if (ours.data.validation_split != theirs.data.validation_split)
    out.push_back(fmt::format("validation_split {} (the seed's: the last twelfth)", ours.data.validation_split.value_or(0)));
  differ("seed", ours.seed, theirs.seed);
  if (options.sweep_repeats > 0) {  // no sweep: nothing of the seed's sweep is compared
    differ("sweep_repeats", options.sweep_repeats, seed.sweep_repeats);
    differ("sweep_epochs", options.sweep_epochs, seed.sweep_epochs);
  }
  return out;
}

nlohmann::json run_seed_experiment(const SeedExperimentOptions& options, const fs::path& out_dir,
                                   const ExperimentObserver& observer) {
  const fs::path run_dir = out_dir / "seed-run";
  const std::vector<std::string> differences = seed_setting_differences(options);
  std::string differ_note;
  if (!differences.empty()) {
    differ_note = "These settings differ from the seed report's, so its figures are not a like-for-like comparison: ";
    for (std::size_t i = 0; i < differences.size(); ++i) differ_note += (i ? "; " : "") + differences[i];
    differ_note += ".";
    observer.say("Note: " + differ_note + "\n");
  }
  // A missing or broken strong denoiser fails now, not after the seed model's minutes.
  if (options.classify_epochs > 0 && !options.classify_strong_denoiser.empty()) try {
      load_denoiser(options.classify_strong_denoiser);
    } catch (const DataError& e) {
      throw ArgumentError("classify_strong_denoiser", e.what());
    }

  // With a sweep or classifiers to train, every training runs beside the others on one
  // thread of its own (experiments/beside.hpp), with the same bits as on all threads: the
  // seed model, the sweep's runs (one per core) and the classifiers' chain (clean, then
  // the noise-aware ones at once, once the seed model is trained). Its runs are too small
  // to split well over threads, and on a loaded machine two threads of one training wait
  // for each other at every barrier (the seed model's epoch took 20-30 s on 2 threads,
  // 8 s on one). Lines go out whole, one at a time; no progress bars then.
  // A part that fails stops the others (experiments/beside.hpp).
  const bool alone = options.sweep_repeats == 0 && options.classify_epochs == 0;
  std::mutex say_mutex;
  std::atomic<bool> failed{false};
  ExperimentObserver beside_observer = observer.or_when(failed);
  beside_observer.log = [&](const std::string& line) {
    std::lock_guard lock(say_mutex);
    observer.say(line);
  };
  beside_observer.fit_callbacks.clear();
  const ExperimentObserver& running = alone ? observer : beside_observer;

  DenoiserResult trained;
  DenoiseEvaluation test;
  auto train_seed_model = [&] {
    trained = train_denoiser(options.train, run_dir, RunCallbacks(running).list(), ExistingRun::overwrite);
    test = evaluate_denoiser_run(run_dir, Split::test, "", options.train.data.limit);
    write_json_atomic(run_dir / "test_metrics.json", test.to_json());
    show_denoiser_run(run_dir, Split::test, "", 10, run_dir / "test_reconstructions.png");
    running.say("\n== Test set of the seed model\n" + format_denoise_metrics(test));
  };
  nlohmann::json sweep, classify;
  auto run_classification = [&] {
    ClassificationExperiment c;
    c.denoiser_run = run_dir;
    c.data = options.train.data;
    c.seed = options.train.seed;
    c.epochs = options.classify_epochs;
    c.clean_epochs = options.classify_clean_epochs;
    c.fine_tune = options.classify_fine_tune;
    c.model = options.classify_model;
    c.strong_denoiser_run = options.classify_strong_denoiser;
    c.strong_epochs = options.classify_strong_epochs;
    c.draws = options.classify_draws;
    c.side_by_side = true;
    classify = run_classification_experiment(c, out_dir / "classify", running).to_json();
  };

  running.say(fmt::format("== Training the seed model ({} epochs, {}, noise {})", options.train.epochs,
                          options.train.optimizer, options.train.noise));
  if (alone) {
    train_seed_model();
  } else {
    Beside seed_model(train_seed_model, &failed);
    std::optional<Beside> classifiers;  // joins the seed model's thread itself
    if (options.classify_epochs > 0) {
      running.say("\n== Predicting digits from noisy images: classifiers on clean, noisy and denoised digits "
                  "(once the seed model is trained)");
      classifiers.emplace(
          [&] {
            seed_model.join();
            run_classification();
          },
          &failed);
    }
    Failures failures(failed);
    if (options.sweep_repeats > 0) {
      running.say(fmt::format("\n== Sweep: optimizers sgd, adadelta x activations relu, softmax, {} repeats, {} epochs",
                              options.sweep_repeats, options.sweep_epochs));
      SweepOptions s;
      s.repeats = options.sweep_repeats;
      s.base = options.train;
      s.base.epochs = options.sweep_epochs;
      s.parallel = omp_get_max_threads();  // --threads: as many runs at once, one thread each
      failures.run([&] {
        sweep = run_sweep(s, out_dir / "sweep", running);
        running.say("\n" + format_sweep(sweep));
      });
    }
    failures.run([&] { classifiers ? classifiers->join() : seed_model.join(); });
    failures.rethrow_cause();
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

  std::string md = "## The seed report beside this run\n\n";
  if (!differ_note.empty()) md += "**Note:** " + differ_note + "\n\n";
  md += "| figure | seed (Keras) | denoise |\n|---|---|---|\n";
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
    const auto& draws = at["draws"];
    const std::size_t n = draws["seeds"].size();
    md += fmt::format("\n| digit accuracy on the test set at {} | seed | denoise |{}\n|---|---|---|{}\n",
                      at["noise"].get<std::string>(),
                      n > 1 ? fmt::format(" denoise, mean of {} draws of the test noise |", n) : "",
                      n > 1 ? "---|" : "");
    for (const auto& [pipeline, accuracy] : at["accuracy"].items())
      md += fmt::format("| {} | not reported | {:.2f}% |{}\n", pipeline, 100.0 * accuracy.get<double>(),
                        n > 1 ? fmt::format(" {:.2f}% |", 100.0 * draws["mean"][pipeline].get<double>()) : "");
  }
  const nlohmann::json report = {{"seed", kSeed},         {"denoise", ours},
                                 {"sweep", sweep},       {"classify", classify},
                                 {"differs_from_seed", differences}};
  write_json_atomic(out_dir / "report.json", report);
  write_file_atomic(out_dir / "report.md", md);
  observer.say(fmt::format("\n{}\nWrote {}/report.md, report.json; pictures in {}", md, out_dir.string(),
                           run_dir.string()));
  return report;
}

}  // namespace dn

// denoise classify train | eval: digit classifiers and their accuracy under noise.
#include <chrono>
#include <cstdio>

#include <fmt/core.h>

#include "commands.hpp"
#include "core/error.hpp"
#include "dist/communicator.hpp"
#include "nn/models.hpp"
#include "options.hpp"
#include "train/classifier.hpp"
#include "train/classify_eval.hpp"

namespace dn::app {

namespace fs = std::filesystem;

static void add_train(CLI::App& classify) {
  struct Flags {
    ClassifierConfig config;
    std::string on = "clean";
    double lr = 0;
    int threads = 0;
    RunFlags run;
  };
  auto f = std::make_shared<Flags>();
  auto* cmd = classify.add_subcommand("train", "train a digit classifier (a convnet, Adam)");
  ClassifierConfig& c = f->config;
  cmd->add_option("--model", c.model,
                  "classifier (Keras's simple convnet), classifier-large (for heavy noise) or classifier-deep (the "
                  "most accurate under heavy noise, 2.7x classifier-large's work)")
      ->check(CLI::IsMember(classifier_names()))
      ->capture_default_str();
  cmd->add_option("--on", f->on, "train on clean, noisy or denoised images")->capture_default_str();
  cmd->add_option("--denoiser", c.denoiser, "denoiser run folder (for --on denoised)");
  add_noise_flag(*cmd, c.noise,
                 "noise for --on noisy|denoised, drawn afresh every epoch (default: the denoiser's, else gaussian:0.5)");
  cmd->add_option("--init-from", c.init_from,
                  "classifier run folder of the same --model whose weights to start from (fine-tuning)");
  cmd->add_option("--shift-augment", c.shift_augment,
                  "training-time augmentation: every epoch moves each training image by a random shift of up to "
                  "this many pixels in each direction, before its noise (0 = none)")
      ->capture_default_str();
  cmd->add_option("--epochs", c.epochs, "passes over the training images")->capture_default_str();
  cmd->add_option("--batch-size", c.batch_size, "images per gradient step")->capture_default_str();
  auto* lr = cmd->add_option("--lr", f->lr, "Adam's learning rate (default 0.001)");
  add_data_flags(*cmd, c.data);
  add_training_control_flags(*cmd, c.controls, c.data);
  add_verbose_flag(*cmd, c.controls.verbose);
  cmd->add_option("--seed", c.seed, "seeds initial weights, dropout, noise and shuffling")->capture_default_str();
  add_threads_flag(*cmd, f->threads);
  add_run_flags(*cmd, f->run, "run folder (default runs/<timestamp>)");
  on_run(cmd, [f, lr] {
    const RunFlags& run = f->run;
    apply_threads(f->threads);
    ClassifierConfig config = f->config;
    if (lr->count()) config.lr = f->lr;
    config.on = parse_train_on(f->on);
    if (run.resume.empty()) check_init_from(config, [](const ClassifierConfig& c) { load_init_from(c); });
    const fs::path out = !run.resume.empty() ? run.resume : run.out.empty() ? default_run_dir() : run.out;
    const std::vector<Callback*> callbacks = training_callbacks(config.controls.verbose);
    dist::Communicator& world = dist::world();
    ClassifierResult r;
    try {
      r = !run.resume.empty()
              ? resume_classifier(out, callbacks, world)
              : train_classifier(config, out, callbacks, run.overwrite ? ExistingRun::overwrite : ExistingRun::refuse,
                                 world);
    } catch (const InterruptedError& e) {
      throw InterruptedError(fmt::format("{}: denoise classify train --resume {}", e.what(), out.string()));
    }
    if (world.rank() != 0) return;
    print_data_parallel_report();
    std::string line = fmt::format("\nTest accuracy: {:.2f}% on {} clean test images", 100 * r.metrics.test_accuracy,
                                   r.metrics.count);
    if (r.metrics.test_accuracy_on_input)
      line += fmt::format(", {:.2f}% with {} noise{}", 100 * *r.metrics.test_accuracy_on_input, r.metrics.noise,
                          config.on == TrainOn::denoised ? ", denoised" : "");
    fmt::print("{}\nRun folder: {}\n", line, out.string());
  });
}

static void add_eval(CLI::App& classify) {
  struct Flags {
    ClassifyEvalRequest request;
    std::string classifier, noisy_classifier, denoiser, denoised_classifier, levels = "0,0.1,...,1.0", out;
    std::vector<std::string> ensemble;
    int threads = 0;
  };
  auto f = std::make_shared<Flags>();
  auto* cmd = classify.add_subcommand("eval", "digit accuracy of each pipeline at a series of noise levels");
  ClassifyEvalRequest& r = f->request;
  cmd->add_option("--classifier", f->classifier, "run folder of the classifier trained on clean images")->required();
  cmd->add_option("--noisy-classifier", f->noisy_classifier, "run folder of a classifier trained on noisy images");
  cmd->add_option("--denoiser", f->denoiser, "denoiser run folder: adds the clean classifier on denoised images");
  cmd->add_option("--denoised-classifier", f->denoised_classifier,
                  "run folder of a classifier trained on denoised images (needs --denoiser)");
  cmd->add_option("--ensemble", f->ensemble,
                  "two or more run folders of noisy- or denoised-trained classifiers whose probabilities are "
                  "averaged, each fed noisy images or the output of the denoiser it was trained behind");
  cmd->add_option("--noise-levels", f->levels, "comma-separated levels; '...' continues a step, as in 0,0.1,...,1.0")
      ->capture_default_str();
  cmd->add_option("--noise-kind", r.noise.kind, "gaussian, salt-pepper, speckle or poisson; a level is its parameter")
      ->capture_default_str();
  cmd->add_option("--dataset", r.dataset, "a dataset of `denoise data` (default: the classifier's)")
      ->check(CLI::IsMember(dataset_names()));
  cmd->add_option("--data-dir", r.data_dir, "folder with the IDX files (default: the classifier's)");
  cmd->add_option("--limit", r.limit, "first N test images (0 = all)")
      ->check(non_negative())
      ->capture_default_str();
  cmd->add_option("--seed", r.noise.seed, "seeds the noise")->capture_default_str();
  cmd->add_option("--tta-shift", r.tta_shift,
                  "test-time augmentation: each classifier also sees every image moved by this many pixels up, down, "
                  "left and right, and averages its probabilities over the five views (0 = none)")
      ->capture_default_str();
  add_threads_flag(*cmd, f->threads);
  cmd->add_option("--out", f->out, "folder for classify.json, classify.md and classify.png (+ .svg)")->required();
  on_run(cmd, [f] {
    apply_threads(f->threads);
    ClassifyEvalRequest request = f->request;
    request.classifier = f->classifier;
    request.noisy_classifier = f->noisy_classifier;
    request.denoiser = f->denoiser;
    request.denoised_classifier = f->denoised_classifier;
    request.ensemble.assign(f->ensemble.begin(), f->ensemble.end());
    request.noise.levels = parse_noise_levels(f->levels);
    const auto start = std::chrono::steady_clock::now();
    const std::size_t levels = request.noise.levels.size();
    const ClassifyEvaluation result = run_classify_eval(request, f->out, [&](const ClassifyReport& r) {
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      fmt::print("{} {}\n", progress_counter(r.levels.size(), levels, elapsed), format_level_line(r));
      std::fflush(stdout);
    });
    fmt::print("\n{}\nWrote {}/classify.json, classify.md, classify.png, classify.svg\n", format_classify_table(result.report),
               f->out);
  });
}

static RegisterCommand reg_classify(45, [](CLI::App& app) {
  auto* classify = app.add_subcommand("classify", "digit classifiers: train one, or measure accuracy under noise");
  classify->require_subcommand(1);
  add_train(*classify);
  add_eval(*classify);
});

}  // namespace dn::app

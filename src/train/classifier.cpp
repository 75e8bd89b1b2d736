#include "train/classifier.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include <fmt/core.h>

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "data/noise.hpp"
#include "io/png.hpp"
#include "io/safetensors.hpp"
#include "nn/inference.hpp"
#include "nn/models.hpp"
#include "train/progress.hpp"
#include "train/denoiser.hpp"

namespace dn {

namespace fs = std::filesystem;

namespace {

constexpr const char* kLoss = "categorical_crossentropy";
constexpr const char* kOptimizer = "adam";
constexpr const char* kDefaultNoise = "gaussian:0.5";

// The noise seed noisy_images gives a split. Training epochs continue the
// train split's streams, so no epoch repeats another's noise and none ever
// matches the validation or test noise.
std::uint64_t split_noise_seed(std::uint64_t seed, Split split) { return seed * 3 + std::uint64_t(split); }

Tensor one_hot(const std::vector<std::uint8_t>& labels) {
  Tensor y({int(labels.size()), kNumClasses});
  for (std::size_t i = 0; i < labels.size(); ++i) y[i * kNumClasses + labels[i]] = 1.0f;
  return y;
}

// The classifier's input for clean images: themselves, or with noise (streams
// from first_index on), then denoised when there is a denoiser.
Tensor classifier_input(const Tensor& clean, const ClassifierConfig& c, const NoiseSpec& noise, Layer* denoiser,
                        Split split, std::uint64_t first_index = 0) {
  if (c.on == "clean") return clean;
  Tensor x;
  add_noise(noise, clean, x, split_noise_seed(c.seed, split), first_index);
  if (denoiser) {
    Tensor denoised;
    predict(*denoiser, x, denoised);
    denoised.reshape(clean.shape());
    return denoised;
  }
  return x;
}

// A row of the first test digits, each scaled up, with its predicted digit
// below: green when right, red with the true digit when wrong.
void write_predictions(const Tensor& images, const std::vector<std::uint8_t>& labels, const Tensor& probs, int count,
                       const fs::path& png) {
  constexpr int kScale = 4, kGap = 8, kFont = 2;
  const int h = images.dim(1), w = images.dim(2);
  const int n = std::min(count, images.dim(0));
  const int cell = std::max(w * kScale, text_width("0, not 0", kFont));
  Image img(kGap + n * (cell + kGap), kGap + h * kScale + kGap + text_height(kFont) + kGap, 3, 48);
  for (int k = 0; k < n; ++k) {
    const int left = kGap + k * (cell + kGap) + (cell - w * kScale) / 2;
    const float* px = images.data() + std::size_t(k) * std::size_t(h * w);
    for (int y = 0; y < h * kScale; ++y)
      for (int x = 0; x < w * kScale; ++x) {
        const float v = std::clamp(px[(y / kScale) * w + x / kScale], 0.0f, 1.0f);
        const auto g = std::uint8_t(std::lround(v * 255.0f));
        fill_rect(img, left + x, kGap + y, 1, 1, {g, g, g});
      }
    const float* p = probs.data() + std::size_t(k) * kNumClasses;
    const int predicted = int(std::max_element(p, p + kNumClasses) - p), truth = labels[std::size_t(k)];
    const std::string caption = predicted == truth ? fmt::format("{}", predicted)
                                                   : fmt::format("{}, not {}", predicted, truth);
    const Rgb colour = predicted == truth ? Rgb{90, 220, 90} : Rgb{255, 80, 80};
    draw_text(img, kGap + k * (cell + kGap) + (cell - text_width(caption, kFont)) / 2, 2 * kGap + h * kScale, caption,
              kFont, colour);
  }
  write_png_atomic(png, img);
}

std::string noise_kind(const NoiseSpec& spec) {
  const std::string s = spec.str();
  return s.substr(0, s.find(':'));
}

}  // namespace

double scheduled_lr(const std::string& schedule, double base, int epoch, int epochs) {
  if (schedule != "cosine") return base;
  // Keras's CosineDecay evaluated at each epoch's start: from base down towards 0.
  return base * 0.5 * (1.0 + std::cos(std::numbers::pi * double(epoch - 1) / double(epochs)));
}

nlohmann::json ClassifierConfig::to_json() const {
  return {{"task", "classify"},
          {"model", model},
          {"loss", kLoss},
          {"optimizer", kOptimizer},
          {"on", on},
          {"noise", noise},
          {"denoiser", denoiser},
          {"init_from", init_from},
          {"epochs", epochs},
          {"batch_size", batch_size},
          {"lr", lr ? nlohmann::json(*lr) : nlohmann::json(nullptr)},
          {"lr_schedule", lr_schedule},
          {"dataset", data.dataset},
          {"data_dir", data.data_dir},
          {"limit", data.limit},
          {"seed", seed}};
}

ClassifierConfig ClassifierConfig::from_json(const nlohmann::json& j) {
  ClassifierConfig c;
  try {
    const std::string task = j.at("task").get<std::string>();
    if (task != "classify") throw DataError("config.json: a '" + task + "' run, not a classifier's");
    c.model = j.value("model", std::string("classifier"));  // runs from before the choice had Keras's
    c.on = j.at("on").get<std::string>();
    c.noise = j.at("noise").get<std::string>();
    c.denoiser = j.at("denoiser").get<std::string>();
    c.init_from = j.value("init_from", std::string());  // runs from before fine-tuning started from fresh weights
    c.epochs = j.at("epochs").get<int>();
    c.batch_size = j.at("batch_size").get<int>();
    if (!j.at("lr").is_null()) c.lr = j.at("lr").get<double>();
    c.lr_schedule = j.value("lr_schedule", std::string("constant"));
    c.data.dataset = j.at("dataset").get<std::string>();
    c.data.data_dir = j.at("data_dir").get<std::string>();
    c.data.limit = j.at("limit").get<std::size_t>();
    c.seed = j.at("seed").get<std::uint64_t>();
  } catch (const nlohmann::json::exception& e) {
    throw DataError(std::string("config.json: ") + e.what());
  }
  return c;
}

void ClassifierConfig::validate() const {
  if (model != "classifier" && model != "classifier-large")
    throw UsageError("--model: '" + model + "' is not a classifier (expected classifier or classifier-large)");
  if (on != "clean" && on != "noisy" && on != "denoised")
    throw UsageError("--on: unknown value '" + on + "' (expected clean, noisy or denoised)");
  if (on == "denoised" && denoiser.empty()) throw UsageError("--on denoised needs --denoiser RUN_DIR");
  if (on != "denoised" && !denoiser.empty()) throw UsageError("--denoiser is only used with --on denoised");
  if (on == "clean" && !noise.empty()) throw UsageError("--noise is only used with --on noisy or denoised");
  if (!noise.empty()) parse_noise(noise);
  if (lr_schedule != "constant" && lr_schedule != "cosine")
    throw UsageError("--lr-schedule: unknown value '" + lr_schedule + "' (expected constant or cosine)");
  if (epochs < 1) throw UsageError(fmt::format("--epochs must be at least 1 (got {})", epochs));
  if (batch_size < 1) throw UsageError(fmt::format("--batch-size must be at least 1 (got {})", batch_size));
  if (lr && !(*lr > 0.0 && std::isfinite(*lr))) throw UsageError(fmt::format("--lr must be positive (got {})", *lr));
}

ClassifierResult train_classifier(const ClassifierConfig& config, const fs::path& out_dir, int verbose) {
  config.validate();
  ClassifierConfig c = config;
  LoadedClassifier init;
  if (!c.init_from.empty()) init = load_init_from(c);
  std::unique_ptr<Sequential> denoiser;
  if (c.on == "denoised") {
    LoadedRun run = load_run(c.denoiser);
    denoiser = std::move(run.model);
    if (c.noise.empty()) c.noise = run.config.noise;
  }
  if (c.on == "noisy" && c.noise.empty()) c.noise = kDefaultNoise;
  const NoiseSpec noise = c.on == "clean" ? NoiseSpec{} : parse_noise(c.noise);
  if (!c.noise.empty()) c.noise = noise.str();

  Splits data = load_splits(c.data);
  const std::size_t n = data.train.size();
  // Clean images train as they are; noisy ones keep the clean set to draw each epoch's noise from.
  Tensor x = c.on == "clean" ? std::move(data.train.images)
                             : classifier_input(data.train.images, c, noise, denoiser.get(), Split::train);
  const Tensor y = one_hot(data.train.labels);
  const Tensor x_val = classifier_input(data.validation.images, c, noise, denoiser.get(), Split::validation);
  const Tensor y_val = one_hot(data.validation.labels);
  auto model = make_model({c.model, "relu", x.dim(1), x.dim(2)}, c.seed);
  if (init.model) {  // the same architecture, so the parameters pair up in order
    const auto to = named_params(*model), from = named_params(*init.model);
    for (std::size_t i = 0; i < to.size(); ++i) to[i].second->value = from[i].second->value;
  }
  auto loss = make_loss(kLoss);
  auto optimizer = make_optimizer(kOptimizer, c.lr);
  const double base_lr = optimizer->learning_rate;
  // Each epoch: the learning rate its schedule gives, and (noisy, denoised) fresh
  // noise; epoch 1 has its input already.
  const EpochHook on_epoch = [&](int epoch, Tensor& x_epoch) {
    optimizer->learning_rate = scheduled_lr(c.lr_schedule, base_lr, epoch, c.epochs);
    if (c.on != "clean" && epoch > 1)
      x_epoch = classifier_input(data.train.images, c, noise, denoiser.get(), Split::train,
                                 std::uint64_t(epoch - 1) * n);
  };
  FitOptions options;
  options.epochs = c.epochs;
  options.batch_size = c.batch_size;
  options.seed = c.seed;
  options.metric = Metric::accuracy;
  ProgbarLogger progbar(stdout);
  if (verbose) options.callbacks.push_back(&progbar);
  ClassifierResult result;
  result.history = fit(*model, *loss, *optimizer, x, y, x_val, y_val, options, on_epoch);

  nlohmann::json cfg = c.to_json();
  cfg["threads"] = omp_get_max_threads();  // informative: results are identical for a given thread count
  write_json_atomic(out_dir / "config.json", cfg);
  write_json_atomic(out_dir / "history.json", result.history.to_json());
  std::vector<std::pair<std::string, const Tensor*>> weights;
  for (auto& [name, p] : named_params(*model)) weights.emplace_back(name, &p->value);
  save_safetensors(out_dir / "model.safetensors", weights, {{"format", "denoise"}, {"config", c.to_json().dump()}});

  const Tensor y_test = one_hot(data.test.labels);
  const Evaluation clean_test = evaluate(*model, *loss, Metric::accuracy, data.test.images, y_test);
  result.metrics = {{"split", "test"},
                    {"count", data.test.size()},
                    {"test_accuracy", clean_test.metric},
                    {"test_loss", clean_test.loss},
                    {"diverged", result.history.diverged}};
  const Tensor x_test = classifier_input(data.test.images, c, noise, denoiser.get(), Split::test);
  if (c.on != "clean") {
    result.metrics["test_accuracy_" + c.on] = evaluate(*model, *loss, Metric::accuracy, x_test, y_test).metric;
    result.metrics["noise"] = c.noise;
  }
  write_json_atomic(out_dir / "metrics.json", result.metrics);
  Tensor sample, probs;
  slice_rows(x_test, 0, std::min<std::size_t>(10, data.test.size()), sample);
  predict(*model, sample, probs);
  write_predictions(sample, data.test.labels, probs, 10, out_dir / "predictions.png");
  if (result.history.diverged)
    throw DivergedError("training stopped: the loss became NaN or infinite; the run folder " + out_dir.string() +
                        " records the history up to that point");
  return result;
}

LoadedClassifier load_classifier(const fs::path& run_dir) {
  if (!fs::is_directory(run_dir)) throw DataError(run_dir.string() + ": not a run folder (no such directory)");
  LoadedClassifier run;
  const nlohmann::json config = read_json(run_dir / "config.json");  // its errors name the file
  try {
    run.config = ClassifierConfig::from_json(config);
  } catch (const DataError& e) {
    throw DataError(run_dir.string() + "/" + e.what());
  }
  run.model = make_model({run.config.model, "relu", 28, 28}, run.config.seed);
  std::vector<std::pair<std::string, Tensor*>> expected;
  for (auto& [name, p] : named_params(*run.model)) expected.emplace_back(name, &p->value);
  load_into(run_dir / "model.safetensors", expected);
  return run;
}

LoadedClassifier load_init_from(const ClassifierConfig& config) {
  LoadedClassifier run = load_classifier(config.init_from);
  if (run.config.model != config.model)
    throw UsageError(config.init_from + ": its model is " + run.config.model + ", not " + config.model +
                     "; fine-tuning needs the same architecture");
  return run;
}

nlohmann::json run_classify_eval(const ClassifyEvalRequest& request, const fs::path& out_dir, int verbose) {
  const LoadedClassifier clean = load_classifier(request.classifier);
  LoadedClassifier noisy, denoised;
  LoadedRun denoiser;
  if (!request.noisy_classifier.empty()) noisy = load_classifier(request.noisy_classifier);
  if (!request.denoiser.empty()) denoiser = load_run(request.denoiser);
  if (!request.denoised_classifier.empty()) denoised = load_classifier(request.denoised_classifier);

  DataOptions options = clean.config.data;
  if (!request.dataset.empty()) options.dataset = request.dataset;
  if (!request.data_dir.empty()) options.data_dir = request.data_dir;
  Dataset test = load_data_file(options, DataFile::test);
  if (request.limit) test = subset(test, 0, std::min(request.limit, test.size()));

  NoiseLevels noise = request.noise;
  noise.seed = split_noise_seed(request.noise.seed, Split::test);  // the test noise of a run with this seed
  nlohmann::json result = evaluate_classify_pipelines(
      {clean.model.get(), denoiser.model.get(), noisy.model.get(), denoised.model.get()}, test, noise, verbose);
  result["seed"] = request.noise.seed;
  result["classifier"] = request.classifier.string();
  result["noisy_classifier"] = request.noisy_classifier.string();
  result["denoiser"] = request.denoiser.string();
  result["denoised_classifier"] = request.denoised_classifier.string();
  write_classify_report(result, out_dir);
  return result;
}

nlohmann::json run_classification_experiment(const ClassificationExperiment& e, const fs::path& out_dir) {
  const std::string noise =
      e.denoiser_run.empty() ? std::string(kDefaultNoise) : load_run(e.denoiser_run).config.noise;
  const NoiseSpec spec = parse_noise(noise);
  if (spec.kind == NoiseSpec::Kind::none) throw UsageError("the denoiser run has no noise to classify under");

  ClassifierConfig clean_config;
  clean_config.data = e.data;
  clean_config.seed = e.seed;
  clean_config.epochs = e.clean_epochs;
  clean_config.model = e.model;
  clean_config.lr_schedule = e.lr_schedule;
  ClassifierConfig noisy_config = clean_config;
  noisy_config.epochs = e.epochs;
  noisy_config.on = "noisy";
  noisy_config.noise = spec.str();
  if (e.fine_tune) noisy_config.init_from = (out_dir / "classifier-clean").string();
  const std::string how = e.fine_tune ? ", fine-tuned from the clean one" : "";
  if (e.verbose)
    fmt::print("== Training the digit classifier ({}) on clean images ({} epochs)\n", e.model, e.clean_epochs);
  const ClassifierResult clean = train_classifier(clean_config, out_dir / "classifier-clean", e.verbose);
  if (e.verbose)
    fmt::print("\n== Training the digit classifier on noisy images ({}, {} epochs{})\n", spec.str(), e.epochs, how);
  const ClassifierResult noisy = train_classifier(noisy_config, out_dir / "classifier-noisy", e.verbose);
  ClassifierResult denoised;
  if (!e.denoiser_run.empty()) {
    ClassifierConfig denoised_config = noisy_config;
    denoised_config.on = "denoised";
    denoised_config.denoiser = e.denoiser_run.string();
    if (e.verbose)
      fmt::print("\n== Training the digit classifier on denoised images ({}, {} epochs{})\n", spec.str(), e.epochs,
                 how);
    denoised = train_classifier(denoised_config, out_dir / "classifier-denoised", e.verbose);
  }

  ClassifyEvalRequest request;
  request.classifier = out_dir / "classifier-clean";
  request.noisy_classifier = out_dir / "classifier-noisy";
  request.denoiser = e.denoiser_run;
  if (!e.denoiser_run.empty()) request.denoised_classifier = out_dir / "classifier-denoised";
  request.noise = {noise_kind(spec), e.levels, e.seed};
  request.limit = e.data.limit;
  if (e.verbose) fmt::print("\n== Digit accuracy under {} noise\n", request.noise.kind);
  nlohmann::json result = run_classify_eval(request, out_dir, e.verbose);
  result["test_accuracy"] = {{"clean", clean.metrics["test_accuracy"]}, {"noisy", noisy.metrics["test_accuracy"]}};
  if (!e.denoiser_run.empty()) result["test_accuracy"]["denoised"] = denoised.metrics["test_accuracy"];
  for (const auto& row : result["levels"]) {
    if (std::abs(row["level"].get<double>() - spec.param) > 1e-9) continue;
    std::string best;
    for (const auto& [name, acc] : row["accuracy"].items())
      if (best.empty() || acc.get<double>() > row["accuracy"][best].get<double>()) best = name;
    result["at_training_noise"] = {{"noise", spec.str()}, {"accuracy", row["accuracy"]}, {"best", best}};
  }
  if (e.verbose) {
    std::string line = "Clean test accuracy:";
    for (const auto& [name, acc] : result["test_accuracy"].items())
      line += fmt::format(" {}-trained {:.2f}%", name, 100 * acc.get<double>());
    fmt::print("\n{}\n{}\n", format_classify_table(result), line);
    if (result.contains("at_training_noise")) {
      const auto& at = result["at_training_noise"];
      line = "At " + spec.str() + ":";
      for (const auto& [name, acc] : at["accuracy"].items()) line += fmt::format(" {} {:.2f}%", name, 100 * acc.get<double>());
      fmt::print("{}; best: {}\n", line, at["best"].get<std::string>());
    }
    fmt::print("Wrote {}/classify.json, classify.md, classify.png\n", out_dir.string());
  }
  return result;
}

}  // namespace dn

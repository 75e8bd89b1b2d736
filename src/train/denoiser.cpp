#include "train/denoiser.hpp"

#include <omp.h>

#include <cmath>

#include <fmt/core.h>

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "data/packed_images.hpp"
#include "eval/image_metrics.hpp"
#include "io/png.hpp"
#include "io/safetensors.hpp"
#include "nn/inference.hpp"
#include "nn/models.hpp"
#include "train/progress.hpp"

namespace dn {

namespace fs = std::filesystem;

nlohmann::json TrainConfig::to_json() const {
  nlohmann::json j = {{"task", "denoise"},
                      {"model", model},
                      {"activation", activation},
                      {"optimizer", optimizer},
                      {"lr", lr ? nlohmann::json(*lr) : nlohmann::json(nullptr)},
                      {"loss", loss},
                      {"epochs", epochs},
                      {"batch_size", batch_size},
                      {"noise", noise},
                      {"dataset", data.dataset},
                      {"data_dir", data.data_dir},
                      {"limit", data.limit},
                      {"seed", seed},
                      {"on_nan", on_nan}};
  return j;
}

TrainConfig TrainConfig::from_json(const nlohmann::json& j) {
  TrainConfig c;
  try {
    c.model = j.at("model").get<std::string>();
    c.activation = j.at("activation").get<std::string>();
    c.optimizer = j.at("optimizer").get<std::string>();
    if (!j.at("lr").is_null()) c.lr = j.at("lr").get<double>();
    c.loss = j.at("loss").get<std::string>();
    c.epochs = j.at("epochs").get<int>();
    c.batch_size = j.at("batch_size").get<int>();
    c.noise = j.at("noise").get<std::string>();
    c.data.dataset = j.at("dataset").get<std::string>();
    c.data.data_dir = j.at("data_dir").get<std::string>();
    c.data.limit = j.at("limit").get<std::size_t>();
    c.seed = j.at("seed").get<std::uint64_t>();
    c.on_nan = j.at("on_nan").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    throw DataError(std::string("config.json: ") + e.what());
  }
  return c;
}

void TrainConfig::validate() const {
  if (epochs < 1) throw UsageError(fmt::format("--epochs must be at least 1 (got {})", epochs));
  if (batch_size < 1) throw UsageError(fmt::format("--batch-size must be at least 1 (got {})", batch_size));
  if (lr && !(*lr > 0.0 && std::isfinite(*lr))) throw UsageError(fmt::format("--lr must be positive (got {})", *lr));
  parse_noise(noise);
  parse_on_nan(on_nan);
  make_loss(loss);
  make_optimizer(optimizer, lr);
  make_model({model, activation, 28, 28}, seed);
}

Split parse_split(const std::string& text) {
  if (text == "train") return Split::train;
  if (text == "validation") return Split::validation;
  if (text == "test") return Split::test;
  throw UsageError("unknown split '" + text + "' (expected train, validation or test)");
}

const char* split_name(Split split) {
  switch (split) {
    case Split::train: return "train";
    case Split::validation: return "validation";
    case Split::test: return "test";
  }
  return "?";
}

// Distinct noise seeds per split; the image index picks the stream within one.
static std::uint64_t noise_seed(std::uint64_t seed, Split split) {
  return seed * 3 + static_cast<std::uint64_t>(split);
}

Tensor noisy_images(const Tensor& clean, const NoiseSpec& noise, std::uint64_t seed, Split split) {
  Tensor noisy;
  add_noise(noise, clean, noisy, noise_seed(seed, split), 0);
  return noisy;
}

nlohmann::json evaluate_denoiser(Layer& model, const Tensor& clean, const Tensor& noisy) {
  Tensor denoised;
  predict(model, noisy, denoised);
  denoised.reshape(clean.shape());
  auto metrics_of = [&](const Tensor& pred) {
    const ImageQuality q = image_quality(pred, clean);
    return nlohmann::json{{"bce", q.bce},
                          {"mse", q.mse},
                          {"psnr", q.psnr},
                          {"psnr_set", q.psnr_set},
                          {"ssim", q.ssim},
                          {"binary_accuracy", q.binary_accuracy},
                          {"binary_accuracy_ceiling", q.binary_accuracy_ceiling}};
  };
  nlohmann::json out = metrics_of(denoised);
  out["noisy"] = metrics_of(noisy);
  out["count"] = clean.dim(0);
  return out;
}

void write_reconstructions(Layer& model, const Tensor& clean, const Tensor& noisy, int count, const fs::path& png) {
  const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(count), static_cast<std::size_t>(clean.dim(0)));
  Tensor clean_rows, noisy_rows, denoised;
  slice_rows(clean, 0, n, clean_rows);
  slice_rows(noisy, 0, n, noisy_rows);
  predict(model, noisy_rows, denoised);
  denoised.reshape(clean_rows.shape());
  write_png_atomic(png, make_grid({noisy_rows, denoised, clean_rows}, {"noisy", "denoised", "clean"}, 4));
}

static void save_weights(Layer& model, const fs::path& path, const nlohmann::json& config) {
  std::vector<std::pair<std::string, const Tensor*>> tensors;
  for (auto& [name, p] : named_params(model)) tensors.emplace_back(name, &p->value);
  save_safetensors(path, tensors, {{"format", "denoise"}, {"config", config.dump()}});
}

TrainResult train_denoiser(const TrainConfig& config, const fs::path& out_dir, int verbose) {
  config.validate();
  const NoiseSpec noise = parse_noise(config.noise);
  // Images stay packed, clean as the file's bytes and noisy as 16-bit, and are
  // decoded a batch at a time: all of MNIST trains within 200 MB.
  PackedSplits data = load_packed_splits(config.data);
  data.test = {};  // read only so that a missing or damaged test file fails before training
  PackedImages x_train_noisy = add_noise_packed(noise, data.train.images, noise_seed(config.seed, Split::train));
  const PackedImages x_val_noisy =
      add_noise_packed(noise, data.validation.images, noise_seed(config.seed, Split::validation));

  auto model = make_model({config.model, config.activation, data.train.height(), data.train.width()}, config.seed);
  auto loss = make_loss(config.loss);
  auto optimizer = make_optimizer(config.optimizer, config.lr);

  FitOptions options;
  options.epochs = config.epochs;
  options.batch_size = config.batch_size;
  options.seed = config.seed;
  options.on_nan = parse_on_nan(config.on_nan);
  ProgbarLogger progbar(stdout);
  if (verbose) options.callbacks.push_back(&progbar);
  TrainResult result;
  result.history = fit(*model, *loss, *optimizer, PackedSamples(x_train_noisy), PackedSamples(data.train.images),
                       PackedSamples(x_val_noisy), PackedSamples(data.validation.images), options);
  x_train_noisy = {};  // freed before the float validation copies below
  data.train = {};

  nlohmann::json cfg = config.to_json();
  cfg["threads"] = omp_get_max_threads();  // informative: results are identical for a given thread count
  write_json_atomic(out_dir / "config.json", cfg);
  write_json_atomic(out_dir / "history.json", result.history.to_json());
  save_weights(*model, out_dir / "model.safetensors", config.to_json());
  // Float noise again, as `denoise eval` draws it, so metrics.json and eval agree exactly.
  const Tensor val_clean = data.validation.images.unpack();
  const Tensor val_noisy = noisy_images(val_clean, noise, config.seed, Split::validation);
  result.metrics = evaluate_denoiser(*model, val_clean, val_noisy);
  result.metrics["split"] = "validation";
  result.metrics["noise"] = noise.str();
  result.metrics["diverged"] = result.history.diverged;
  write_json_atomic(out_dir / "metrics.json", result.metrics);
  write_reconstructions(*model, val_clean, val_noisy, 10, out_dir / "reconstructions.png");
  if (result.history.diverged && options.on_nan == OnNaN::stop)
    throw DivergedError("training stopped: the loss became NaN or infinite; the run folder " + out_dir.string() +
                        " records the history up to that point");
  return result;
}

LoadedRun load_run(const fs::path& run_dir) {
  if (!fs::is_directory(run_dir)) throw DataError(run_dir.string() + ": not a run folder (no such directory)");
  LoadedRun run;
  const nlohmann::json config = read_json(run_dir / "config.json");  // its errors name the file
  if (config.is_object() && config.contains("task") && config["task"] != "denoise")
    throw DataError(run_dir.string() + ": a " + config["task"].dump() + " run folder, not a denoiser's");
  try {
    run.config = TrainConfig::from_json(config);
  } catch (const DataError& e) {
    throw DataError(run_dir.string() + "/" + e.what());
  }
  run.model = make_model({run.config.model, run.config.activation, 28, 28}, run.config.seed);
  std::vector<std::pair<std::string, Tensor*>> expected;
  for (auto& [name, p] : named_params(*run.model)) expected.emplace_back(name, &p->value);
  load_into(run_dir / "model.safetensors", expected);
  return run;
}

// The split's clean images and their noisy versions, as the run would see them.
struct EvalSet {
  Tensor clean, noisy;
  NoiseSpec noise;
};

static EvalSet eval_set(const TrainConfig& config, Split split, const std::string& noise_override, std::size_t limit) {
  DataOptions options = config.data;
  options.limit = limit;
  Splits data = load_splits(options);
  EvalSet set;
  set.clean = std::move(split == Split::train ? data.train.images
                        : split == Split::validation ? data.validation.images
                                                     : data.test.images);
  set.noise = parse_noise(noise_override.empty() ? config.noise : noise_override);
  set.noisy = noisy_images(set.clean, set.noise, config.seed, split);
  return set;
}

nlohmann::json evaluate_run(const fs::path& run_dir, Split split, const std::string& noise_override,
                            std::size_t limit) {
  LoadedRun run = load_run(run_dir);
  const EvalSet set = eval_set(run.config, split, noise_override, limit);
  nlohmann::json m = evaluate_denoiser(*run.model, set.clean, set.noisy);
  m["split"] = split_name(split);
  m["noise"] = set.noise.str();
  return m;
}

void show_run(const fs::path& run_dir, Split split, const std::string& noise_override, int count,
              const fs::path& png) {
  LoadedRun run = load_run(run_dir);
  const EvalSet set = eval_set(run.config, split, noise_override, static_cast<std::size_t>(count));
  write_reconstructions(*run.model, set.clean, set.noisy, count, png);
}

std::string format_denoise_metrics(const nlohmann::json& m) {
  std::string out = fmt::format("Evaluation on {} ({} images, noise {})\n", m.value("split", "?"),
                                m.value("count", 0), m.value("noise", "?"));
  out += fmt::format("  {:<24} {:>12} {:>12}\n", "metric", "noisy input", "denoised");
  const std::pair<const char*, const char*> rows[] = {{"bce", "binary cross-entropy"},
                                                      {"mse", "MSE"},
                                                      {"psnr", "PSNR (dB)"},
                                                      {"ssim", "SSIM"},
                                                      {"binary_accuracy", "binary_accuracy"},
                                                      {"binary_accuracy_ceiling", "  its ceiling"}};
  for (auto [key, label] : rows) {
    auto value = [&](const nlohmann::json& j) {
      return j.contains(key) && j[key].is_number() ? fmt::format("{:.4f}", j[key].get<double>()) : std::string("nan");
    };
    out += fmt::format("  {:<24} {:>12} {:>12}\n", label, value(m["noisy"]), value(m));
  }
  return out;
}

}  // namespace dn

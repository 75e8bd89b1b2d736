#include "train/denoiser_eval.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include <fmt/core.h>

#include "core/error.hpp"
#include "core/json_integer.hpp"
#include "io/png.hpp"
#include "nn/inference.hpp"
#include "train/denoiser.hpp"

namespace dn {

namespace fs = std::filesystem;

static nlohmann::json quality_json(const ImageQuality& q) {
  return {{"bce", q.bce},
          {"mse", q.mse},
          {"psnr", q.psnr},
          {"psnr_set", q.psnr_set},
          {"ssim", q.ssim},
          {"binary_accuracy", q.binary_accuracy},
          {"binary_accuracy_ceiling", q.binary_accuracy_ceiling}};
}

static ImageQuality quality_from_json(const nlohmann::json& j, std::int64_t count) {
  ImageQuality q;
  q.count = count;
  q.bce = j.at("bce").get<double>();
  q.mse = j.at("mse").get<double>();
  q.psnr = j.at("psnr").get<double>();
  q.psnr_set = j.at("psnr_set").get<double>();
  q.ssim = j.at("ssim").get<double>();
  q.binary_accuracy = j.at("binary_accuracy").get<double>();
  q.binary_accuracy_ceiling = j.at("binary_accuracy_ceiling").get<double>();
  return q;
}

nlohmann::json DenoiseEvaluation::to_json() const {
  nlohmann::json out = quality_json(denoised);
  out["noisy"] = quality_json(noisy);
  out["count"] = denoised.count;
  out["split"] = split_name(split);
  out["noise"] = noise.str();
  out["noise_seed"] = noise_seed;
  out["constant_output"] = constant_output;
  if (diverged) out["diverged"] = *diverged;
  return out;
}

DenoiseEvaluation DenoiseEvaluation::from_json(const nlohmann::json& j) {
  DenoiseEvaluation e;
  try {
    const auto count = json_integer<std::int64_t>(j.at("count"), "count");
    e.denoised = quality_from_json(j, count);
    e.noisy = quality_from_json(j.at("noisy"), count);
    e.split = parse_split(j.at("split").get<std::string>());
    e.noise = parse_noise(j.at("noise").get<std::string>());
    if (j.contains("noise_seed")) e.noise_seed = json_integer<std::uint64_t>(j["noise_seed"], "noise_seed");
    if (j.contains("constant_output")) e.constant_output = j["constant_output"].get<bool>();
    if (j.contains("diverged")) e.diverged = j["diverged"].get<bool>();
  } catch (const nlohmann::json::exception& ex) {
    throw DataError(std::string("metrics.json: ") + ex.what());
  } catch (const UsageError& ex) {
    throw DataError(std::string("metrics.json: ") + ex.what());
  }
  return e;
}

// The mean over pixels of each pixel's standard deviation across the n images.
static double mean_pixel_deviation(const Tensor& images, std::size_t n) {
  const std::size_t pixels = images.size() / n;
  std::vector<double> sum(pixels, 0.0), squares(pixels, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t p = 0; p < pixels; ++p) {
      const double v = images[i * pixels + p];
      sum[p] += v;
      squares[p] += v * v;
    }
  double total = 0;
  for (std::size_t p = 0; p < pixels; ++p) {
    const double mean = sum[p] / double(n);
    total += std::sqrt(std::max(0.0, squares[p] / double(n) - mean * mean));
  }
  return total / double(pixels);
}

DenoiseEvaluation evaluate_denoiser(Layer& model, const Tensor& clean, const Tensor& noisy) {
  Tensor denoised;
  predict(model, noisy, denoised);
  denoised.reshape(clean.shape());
  DenoiseEvaluation e;
  e.denoised = image_quality(denoised, clean);
  e.noisy = image_quality(noisy, clean);
  const auto n = static_cast<std::size_t>(clean.dim(0));
  // Against the clean images' own deviation, so that a set of alike images is no collapse.
  e.constant_output =
      n >= 2 && mean_pixel_deviation(denoised, n) < kConstantOutputShare * mean_pixel_deviation(clean, n);
  return e;
}

void write_reconstructions(Layer& model, const Tensor& clean, const Tensor& noisy, int count, const fs::path& png) {
  const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(count), static_cast<std::size_t>(clean.dim(0)));
  Tensor clean_rows, noisy_rows, denoised;
  slice_rows(clean, 0, n, clean_rows);
  slice_rows(noisy, 0, n, noisy_rows);
  predict(model, noisy_rows, denoised);
  denoised.reshape(clean_rows.shape());
  write_image_atomic(png, make_grid({noisy_rows, denoised, clean_rows}, {"noisy", "denoised", "clean"}, 4));
}

// The split's clean images and their noisy versions, as the run would see them.
struct EvalSet {
  Tensor clean, noisy;
  NoiseSpec noise;
  std::uint64_t noise_seed = 0;
};

static EvalSet eval_set(const DenoiserConfig& config, Split split, const std::string& noise_override,
                        std::size_t limit, std::optional<std::uint64_t> noise_seed) {
  DataOptions options = config.data;
  options.limit = limit;
  options.seed = config.seed;  // the run's split of a folder dataset, whatever seeds the noise
  Splits data = load_splits(options);
  EvalSet set;
  set.clean = std::move(split == Split::train        ? data.train.images
                        : split == Split::validation ? data.validation.images
                                                     : data.test.images);
  set.noise = parse_noise(noise_override.empty() ? config.noise : noise_override);
  set.noise_seed = noise_seed.value_or(config.seed);
  set.noisy = noisy_images(set.clean, set.noise, set.noise_seed, split);
  return set;
}

DenoiseEvaluation evaluate_denoiser_run(const fs::path& run_dir, Split split, const std::string& noise_override,
                                        std::size_t limit, std::optional<std::uint64_t> noise_seed) {
  LoadedDenoiser run = load_denoiser(run_dir);
  const EvalSet set = eval_set(run.config, split, noise_override, limit, noise_seed);
  DenoiseEvaluation e = evaluate_denoiser(*run.model, set.clean, set.noisy);
  e.split = split;
  e.noise = set.noise;
  e.noise_seed = set.noise_seed;
  return e;
}

void show_denoiser_run(const fs::path& run_dir, Split split, const std::string& noise_override, int count,
                       const fs::path& png, std::optional<std::uint64_t> noise_seed) {
  LoadedDenoiser run = load_denoiser(run_dir);
  const EvalSet set = eval_set(run.config, split, noise_override, static_cast<std::size_t>(count), noise_seed);
  write_reconstructions(*run.model, set.clean, set.noisy, count, png);
}

std::string format_denoise_metrics(const DenoiseEvaluation& e) {
  std::string out = fmt::format("Evaluation on {} ({} images, noise {}, noise seed {})\n", split_name(e.split),
                                e.denoised.count, e.noise.str(), e.noise_seed);
  out += fmt::format("  {:<24} {:>12} {:>12}\n", "metric", "noisy input", "denoised");
  const std::pair<double ImageQuality::*, const char*> rows[] = {{&ImageQuality::bce, "binary cross-entropy"},
                                                                 {&ImageQuality::mse, "MSE"},
                                                                 {&ImageQuality::psnr, "PSNR (dB)"},
                                                                 {&ImageQuality::ssim, "SSIM"},
                                                                 {&ImageQuality::binary_accuracy, "binary_accuracy"},
                                                                 {&ImageQuality::binary_accuracy_ceiling,
                                                                  "  its ceiling"}};
  for (auto [field, label] : rows)
    out += fmt::format("  {:<24} {:>12.4f} {:>12.4f}\n", label, e.noisy.*field, e.denoised.*field);
  if (e.constant_output)
    out += "Note: the denoiser puts out nearly the same picture for every image: it has collapsed. With a sigmoid\n"
           "output, --loss mean_squared_error and --loss psnr do this from fresh weights for about three seeds in\n"
           "four; train with binary_crossentropy, or fine-tune such a run with --init-from.\n";
  return out;
}

}  // namespace dn

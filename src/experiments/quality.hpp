#pragma once
// The quality table: every denoiser the project has, neural and classical, on the same
// noisy test images at many noise kinds and levels.
//   rows     the noisy input itself, each OpenCV baseline (eval/baselines.hpp) with its
//            parameter tuned per column on validation images (never test), and each
//            denoiser run folder given;
//   columns  noise specs (default: gaussian 0.1 to 1.0, salt-pepper, speckle, poisson);
//   cells    mean PSNR and SSIM over the test images with a 95% confidence interval,
//            pooled MSE, PSNR of the set, binary_accuracy beside its ceiling, and seconds
//            per image.
// Every method sees the same noisy images: the noise of split test drawn with `seed`.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/dataset.hpp"
#include "io/plot.hpp"
#include "io/png.hpp"

namespace dn {

// Mean and the half-width of its 95% confidence interval, 1.96 * s / sqrt(n) with s the
// sample standard deviation (n - 1); half_width 0 for fewer than two values.
struct MeanCI {
  double mean = 0, half_width = 0;
};
MeanCI mean_ci95(std::span<const double> values);

struct QualityOptions {
  std::vector<std::string> noises;  // empty: default_quality_noises()
  // Denoiser run folders, each a row labelled with its name.
  std::vector<std::pair<std::string, std::filesystem::path>> models;
  bool baselines = true;
  DataOptions data;               // the dataset (its test split is measured)
  std::size_t limit = 0;          // first N test images (0 = all)
  std::size_t tune_images = 1000; // validation images a baseline's parameter is chosen on
  std::uint64_t seed = 0;         // noise seed, as a run seeded so would draw it
  std::string picture_noise = "gaussian:0.5";  // the noise of the picture of denoised digits
  int picture_count = 10;
};

// gaussian:0.1 ... gaussian:1.0, salt-pepper:0.2, speckle:0.5, poisson:10.
std::vector<std::string> default_quality_noises();

struct QualityCell {
  MeanCI psnr, ssim;
  double mse = 0, psnr_set = 0, binary_accuracy = 0, binary_accuracy_ceiling = 0;
  double seconds_per_image = 0;
  std::optional<double> param;  // a baseline's tuned parameter
  std::optional<double> tune_psnr;  // its mean PSNR on the validation images
};

struct QualityRow {
  std::string method;
  std::string kind;  // "input", "baseline" or "model"
  std::string param_name;  // a baseline's parameter, else empty
  std::string source;      // a model's run folder
  std::vector<QualityCell> cells;  // one per noise
};

struct QualityTable {
  std::string dataset;
  std::size_t test_images = 0, tune_images = 0;
  std::uint64_t seed = 0;
  std::vector<std::string> noises;
  std::vector<QualityRow> rows;

  nlohmann::json to_json() const;
  // Mean PSNR and SSIM with their intervals, one row per method; columns all noises,
  // or only those listed.
  std::string markdown(const std::vector<std::string>& only_noises = {}) const;
  // PSNR against level, one line per method, for the gaussian columns.
  LinePlot psnr_plot() const;
};

struct QualityResult {
  QualityTable table;
  Image digits;  // clean, noisy and each method's output at picture_noise, one row each
};

// The table over clean test images [N, H, W], baselines tuned on tune_clean; the
// noise drawn here (split test and validation with options.seed).
QualityResult measure_quality(const QualityOptions& options, const Tensor& clean, const Tensor& tune_clean);

// Loads the dataset's test images and its first tune_images validation images,
// measures the table and writes out_dir/quality.{json,md,png} and out_dir/digits.png
// (the same test digits: clean, noisy and denoised by each method at picture_noise).
QualityTable run_quality_table(const QualityOptions& options, const std::filesystem::path& out_dir);

}  // namespace dn

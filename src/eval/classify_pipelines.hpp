#pragma once
// Digit accuracy under noise: each classification pipeline evaluated on the
// test set at a series of noise levels, with a confusion matrix per level,
// written as classify.json, a Markdown table (classify.md) and a plot
// (classify.png).
//
// Pipelines, by their JSON names:
//   clean_on_noisy     the clean-trained classifier on noisy images
//   clean_on_denoised  the clean-trained classifier on the denoiser's output for them
//   noisy_on_noisy     the noisy-trained classifier on noisy images
//   denoised_on_denoised  a classifier trained on denoised images, on the denoiser's output
//   ensemble           the mean of the last two's probabilities (when both are there)
//   ensemble_of_many   the mean of the probabilities of any number of noisy- and
//                      denoised-trained classifiers, each fed what it trained on
//
// With test-time augmentation (shift > 0) every classifier sees each image five
// times, as it is and moved by `shift` pixels up, down, left and right, and its
// probabilities are the mean over the five views.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/dataset.hpp"
#include "eval/image_metrics.hpp"
#include "io/plot.hpp"
#include "io/png.hpp"
#include "nn/layer.hpp"

namespace dn {

// One classifier of ensemble_of_many and its input: the noisy images themselves
// (denoiser null) or the denoiser's output for them.
struct EnsembleMember {
  Layer* classifier = nullptr;
  Layer* denoiser = nullptr;
};

struct ClassifyModels {
  Layer* clean_classifier = nullptr;  // required
  Layer* denoiser = nullptr;          // adds clean_on_denoised
  Layer* noisy_classifier = nullptr;  // adds noisy_on_noisy
  Layer* denoised_classifier = nullptr;  // with a denoiser: adds denoised_on_denoised
  std::vector<EnsembleMember> many;      // two or more: adds ensemble_of_many
};

enum class Pipeline { clean_on_noisy, clean_on_denoised, noisy_on_noisy, denoised_on_denoised, ensemble,
                      ensemble_of_many };
const char* pipeline_name(Pipeline p);   // the JSON name, e.g. "clean_on_noisy"
const char* pipeline_label(Pipeline p);  // the table column and legend, e.g. "clean-trained on noisy"

struct NoiseLevels {
  std::string kind = "gaussian";  // a noise kind of parse_noise; each level is its parameter
  std::vector<double> levels = {0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0};
  // Image i draws its noise from Rng(seed, i) at every level, so levels differ
  // only in strength and the accuracy curve is not blurred by fresh noise.
  std::uint64_t seed = 0;
};

// x (N, H, W) -> out (N, H, W): out(n, i, j) = x(n, i - dy, j - dx), 0 where that
// falls outside the image (the background of MNIST's digits).
void shift_images(const Tensor& x, int dy, int dx, Tensor& out);

// x (N, H, W) -> probs (N, K): the model's probabilities, with shift > 0 the mean
// over x and x shifted by `shift` pixels down, up, right and left.
void predict_with_shifts(Layer& model, const Tensor& x, int shift, Tensor& probs);

// "0,0.25,0.5" or, with "..." continuing the step of the two numbers before it,
// "0,0.1,...,1.0" (values rounded to 1e-9 so they print as written).
// ArgumentError("noise_levels", ...) for a malformed or negative number, a "..."
// without two numbers before and one after, or an end the step does not reach.
std::vector<double> parse_noise_levels(const std::string& text);

// One noise level: each pipeline's accuracy and confusion matrix, in the order of
// ClassifyReport::pipelines.
struct LevelResult {
  double level = 0;
  std::vector<double> accuracy;
  std::vector<ConfusionMatrix> confusion;
};

struct ClassifyReport {
  std::string noise_kind;
  std::uint64_t noise_seed = 0;
  std::size_t count = 0;  // test images
  int tta_shift = 0;      // test-time augmentation: 0 = none, n = also each image moved by n pixels
  std::vector<Pipeline> pipelines;
  std::vector<LevelResult> levels;

  // The accuracy of pipeline p at levels[row]; std::out_of_range when p was not evaluated.
  double accuracy(std::size_t row, Pipeline p) const;
  bool has(Pipeline p) const;
  // {"noise_kind", "noise_seed", "count", "tta_shift", "pipelines": [names],
  //  "levels": [{"level", "accuracy": {name: fraction}, "confusion": {name: [[K x K]]}}]}
  // where confusion[name][truth][predicted] counts images.
  nlohmann::json to_json() const;
};

// Evaluates every pipeline the models allow at every level, with test-time
// augmentation when tta_shift > 0 (see the top). A denoiser that serves several
// pipelines or members runs once per level. ArgumentError for a level that is not a
// valid parameter of the kind, ArgumentError("tta_shift", ...) for a negative shift or
// one as wide as the images, ArgumentError("ensemble", ...) for one member alone, and
// ArgumentError("denoiser", ...) for a denoised classifier without a denoiser.
// on_level (optional) sees each level's result as it is done.
ClassifyReport evaluate_classify_pipelines(const ClassifyModels& models, const Dataset& test, const NoiseLevels& noise,
                                           int tta_shift = 0,
                                           const std::function<void(const ClassifyReport&)>& on_level = {});

// "gaussian 0.5   clean_on_noisy 97.10%  ..." for the report's last level.
std::string format_level_line(const ClassifyReport& report);

// Markdown table: a row per level, a column per pipeline (accuracy in %), and
// when denoising was evaluated, the percentage points it recovers for the
// clean-trained classifier.
std::string format_classify_table(const ClassifyReport& report);

// Accuracy (%) against noise level, a line per pipeline.
LinePlot plot_classify(const ClassifyReport& report);

// dir/classify.json (json: the report's to_json() plus what the caller adds),
// dir/classify.md and dir/classify.png.
void write_classify_report(const ClassifyReport& report, const nlohmann::json& json, const std::filesystem::path& dir);

}  // namespace dn

#pragma once
// A denoiser's quality: image metrics of its output beside those of its noisy
// input, on a set of images or on a split of a run folder's data; and the
// picture of noisy / denoised / clean digits.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "data/noise.hpp"
#include "data/noise_streams.hpp"
#include "eval/image_metrics.hpp"
#include "nn/layer.hpp"

namespace dn {

struct DenoiseEvaluation {
  ImageQuality denoised, noisy;  // the model's output and its input, each against the clean images
  Split split = Split::validation;
  NoiseSpec noise;
  std::uint64_t noise_seed = 0;  // what the noise was drawn from (with the split, see noisy_images)
  // The model put out nearly the same picture for every image (its pixels deviate across
  // them less than kConstantOutputShare of what the clean images' do): a collapsed model.
  bool constant_output = false;
  std::optional<bool> diverged;  // set for the evaluation written after training

  // metrics.json: the denoised image's bce, mse, psnr, psnr_set, ssim, binary_accuracy
  // and binary_accuracy_ceiling at the top level, the same under "noisy", then count,
  // split, noise, noise_seed, constant_output and (after training) diverged. from_json
  // takes a file without the last three (written before they were recorded) as 0, false
  // and unset.
  nlohmann::json to_json() const;
  static DenoiseEvaluation from_json(const nlohmann::json& j);  // DataError on missing or mistyped keys
};

// Each pixel's standard deviation across the images, averaged over the pixels: an
// evaluation calls the output constant where the output's is below this share of the
// clean images'. On MNIST the clean digits' is about 0.2, a trained denoiser's output's
// 0.17, and that of the seed model collapsed by --loss mean_squared_error 0.0001-0.0004.
constexpr double kConstantOutputShare = 0.05;

// The model on noisy (its output reshaped as clean) scored against clean; split and noise left for the caller.
DenoiseEvaluation evaluate_denoiser(Layer& model, const Tensor& clean, const Tensor& noisy);

// A denoiser run folder on a split with the run's noise (or noise_override when not
// empty), limited to the first limit images (0 = all). The noise is drawn from the
// run's own seed unless noise_seed is given: runs trained with different seeds are
// compared on the same noisy images only with the same noise_seed.
DenoiseEvaluation evaluate_denoiser_run(const std::filesystem::path& run_dir, Split split,
                                        const std::string& noise_override, std::size_t limit,
                                        std::optional<std::uint64_t> noise_seed = {});

// Picture: rows noisy / denoised / clean for the first count images.
void write_reconstructions(Layer& model, const Tensor& clean, const Tensor& noisy, int count,
                           const std::filesystem::path& png);
// A run folder's reconstructions picture for a split.
void show_denoiser_run(const std::filesystem::path& run_dir, Split split, const std::string& noise_override,
                       int count, const std::filesystem::path& png, std::optional<std::uint64_t> noise_seed = {});

// A readable two-column table (noisy input vs denoised), and what to do about a
// constant output.
std::string format_denoise_metrics(const DenoiseEvaluation& e);

}  // namespace dn

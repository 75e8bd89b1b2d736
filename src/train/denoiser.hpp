#pragma once
// A denoiser run: train a model on noisy inputs with clean targets, then write
// its run folder (config.json, history.json, model.safetensors, metrics.json,
// reconstructions.png). Also reload a run folder to evaluate or show it.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "data/dataset.hpp"
#include "data/noise.hpp"
#include "nn/sequential.hpp"
#include "train/fit.hpp"

namespace dn {

// Everything needed to rerun a training run; stored as the run's config.json.
// Defaults are the seed report's experiment.
struct TrainConfig {
  std::string model = "seed";
  std::string activation = "relu";
  std::string optimizer = "adadelta";
  std::optional<double> lr;  // the optimizer's Keras default when empty
  std::string loss = "binary_crossentropy";
  int epochs = 10;
  int batch_size = 32;
  std::string noise = "gaussian:0.5";
  DataOptions data;  // dataset, data_dir, limit
  std::uint64_t seed = 0;
  std::string on_nan = "stop";

  nlohmann::json to_json() const;
  static TrainConfig from_json(const nlohmann::json& j);  // DataError on missing or mistyped keys
  void validate() const;                                   // UsageError on any bad value
};

// Noisy copies of a split's images; the noise stream depends on (seed, split),
// so train, validation and test get different but reproducible noise.
enum class Split { train = 0, validation = 1, test = 2 };
Split parse_split(const std::string& text);
const char* split_name(Split split);
Tensor noisy_images(const Tensor& clean, const NoiseSpec& noise, std::uint64_t seed, Split split);

struct TrainResult {
  History history;
  nlohmann::json metrics;  // validation metrics, as written to metrics.json
};

// Trains per config and writes the run folder out_dir. Throws DivergedError
// (after writing the folder) when the loss became NaN and on_nan is stop.
TrainResult train_denoiser(const TrainConfig& config, const std::filesystem::path& out_dir, int verbose = 1);

// A run folder loaded back: its config and the model with trained weights.
struct LoadedRun {
  TrainConfig config;
  std::unique_ptr<Sequential> model;
};
LoadedRun load_run(const std::filesystem::path& run_dir);

// bce, mse, psnr, psnr_set, ssim, binary_accuracy, binary_accuracy_ceiling of
// the model's output against the clean images, and the same keys for the noisy
// input under "noisy"; plus split, count, noise.
nlohmann::json evaluate_denoiser(Layer& model, const Tensor& clean, const Tensor& noisy);

// Picture: rows noisy / denoised / clean for the first count images.
void write_reconstructions(Layer& model, const Tensor& clean, const Tensor& noisy, int count,
                           const std::filesystem::path& png);

// A run folder evaluated on a split with the run's noise (or noise_override when
// not empty), limited to the first limit images (0 = all); the JSON of evaluate_denoiser.
nlohmann::json evaluate_run(const std::filesystem::path& run_dir, Split split, const std::string& noise_override,
                            std::size_t limit);
// A run folder's reconstructions picture for a split.
void show_run(const std::filesystem::path& run_dir, Split split, const std::string& noise_override, int count,
              const std::filesystem::path& png);

// The metrics JSON as a readable two-column table (noisy input vs denoised).
std::string format_denoise_metrics(const nlohmann::json& metrics);

}  // namespace dn

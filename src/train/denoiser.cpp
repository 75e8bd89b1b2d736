#include "train/denoiser.hpp"

#include <omp.h>

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "data/packed_images.hpp"
#include "nn/models.hpp"
#include "run/run_folder.hpp"

namespace dn {

namespace fs = std::filesystem;

DenoiserResult train_denoiser(const DenoiserConfig& config, const fs::path& out_dir,
                              const std::vector<Callback*>& callbacks) {
  config.validate();
  const NoiseSpec noise = parse_noise(config.noise);
  // Images stay packed, clean as the file's bytes and noisy as 16-bit, and are
  // decoded a batch at a time: all of MNIST trains within 200 MB.
  DataOptions data_options = config.data;
  data_options.seed = config.seed;  // a folder: dataset's crops follow the run's seed
  PackedSplits data = load_packed_splits(data_options);
  data.test = {};  // read only so that a missing or damaged test file fails before training
  PackedImages x_train_noisy =
      add_noise_packed(noise, data.train.images, split_noise_seed(config.seed, Split::train));
  const PackedImages x_val_noisy =
      add_noise_packed(noise, data.validation.images, split_noise_seed(config.seed, Split::validation));

  auto model = make_model({config.model, config.activation, data.train.height(), data.train.width()}, config.seed);
  auto loss = make_loss(config.loss);
  auto optimizer = make_optimizer(config.optimizer, config.lr);

  FitOptions options;
  options.epochs = config.epochs;
  options.batch_size = config.batch_size;
  options.seed = config.seed;
  options.on_nan = config.on_nan;
  options.callbacks = callbacks;
  DenoiserResult result;
  result.history = fit(*model, *loss, *optimizer, PackedSamples(x_train_noisy), PackedSamples(data.train.images),
                       PackedSamples(x_val_noisy), PackedSamples(data.validation.images), options);
  x_train_noisy = {};  // freed before the float validation copies below
  data.train = {};

  nlohmann::json cfg = config.to_json();
  cfg["threads"] = omp_get_max_threads();  // informative: results are identical for a given thread count
  save_run_folder(out_dir, cfg, *model, result.history.to_json());
  // Float noise again, as `denoise eval` draws it, so metrics.json and eval agree exactly.
  const Tensor val_clean = data.validation.images.unpack();
  const Tensor val_noisy = noisy_images(val_clean, noise, config.seed, Split::validation);
  result.metrics = evaluate_denoiser(*model, val_clean, val_noisy);
  result.metrics.split = Split::validation;
  result.metrics.noise = noise;
  result.metrics.diverged = result.history.diverged;
  write_json_atomic(out_dir / kRunMetricsFile, result.metrics.to_json());
  write_reconstructions(*model, val_clean, val_noisy, 10, out_dir / "reconstructions.png");
  if (result.history.diverged && config.on_nan == OnNaN::stop)
    throw DivergedError("training stopped: the loss became NaN or infinite; the run folder " + out_dir.string() +
                        " records the history up to that point");
  return result;
}

LoadedDenoiser load_denoiser(const fs::path& run_dir) {
  LoadedRunFolder folder = load_run_folder(run_dir, "denoise");
  LoadedDenoiser run;
  try {
    run.config = DenoiserConfig::from_json(folder.config);
  } catch (const DataError& e) {
    throw DataError(run_dir.string() + "/" + e.what());
  }
  run.model = std::move(folder.model);
  return run;
}

}  // namespace dn

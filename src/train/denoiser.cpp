#include "train/denoiser.hpp"

#include <omp.h>

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "data/packed_images.hpp"
#include "nn/models.hpp"
#include "run/run_folder.hpp"
#include "train/checkpoint.hpp"
#include "train/fit.hpp"
#include "train/keras_callbacks.hpp"

namespace dn {

namespace fs = std::filesystem;

// Trains into the staging folder from scratch or from a checkpoint in it, then
// completes the run folder and commits it. Only rank 0 holds a writer and writes.
static DenoiserResult train_into(const DenoiserConfig& config, RunWriter* writer, const fs::path& staging,
                                 const std::vector<Callback*>& callbacks, bool resume,
                                 dist::Communicator& communicator) {
  check_batch_split(config.batch_size, communicator);
  const NoiseSpec noise = parse_noise(config.noise);
  // Images stay packed, clean as the file's bytes and noisy as 16-bit, and are
  // decoded a batch at a time: all of MNIST trains within 200 MB.
  DataOptions data_options = config.data;
  data_options.seed = config.seed;  // a folder: dataset's crops follow the run's seed
  PackedSplits data = load_packed_splits(data_options);
  data.test = {};  // read only so that a missing or damaged test file fails before training
  NoiseSpec train_noise = noise;
  std::optional<double> train_noise_max;
  if (config.train_noise_range) {
    train_noise.param = (*config.train_noise_range)[0];
    train_noise_max = (*config.train_noise_range)[1];
  }
  const auto train_noisy = [&](int epoch) {  // images i of epoch e draw as images (e - 1) * n + i
    return add_noise_packed(train_noise, data.train.images, split_noise_seed(config.seed, Split::train),
                            std::uint64_t(epoch - 1) * data.train.images.size(), train_noise_max);
  };
  PackedImages x_train_noisy = train_noisy(1);
  const PackedImages x_val_noisy =
      add_noise_packed(noise, data.validation.images, split_noise_seed(config.seed, Split::validation));

  auto model = make_model({config.model, config.activation, data.train.height(), data.train.width()}, config.seed);
  if (!config.init_from.empty() && !resume)  // a resumed run's weights are in its checkpoint
    copy_weights(*load_init_from(config).model, *model);
  auto loss = make_loss(config.loss);
  auto optimizer = make_optimizer(config.optimizer, config.lr);
  const fs::path checkpoint = staging / kCheckpointFile;
  Checkpoint prior;
  if (resume) {
    prior = restore_checkpoint(checkpoint, *model, *optimizer);
    require_same_config(prior, config.to_json(), checkpoint);
  }

  const fs::path& dir = staging;
  nlohmann::json cfg = config.to_json();
  cfg["threads"] = omp_get_max_threads();  // informative: results are identical for a given thread count
  cfg["world_size"] = communicator.size();  // processes that trained it data-parallel
  const ControlCallbacks controls = make_control_callbacks(
      writer ? config.controls : config.controls.without_files(), optimizer->learning_rate, config.epochs, dir,
      [&](const History& so_far) { save_run_folder(dir / kBestRunFolder, cfg, *model, so_far.to_json()); },
      callbacks);
  if (controls.early_stopping) controls.early_stopping->resume_best_weights(std::move(prior.early_stopping_weights));
  CheckpointSaver saver(checkpoint, *model, *optimizer, config.to_json(), prior.history, controls.early_stopping);
  FitOptions options;
  options.epochs = config.epochs;
  options.initial_epoch = prior.epoch;
  options.resumed = resume ? &prior.history : nullptr;
  options.batch_size = config.batch_size;
  options.seed = config.seed;
  options.on_nan = config.on_nan;
  options.callbacks = controls.all;
  if (writer) options.callbacks.push_back(&saver);
  options.communicator = &communicator;
  DenoiserResult result;
  const EpochStart fresh = [&](int epoch) {
    if (epoch > 1) x_train_noisy = train_noisy(epoch);  // PackedSamples reads x_train_noisy where it is
  };
  result.history = fit(*model, *loss, *optimizer, PackedSamples(x_train_noisy), PackedSamples(data.train.images),
                       PackedSamples(x_val_noisy), PackedSamples(data.validation.images), options,
                       config.fresh_noise ? fresh : EpochStart{});
  result.history = whole_history(prior, std::move(result.history), staging);
  if (!writer) return result;
  x_train_noisy = {};  // freed before the float validation copies below
  data.train = {};

  if (controls.early_stopping && controls.early_stopping->restored())
    cfg["restored_best_epoch"] = controls.early_stopping->best_epoch();  // the saved weights are that epoch's
  save_run_folder(dir, cfg, *model, result.history.to_json());
  // Float noise again, as `denoise eval` draws it, so metrics.json and eval agree exactly.
  const Tensor val_clean = data.validation.images.unpack();
  const Tensor val_noisy = noisy_images(val_clean, noise, config.seed, Split::validation);
  result.metrics = evaluate_denoiser(*model, val_clean, val_noisy);
  result.metrics.split = Split::validation;
  result.metrics.noise = noise;
  result.metrics.noise_seed = config.seed;
  result.metrics.diverged = result.history.diverged;
  write_json_atomic(dir / kRunMetricsFile, result.metrics.to_json());
  write_reconstructions(*model, val_clean, val_noisy, 10, dir / "reconstructions.png");
  fs::remove(checkpoint);
  writer->commit();
  if (result.history.diverged && config.on_nan == OnNaN::stop) throw diverged_run(writer->dir());
  return result;
}

DenoiserResult train_denoiser(const DenoiserConfig& config, const fs::path& out_dir,
                              const std::vector<Callback*>& callbacks, ExistingRun existing,
                              dist::Communicator& communicator) {
  return train_in_run_folder(config, out_dir, existing, communicator, [&](const DenoiserConfig& c, RunWriter* writer,
                                                                          const fs::path& staging, bool resume) {
    return train_into(c, writer, staging, callbacks, resume, communicator);
  });
}

DenoiserResult resume_denoiser(const fs::path& out_dir, const std::vector<Callback*>& callbacks,
                               dist::Communicator& communicator) {
  return resume_in_run_folder<DenoiserConfig>(out_dir, communicator, [&](const DenoiserConfig& c, RunWriter* writer,
                                                                     const fs::path& staging, bool resume) {
    return train_into(c, writer, staging, callbacks, resume, communicator);
  });
}

LoadedDenoiser load_denoiser(const fs::path& run_dir) { return load_run<DenoiserConfig>(run_dir, "denoise"); }

LoadedDenoiser load_init_from(const DenoiserConfig& config) {
  LoadedDenoiser run = load_denoiser(config.init_from);
  if (run.config.model != config.model || run.config.activation != config.activation)
    throw ArgumentError("init_from", "'" + config.init_from + "' holds a " + run.config.model + " model with " +
                                         run.config.activation + " activations, not " + config.model + " with " +
                                         config.activation + "; fine-tuning needs the same architecture");
  return run;
}

}  // namespace dn

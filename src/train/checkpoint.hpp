#pragma once
// Training checkpoints: at each epoch's end, everything a run needs to carry on
// as if it had never stopped, in one file written atomically
// (<staging folder>/checkpoint.safetensors):
//   tensors   "model/<layer>/<param>" (weights), "optimizer/<i>" (each parameter's slots) and, with
//             early stopping, "early_stopping/<layer>/<param>" (the best epoch's weights)
//   metadata  "checkpoint": {"epoch", "iterations", "history", "random_state", "config"}
// The shuffle order and the noise of an epoch depend only on (seed, epoch), so with
// these the resumed run computes the same bits as the uninterrupted one.
#include <filesystem>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "nn/layer.hpp"
#include "dist/communicator.hpp"
#include "run/run_writer.hpp"
#include "train/callbacks.hpp"
#include "train/fit.hpp"
#include "train/optimizers.hpp"

namespace dn {

struct Checkpoint {
  int epoch = 0;  // epochs finished
  std::int64_t iterations = 0;
  History history;  // the finished epochs
  nlohmann::json random_state, config;
  std::vector<Tensor> early_stopping_weights;  // in the model's parameter order; empty without early stopping
};

class EarlyStopping;

// Writes a checkpoint after every epoch (Keras's ModelCheckpoint, every epoch, with the optimizer).
class CheckpointSaver final : public Callback {
 public:
  // prior: the history of the epochs before this fit (a resumed run's); config is stored as it is.
  // early_stopping (may be null): its best weights are kept too. It must come before the
  // saver among fit's callbacks, so that it has seen the epoch being saved.
  CheckpointSaver(std::filesystem::path file, Layer& model, Optimizer& optimizer, nlohmann::json config,
                  History prior, const EarlyStopping* early_stopping);
  void on_epoch_end(const EpochLog& log) override;

 private:
  std::filesystem::path file_;
  Layer& model_;
  Optimizer& optimizer_;
  nlohmann::json config_;
  History history_;
  const EarlyStopping* early_stopping_;
};

// The checkpoint's metadata (config and progress) without its tensors; DataError naming the file.
Checkpoint read_checkpoint(const std::filesystem::path& file);

// Puts the checkpoint's weights, optimizer slots and random state into a model and an
// optimizer built as the checkpointed ones were; returns the checkpoint. DataError
// naming the file when it does not fit them.
Checkpoint restore_checkpoint(const std::filesystem::path& file, Layer& model, Optimizer& optimizer);

// The whole run's history after a fit that started from `prior` (empty for a fresh run):
// the checkpoint's epochs, then the fit's. InterruptedError, saying where the run waits
// to be resumed, when the fit was interrupted.
History whole_history(const Checkpoint& prior, History fitted, const std::filesystem::path& staging);

// The config an interrupted run in a staging folder started with, parsed and
// checked; DataError naming the checkpoint when it is damaged.
template <class Config>
Config checkpoint_config(const std::filesystem::path& staging) {
  const std::filesystem::path file = staging / kCheckpointFile;
  try {
    Config config = Config::from_json(read_checkpoint(file).config);
    config.validate();
    return config;
  } catch (const std::exception& e) {
    throw DataError(file.string() + ": " + e.what());
  }
}

// ArgumentError("resume", ...) naming the settings that differ, when a run is resumed
// with another config than the one its checkpoint was written with.
void require_same_config(const Checkpoint& checkpoint, const nlohmann::json& config, const std::filesystem::path& file);

// A training run into out_dir, fresh or resumed, the same for every task: rank 0 claims the
// folder (RunWriter) and works in its staging folder, which train_into commits; the other
// ranks of a data-parallel run work beside it without writing. train_into(config, writer or
// nullptr, staging, resume) does the training.
template <class Config, class TrainInto>
auto train_in_run_folder(const Config& config, const std::filesystem::path& out_dir, ExistingRun existing,
                         const dist::Communicator& communicator, TrainInto&& train_into) {
  config.validate();  // before the run folder is claimed
  check_batch_split(config.batch_size, communicator);
  const bool resume = existing == ExistingRun::resume;
  if (communicator.rank() != 0) return train_into(config, nullptr, staging_folder(out_dir), resume);
  RunWriter writer(out_dir, existing);
  return train_into(config, &writer, writer.staging(), resume);
}

// The same for `--resume`: the config is the one the checkpoint was written with.
template <class Config, class TrainInto>
auto resume_in_run_folder(const std::filesystem::path& out_dir, const dist::Communicator& communicator,
                          TrainInto&& train_into) {
  if (communicator.rank() != 0) {
    const std::filesystem::path staging = staging_folder(out_dir);
    return train_into(checkpoint_config<Config>(staging), nullptr, staging, true);
  }
  RunWriter writer(out_dir, ExistingRun::resume);
  return train_into(checkpoint_config<Config>(writer.staging()), &writer, writer.staging(), true);
}

}  // namespace dn

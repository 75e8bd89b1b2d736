#pragma once
// A denoiser run: train a model on noisy inputs with clean targets into a run
// folder (run/run_folder.hpp, plus reconstructions.png), and load one back.
#include <filesystem>
#include <memory>
#include <vector>

#include "dist/communicator.hpp"
#include "nn/sequential.hpp"
#include "run/run_folder.hpp"
#include "run/run_writer.hpp"
#include "train/callbacks.hpp"
#include "train/denoiser_config.hpp"
#include "train/denoiser_eval.hpp"

namespace dn {

struct DenoiserResult {
  History history;
  DenoiseEvaluation metrics;  // on the validation split, as written to metrics.json
};

// Trains per config and writes the run folder out_dir whole (run/run_writer.hpp),
// checkpointing each epoch; the callbacks see the fit (a ProgbarLogger prints Keras's
// lines). `existing` says what to do with a run already at out_dir; resume continues
// its interrupted run (whose config must be this one: see resume_denoiser).
// Throws DivergedError (after writing the folder) when the loss became NaN or infinite
// and config.on_nan is stop; InterruptedError, keeping the checkpoint, when a callback
// set stop_now.
// With a communicator of several processes, every one calls this alike and they train
// data-parallel (train/fit.hpp); rank 0 alone writes the run folder (config.json
// records world_size) and returns the metrics, the others return the history only.
DenoiserResult train_denoiser(const DenoiserConfig& config, const std::filesystem::path& out_dir,
                              const std::vector<Callback*>& callbacks = {},
                              ExistingRun existing = ExistingRun::refuse,
                              dist::Communicator& communicator = dist::local());

// Continues the interrupted run at out_dir from its last finished epoch, with the
// config it started with: the result is the uninterrupted run's, bit for bit. Several
// processes read the checkpoint each, so out_dir must be on a filesystem they share.
DenoiserResult resume_denoiser(const std::filesystem::path& out_dir, const std::vector<Callback*>& callbacks = {},
                               dist::Communicator& communicator = dist::local());

// A denoiser run folder loaded back: its config and the model with trained weights.
using LoadedDenoiser = LoadedRun<DenoiserConfig>;
LoadedDenoiser load_denoiser(const std::filesystem::path& run_dir);

// The run a fine-tuning run starts from (config.init_from), loaded as load_denoiser
// does; ArgumentError("init_from", ...) naming the folder when its model or
// activation differs from config's.
LoadedDenoiser load_init_from(const DenoiserConfig& config);

}  // namespace dn

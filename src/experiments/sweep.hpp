#pragma once
// The seed's sweep: every (optimizer, activation) cell trained `repeats` times
// with a different seed per repeat; final val_binary_accuracy, val_loss and
// PSNR per run and their averages, laid out as the seed's table.
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dist/communicator.hpp"
#include "experiments/observer.hpp"
#include "train/denoiser_config.hpp"

namespace dn {

struct SweepOptions {
  std::vector<std::string> optimizers = {"sgd", "adadelta"};
  std::vector<std::string> activations = {"relu", "softmax"};
  int repeats = 5;
  DenoiserConfig base;  // epochs, data, noise, first seed ...; optimizer and activation are set per cell
  int parallel = 0;
  // Finished runs trained with other settings are replaced; without it, the sweep refuses to start.
  bool overwrite = false;  // runs trained at once (0 = one per core)
};

// Trains what is missing under out_dir (finished runs are reused), writes
// sweep.json and sweep.md there, and returns sweep.json's content. The observer
// hears of each run as it finishes (runs train side by side, without progress bars);
// once a run fails or observer.stop_requested stops it, no other run starts, and the
// first failure is rethrown when the runs under way have stopped.
// With several processes, every one calls this alike: run i trains on rank
// i % size (`parallel` at once there), each reports its runs' numbers to rank 0, and
// rank 0 alone writes sweep.json and sweep.md, the same as one process would, and
// returns them (the others return null). A rank resumes its own unfinished runs.
nlohmann::json run_sweep(const SweepOptions& options, const std::filesystem::path& out_dir,
                         const ExperimentObserver& observer = {},
                         dist::Communicator& communicator = dist::local());

// The three tables (val_binary_accuracy, val_loss, psnr) in the seed's layout, as Markdown.
std::string format_sweep(const nlohmann::json& sweep);

}  // namespace dn

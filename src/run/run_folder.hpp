#pragma once
// Run folders: what one training run leaves behind, saved and loaded in one place.
//
//   config.json        the task's settings ({"task": "denoise" | "classify", ...}): all it takes to rerun it
//   model.json         the architecture as Keras's model.to_json(), so any model the project
//                      can build loads back, not only the built-in ones
//   model.safetensors  the weights, named "<layer>/<param>" in Keras layouts; the config in its metadata
//   history.json       a row per epoch: loss, metric, val_loss, val_metric, seconds
//   metrics.json       the evaluation written after training (the task's own fields)
//
// Folders written before model.json existed name a built-in model in config.json
// ("model", and "activation" for the seed model); they load as that model.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "nn/sequential.hpp"

namespace dn {

inline constexpr const char* kRunConfigFile = "config.json";
inline constexpr const char* kRunModelFile = "model.json";
inline constexpr const char* kRunWeightsFile = "model.safetensors";
inline constexpr const char* kRunHistoryFile = "history.json";
inline constexpr const char* kRunMetricsFile = "metrics.json";

// Writes config.json, model.json, model.safetensors and history.json into dir
// (created if missing), each atomically.
void save_run_folder(const std::filesystem::path& dir, const nlohmann::json& config, Layer& model,
                     const nlohmann::json& history);

struct LoadedRunFolder {
  nlohmann::json config;             // config.json as written
  std::unique_ptr<Sequential> model;  // built and holding the saved weights
};

// Reads a run folder of the given task. DataError naming the folder when it is
// missing, holds another task's run, or its files are damaged or disagree (weights
// that do not fit the architecture); DivergedError when a weight is NaN or infinite.
LoadedRunFolder load_run_folder(const std::filesystem::path& dir, const std::string& task);

// config.json of a run folder of the given task, checked as load_run_folder does.
nlohmann::json read_run_config(const std::filesystem::path& dir, const std::string& task);

// A run folder with its config parsed into a task's typed config (Config::from_json,
// whose DataError gets the folder's name).
template <class Config>
struct LoadedRun {
  Config config;
  std::unique_ptr<Sequential> model;
};

template <class Config>
LoadedRun<Config> load_run(const std::filesystem::path& dir, const std::string& task) {
  LoadedRunFolder folder = load_run_folder(dir, task);
  LoadedRun<Config> run;
  try {
    run.config = Config::from_json(folder.config);
  } catch (const DataError& e) {
    throw DataError(dir.string() + "/" + e.what());
  }
  run.model = std::move(folder.model);
  return run;
}

// What training throws, after writing the run folder, when the loss became NaN or infinite.
DivergedError diverged_run(const std::filesystem::path& dir);

}  // namespace dn

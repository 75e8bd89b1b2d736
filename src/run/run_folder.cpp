#include "run/run_folder.hpp"

#include <cmath>

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "io/safetensors.hpp"
#include "nn/model_config.hpp"
#include "nn/models.hpp"

namespace dn {

namespace fs = std::filesystem;

void save_run_folder(const fs::path& dir, const nlohmann::json& config, Layer& model, const nlohmann::json& history) {
  write_json_atomic(dir / kRunConfigFile, config);
  write_json_atomic(dir / kRunModelFile, model_to_json(model));
  std::vector<std::pair<std::string, const Tensor*>> weights;
  for (auto& [name, p] : named_params(model)) weights.emplace_back(name, &p->value);
  save_safetensors(dir / kRunWeightsFile, weights, {{"format", "denoise"}, {"config", config.dump()}});
  write_json_atomic(dir / kRunHistoryFile, history);
}

// "denoise" -> "denoiser", as errors speak of the folders.
static std::string task_owner(const std::string& task) {
  return task == "denoise" ? "denoiser" : task == "classify" ? "classifier" : "'" + task + "' task";
}

nlohmann::json read_run_config(const fs::path& dir, const std::string& task) {
  if (!fs::is_directory(dir)) throw DataError(dir.string() + ": not a run folder (no such directory)");
  nlohmann::json config = read_json(dir / kRunConfigFile);  // its errors name the file
  if (!config.is_object()) throw DataError((dir / kRunConfigFile).string() + ": not a JSON object");
  // Early denoiser runs wrote no task; every classifier run has one.
  const std::string found = config.value("task", std::string("denoise"));
  if (found != task)
    throw DataError(dir.string() + ": a " + task_owner(found) + "'s run folder, not a " + task_owner(task) + "'s");
  return config;
}

// The architecture of a folder without model.json: the built-in model its config names.
static std::unique_ptr<Sequential> builtin_model(const nlohmann::json& config, const std::string& task) {
  ModelSpec spec;
  spec.name = config.value("model", std::string(task == "classify" ? "classifier" : "seed"));
  spec.activation = config.value("activation", std::string("relu"));
  return make_model(spec, config.value("seed", std::uint64_t{0}));
}

DivergedError diverged_run(const fs::path& dir) {
  return DivergedError("training stopped: the loss became NaN or infinite; the run folder " + dir.string() +
                       " records the history up to that point");
}

LoadedRunFolder load_run_folder(const fs::path& dir, const std::string& task) {
  LoadedRunFolder run;
  run.config = read_run_config(dir, task);
  const fs::path architecture = dir / kRunModelFile;
  if (fs::exists(architecture)) {
    const nlohmann::json j = read_json(architecture);  // its errors name the file
    try {
      run.model = model_from_json(j, 0);
    } catch (const std::exception& e) {
      throw DataError(architecture.string() + ": " + e.what());
    }
  } else {
    try {
      run.model = builtin_model(run.config, task);
    } catch (const std::exception& e) {
      throw DataError((dir / kRunConfigFile).string() + ": " + e.what());
    }
  }
  std::vector<std::pair<std::string, Tensor*>> expected;
  for (auto& [name, p] : named_params(*run.model)) expected.emplace_back(name, &p->value);
  load_into(dir / kRunWeightsFile, expected);
  // A run that diverged keeps its weights as a record, but they compute nothing.
  for (const auto& [name, t] : expected)
    for (std::size_t i = 0; i < t->size(); ++i)
      if (!std::isfinite((*t)[i]))
        throw DivergedError(dir.string() + ": weight " + name + " is NaN or infinite: the run diverged (see its " +
                            kRunHistoryFile + ")");
  return run;
}

}  // namespace dn

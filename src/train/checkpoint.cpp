#include "train/checkpoint.hpp"

#include <map>
#include <string>

#include "core/error.hpp"
#include "core/json_integer.hpp"
#include "io/safetensors.hpp"
#include "nn/sequential.hpp"
#include "train/keras_callbacks.hpp"

namespace dn {

namespace fs = std::filesystem;

CheckpointSaver::CheckpointSaver(fs::path file, Layer& model, Optimizer& optimizer, nlohmann::json config,
                                 History prior, const EarlyStopping* early_stopping)
    : file_(std::move(file)), model_(model), optimizer_(optimizer), config_(std::move(config)),
      history_(std::move(prior)), early_stopping_(early_stopping) {}

void CheckpointSaver::on_epoch_end(const EpochLog& log) {
  history_.epochs.push_back(log);
  history_.diverged = history_.diverged || !std::isfinite(log.loss);
  std::vector<std::pair<std::string, const Tensor*>> tensors;
  for (auto& [name, p] : named_params(model_)) tensors.emplace_back("model/" + name, &p->value);
  // The slots as 1-D tensors, one per parameter (empty ones too, so that the count checks).
  std::vector<Tensor> slots;
  slots.reserve(optimizer_.slots().size());
  for (const auto& s : optimizer_.slots()) {
    Tensor t({static_cast<int>(s.size())});
    std::copy(s.begin(), s.end(), t.data());
    slots.push_back(std::move(t));
  }
  for (std::size_t i = 0; i < slots.size(); ++i) tensors.emplace_back("optimizer/" + std::to_string(i), &slots[i]);
  if (early_stopping_ && !early_stopping_->best_weights().empty()) {
    const auto named = named_params(model_);
    for (std::size_t i = 0; i < named.size(); ++i)
      tensors.emplace_back("early_stopping/" + named[i].first, &early_stopping_->best_weights()[i]);
  }
  const nlohmann::json state = {{"epoch", log.epoch},
                                {"iterations", optimizer_.iterations()},
                                {"metric", metric_name(history_.metric)},
                                {"history", history_.to_json()},
                                {"diverged", history_.diverged},
                                {"random_state", model_.random_state()},
                                {"config", config_}};
  save_safetensors(file_, tensors, {{"format", "denoise-checkpoint"}, {"checkpoint", state.dump()}});
}

Checkpoint read_checkpoint(const fs::path& file) {
  const auto metadata = read_safetensors_metadata(file);
  const auto it = metadata.find("checkpoint");
  if (it == metadata.end() || metadata.count("format") == 0 || metadata.at("format") != "denoise-checkpoint")
    throw DataError(file.string() + ": not a training checkpoint");
  Checkpoint c;
  try {
    const nlohmann::json state = nlohmann::json::parse(it->second);
    c.epoch = json_integer<int>(state.at("epoch"), "epoch");
    c.iterations = json_integer<std::int64_t>(state.at("iterations"), "iterations");
    c.history = History::from_json(state.at("history"), parse_metric(state.at("metric").get<std::string>()));
    c.history.diverged = state.at("diverged").get<bool>();
    c.random_state = state.at("random_state");
    c.config = state.at("config");
  } catch (const std::exception& e) {
    throw DataError(file.string() + ": damaged checkpoint: " + e.what());
  }
  return c;
}

Checkpoint restore_checkpoint(const fs::path& file, Layer& model, Optimizer& optimizer) {
  Checkpoint c = read_checkpoint(file);
  std::map<std::string, Tensor> tensors = load_safetensors(file);
  const auto named = named_params(model);
  std::vector<std::pair<std::string, Tensor*>> expected;
  for (auto& [name, p] : named) expected.emplace_back("model/" + name, &p->value);
  std::vector<std::vector<float>> slots;
  for (std::size_t i = 0;; ++i) {
    const auto t = tensors.find("optimizer/" + std::to_string(i));
    if (t == tensors.end()) break;
    slots.emplace_back(t->second.data(), t->second.data() + t->second.size());
  }
  if ((c.iterations > 0 || !slots.empty()) && slots.size() != expected.size())
    throw DataError(file.string() + ": holds optimizer slots for " + std::to_string(slots.size()) +
                    " parameters, the model has " + std::to_string(expected.size()));
  for (std::size_t i = 0; i < slots.size(); ++i)
    if (slots[i].size() % std::max<std::size_t>(expected[i].second->size(), 1) != 0)
      throw DataError(file.string() + ": optimizer slots of " + expected[i].first + " do not fit the parameter");
  // Early stopping's best weights, when kept, have the model's shapes.
  if (!named.empty() && tensors.count("early_stopping/" + named.front().first)) {
    c.early_stopping_weights.resize(named.size());
    for (std::size_t i = 0; i < named.size(); ++i) {
      c.early_stopping_weights[i] = Tensor(named[i].second->value.shape());
      expected.emplace_back("early_stopping/" + named[i].first, &c.early_stopping_weights[i]);
    }
  }
  // load_into wants every tensor of the file named: the slots fill their own copies.
  for (auto& [name, t] : tensors)
    if (name.rfind("optimizer/", 0) == 0) expected.emplace_back(name, &t);
  load_into(file, expected);
  try {
    model.set_random_state(c.random_state);
  } catch (const std::exception& e) {
    throw DataError(file.string() + ": damaged random state: " + e.what());
  }
  optimizer.restore(c.iterations, c.iterations > 0 ? std::move(slots) : std::vector<std::vector<float>>{});
  return c;
}

History whole_history(const Checkpoint& prior, History fitted, const fs::path& staging) {
  fitted.epochs.insert(fitted.epochs.begin(), prior.history.epochs.begin(), prior.history.epochs.end());
  fitted.diverged = fitted.diverged || prior.history.diverged;
  if (fitted.interrupted)
    throw InterruptedError("training interrupted; " + staging.string() + " keeps the run up to epoch " +
                           std::to_string(fitted.epochs.empty() ? 0 : fitted.epochs.back().epoch) + ", to resume");
  return fitted;
}

void require_same_config(const Checkpoint& checkpoint, const nlohmann::json& config, const fs::path& file) {
  std::string differences;
  for (const auto& [key, value] : config.items())
    if (!checkpoint.config.contains(key) || checkpoint.config[key] != value)
      differences += (differences.empty() ? "" : ", ") + key + " " +
                     (checkpoint.config.contains(key) ? checkpoint.config[key].dump() : "unset") + " -> " + value.dump();
  if (!differences.empty())
    throw ArgumentError("resume", "needs the settings the run started with; " + file.string() + " differs in " +
                                      differences);
}

}  // namespace dn

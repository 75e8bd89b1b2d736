#include "train/classifier_config.hpp"

#include <algorithm>
#include <string>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/json_integer.hpp"
#include "data/folder_dataset.hpp"
#include "data/noise.hpp"
#include "nn/models.hpp"
#include "train/optimizers.hpp"
#include "train/schedule.hpp"

namespace dn {

const char* train_on_name(TrainOn on) {
  switch (on) {
    case TrainOn::clean: return "clean";
    case TrainOn::noisy: return "noisy";
    case TrainOn::denoised: return "denoised";
  }
  return "?";
}

TrainOn parse_train_on(const std::string& text) {
  for (TrainOn on : {TrainOn::clean, TrainOn::noisy, TrainOn::denoised})
    if (text == train_on_name(on)) return on;
  throw ArgumentError("on", "must be clean, noisy or denoised (got '" + text + "')");
}

nlohmann::json ClassifierConfig::to_json() const {
  nlohmann::json j = {{"task", "classify"},
          {"model", model},
          {"loss", kClassifierLoss},
          {"optimizer", kClassifierOptimizer},
          {"on", train_on_name(on)},
          {"noise", noise},
          {"denoiser", denoiser},
          {"init_from", init_from},
          {"shift_augment", shift_augment},
          {"epochs", epochs},
          {"batch_size", batch_size},
          {"lr", lr ? *lr : make_optimizer(kClassifierOptimizer, lr)->learning_rate},  // the rate used
          {"seed", seed}};
  write_data_options(data, j);
  controls.add_to_json(j);
  return j;
}

ClassifierConfig ClassifierConfig::from_json(const nlohmann::json& j) {
  ClassifierConfig c;
  try {
    const std::string task = j.at("task").get<std::string>();
    if (task != "classify") throw DataError("config.json: a '" + task + "' run, not a classifier's");
    c.model = j.value("model", std::string("classifier"));  // runs from before the choice had Keras's
    c.on = parse_train_on(j.at("on").get<std::string>());
    c.noise = j.at("noise").get<std::string>();
    c.denoiser = j.at("denoiser").get<std::string>();
    c.init_from = j.value("init_from", std::string());  // runs from before fine-tuning started from fresh weights
    // runs from before augmentation had none
    c.shift_augment = j.contains("shift_augment") ? json_integer<int>(j.at("shift_augment"), "shift_augment") : 0;
    c.epochs = json_integer<int>(j.at("epochs"), "epochs");
    c.batch_size = json_integer<int>(j.at("batch_size"), "batch_size");
    if (!j.at("lr").is_null()) c.lr = j.at("lr").get<double>();
    c.data = read_data_options(j);
    c.seed = json_integer<std::uint64_t>(j.at("seed"), "seed");
    c.controls = TrainingControls::from_json(j);
  } catch (const nlohmann::json::exception& e) {
    throw DataError(std::string("config.json: ") + e.what());
  } catch (const UsageError& e) {
    throw DataError(std::string("config.json: ") + e.what());
  }
  return c;
}

void ClassifierConfig::validate() const {
  if (const auto names = classifier_names(); std::find(names.begin(), names.end(), model) == names.end())
    throw ArgumentError("model", fmt::format("must be a classifier: {} (got '{}')", fmt::join(names, ", "), model));
  if (on == TrainOn::denoised && denoiser.empty())
    throw ArgumentError("denoiser", "is needed to train on denoised images (got none)");
  if (on != TrainOn::denoised && !denoiser.empty())
    throw ArgumentError("denoiser", "is only used to train on denoised images (got '" + denoiser + "')");
  if (on == TrainOn::clean && !noise.empty())
    throw ArgumentError("noise", "is only used to train on noisy or denoised images (got '" + noise + "')");
  if (!noise.empty()) parse_noise(noise);
  if (shift_augment < 0)
    throw ArgumentError("shift_augment",
                        "must be 0 (no augmentation) or a positive shift in pixels (got " + std::to_string(shift_augment) + ")");
  validate_schedule(epochs, batch_size, lr);
  validate_data_options(data);
  if (data.dataset.rfind(kFolderPrefix, 0) == 0)
    throw ArgumentError("dataset", "must be a labelled dataset for a classifier, mnist or fashion-mnist (got '" +
                                       data.dataset + "', whose pictures carry no labels)");
  controls.validate();
}

}  // namespace dn

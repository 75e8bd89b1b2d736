#include "train/denoiser_config.hpp"

#include <fmt/core.h>

#include "core/error.hpp"
#include "core/json_integer.hpp"
#include "data/noise.hpp"
#include "nn/models.hpp"
#include "train/losses.hpp"
#include "train/optimizers.hpp"
#include "train/schedule.hpp"

namespace dn {

nlohmann::json DenoiserConfig::to_json() const {
  nlohmann::json j = {{"task", "denoise"},
          {"model", model},
          {"activation", activation},
          {"optimizer", optimizer},
          {"lr", lr ? *lr : make_optimizer(optimizer, lr)->learning_rate},
          {"loss", loss},
          {"epochs", epochs},
          {"batch_size", batch_size},
          {"noise", noise},
          {"seed", seed},
          {"on_nan", on_nan_name(on_nan)}};
  // Only when set: configs without it (every run before it existed) stay the same, so
  // their checkpoints resume and their sweeps count as finished.
  if (train_noise_range) j["train_noise_range"] = *train_noise_range;
  if (!init_from.empty()) j["init_from"] = init_from;
  if (fresh_noise) j["fresh_noise"] = true;
  write_data_options(data, j);
  controls.add_to_json(j);
  return j;
}

DenoiserConfig DenoiserConfig::from_json(const nlohmann::json& j) {
  DenoiserConfig c;
  try {
    c.model = j.at("model").get<std::string>();
    c.activation = j.at("activation").get<std::string>();
    c.optimizer = j.at("optimizer").get<std::string>();
    if (!j.at("lr").is_null()) c.lr = j.at("lr").get<double>();
    c.loss = j.at("loss").get<std::string>();
    c.epochs = json_integer<int>(j.at("epochs"), "epochs");
    c.batch_size = json_integer<int>(j.at("batch_size"), "batch_size");
    c.noise = j.at("noise").get<std::string>();
    // Absent in run folders written before the option existed.
    if (j.contains("train_noise_range") && !j["train_noise_range"].is_null())
      c.train_noise_range = j["train_noise_range"].get<std::array<double, 2>>();
    c.init_from = j.value("init_from", std::string());
    c.fresh_noise = j.value("fresh_noise", false);
    c.data = read_data_options(j);
    c.seed = json_integer<std::uint64_t>(j.at("seed"), "seed");
    c.data.seed = c.seed;  // the folder: dataset's crops follow the run's seed
    c.on_nan = parse_on_nan(j.at("on_nan").get<std::string>());
    c.controls = TrainingControls::from_json(j);
  } catch (const nlohmann::json::exception& e) {
    throw DataError(std::string("config.json: ") + e.what());
  } catch (const UsageError& e) {
    throw DataError(std::string("config.json: ") + e.what());
  }
  return c;
}

void DenoiserConfig::validate() const {
  validate_schedule(epochs, batch_size, lr);
  validate_data_options(data);
  controls.validate();
  const NoiseSpec spec = parse_noise(noise);
  if (train_noise_range) {
    const auto [lo, hi] = *train_noise_range;
    const std::string range = fmt::format("{},{}", lo, hi);
    if (spec.kind == NoiseSpec::Kind::none)
      throw ArgumentError("train_noise_range", range + ": noise 'none' has no level to range over");
    if (!(lo <= hi)) throw ArgumentError("train_noise_range", range + ": the first level must not exceed the second");
    for (double level : {lo, hi}) {
      NoiseSpec at = spec;
      at.param = level;
      try {
        parse_noise(at.str());
      } catch (const UsageError& e) {
        throw ArgumentError("train_noise_range", range + ": " + e.what());
      }
    }
  }
  make_loss(loss);
  make_optimizer(optimizer, lr);
  // A denoiser's output is an image of its input's size; a classifier's is not.
  const auto built = make_model({model, activation, 28, 28}, seed);
  if (built->output_shape() != Shape{28, 28})
    throw ArgumentError("model", "must be a denoiser, whose output is an image of its input's size (got '" + model +
                                     "', whose output is " + shape_str(built->output_shape()) + ")");
}

}  // namespace dn

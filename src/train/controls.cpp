#include "train/controls.hpp"

#include <fmt/core.h>

#include "core/error.hpp"
#include "core/json_integer.hpp"
#include "train/keras_callbacks.hpp"

namespace dn {

void TrainingControls::add_to_json(nlohmann::json& j) const {
  j["early_stopping"] = early_stopping;
  j["save_best"] = save_best;
  j["lr_schedule"] = lr_schedule_name(lr_schedule);
  if (lr_schedule == LrSchedule::plateau)
    j["lr_plateau"] = {{"monitor", "val_loss"},
                       {"factor", ReduceLROnPlateau::kFactor},
                       {"patience", ReduceLROnPlateau::kPatience},
                       {"min_delta", ReduceLROnPlateau::kMinDelta}};
  j["csv_log"] = csv_log;
  j["verbose"] = verbose;
}

TrainingControls TrainingControls::from_json(const nlohmann::json& j) {
  TrainingControls c;
  c.early_stopping = json_integer_or<int>(j, "early_stopping", 0);
  c.save_best = j.value("save_best", false);
  c.lr_schedule = parse_lr_schedule(j.value("lr_schedule", std::string("constant")));
  c.csv_log = j.value("csv_log", false);
  c.verbose = json_integer_or<int>(j, "verbose", 1);
  return c;
}

void TrainingControls::validate() const {
  if (early_stopping < 0)
    throw ArgumentError("early_stopping", fmt::format("must be a patience of >= 1 epochs, or 0 for none (got {})",
                                                      early_stopping));
  if (verbose < 0 || verbose > 2)
    throw ArgumentError("verbose", fmt::format("must be 0 (silent), 1 (progress bar) or 2 (one line per epoch) (got {})",
                                               verbose));
}

ControlCallbacks make_control_callbacks(const TrainingControls& controls, double base_lr, int epochs,
                                        const std::filesystem::path& run_dir,
                                        const std::function<void(const History& so_far)>& save_best,
                                        const std::vector<Callback*>& callbacks) {
  ControlCallbacks out;
  if (controls.lr_schedule == LrSchedule::cosine)
    out.owned.push_back(std::make_unique<LearningRateScheduler>(controls.lr_schedule, base_lr, epochs));
  if (controls.lr_schedule == LrSchedule::plateau) out.owned.push_back(std::make_unique<ReduceLROnPlateau>());
  if (controls.early_stopping > 0) {
    auto early = std::make_unique<EarlyStopping>(controls.early_stopping);
    out.early_stopping = early.get();
    out.owned.push_back(std::move(early));
  }
  if (controls.save_best) out.owned.push_back(std::make_unique<ModelCheckpoint>(save_best));
  if (controls.csv_log) out.owned.push_back(std::make_unique<CSVLogger>(run_dir / kHistoryCsvFile));
  for (auto& c : out.owned) out.all.push_back(c.get());
  out.all.insert(out.all.end(), callbacks.begin(), callbacks.end());
  return out;
}

}  // namespace dn

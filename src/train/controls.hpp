#pragma once
// Keras's training callbacks as settings that a run's config.json records, shared
// by denoisers and classifiers. The defaults add nothing to fit: a run without
// them trains exactly as before they existed, and config.json files written
// before them load with the defaults.
#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "train/callbacks.hpp"
#include "train/schedule.hpp"

namespace dn {

struct TrainingControls {
  // EarlyStopping(monitor="val_loss", patience, restore_best_weights=True); 0 = off.
  int early_stopping = 0;
  // ModelCheckpoint(save_best_only=True): RUN/best/ holds the run folder of the
  // epoch with the lowest val_loss so far.
  bool save_best = false;
  LrSchedule lr_schedule = LrSchedule::constant;
  // CSVLogger: RUN/history.csv gets a row as each epoch ends.
  bool csv_log = false;
  // Keras's fit(verbose=): 0 silent, 1 progress bar, 2 one line per epoch. The
  // program chooses its progress output from it; the library prints nothing.
  int verbose = 1;

  void add_to_json(nlohmann::json& j) const;                // early_stopping, save_best, lr_schedule, csv_log, verbose
  static TrainingControls from_json(const nlohmann::json& j);  // missing keys: the defaults (older run folders)
  void validate() const;                                    // ArgumentError naming the argument and its value
  // The same without the controls that write files (save_best, csv_log), for the
  // processes of a data-parallel job other than the one that writes the run folder.
  TrainingControls without_files() const {
    TrainingControls c = *this;
    c.save_best = c.csv_log = false;
    return c;
  }
};

inline constexpr const char* kBestRunFolder = "best";
inline constexpr const char* kHistoryCsvFile = "history.csv";

// The callbacks the controls ask for, to run before the caller's own (so that
// the progress output sees their decisions). save_best: how to write RUN/best/
// from the history so far. Keeps them alive with the returned vector.
struct ControlCallbacks {
  std::vector<std::unique_ptr<Callback>> owned;
  std::vector<Callback*> all;  // owned, then the caller's
  class EarlyStopping* early_stopping = nullptr;  // among owned, when asked for
};
ControlCallbacks make_control_callbacks(const TrainingControls& controls, double base_lr, int epochs,
                                        const std::filesystem::path& run_dir,
                                        const std::function<void(const History& so_far)>& save_best,
                                        const std::vector<Callback*>& callbacks);

}  // namespace dn

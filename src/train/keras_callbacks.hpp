#pragma once
// Keras's training callbacks (keras.callbacks), on the hooks of train/callbacks.hpp.
// Each monitors val_loss, as Keras's do by default.
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "core/tensor.hpp"
#include "train/callbacks.hpp"
#include "train/schedule.hpp"

namespace dn {

// Stops training once val_loss has not improved for `patience` epochs, and at the
// end of training puts back the weights of the epoch with the lowest val_loss
// (restore_best_weights=True; as Keras 3 does, also when training ran to its last
// epoch, so the saved model is always the best one seen).
class EarlyStopping final : public Callback {
 public:
  explicit EarlyStopping(int patience, double min_delta = 0.0);
  void on_train_begin(const TrainBegin& begin) override;
  void on_epoch_end(const EpochLog& log) override;
  void on_train_end(const History& history) override;

  int best_epoch() const { return best_epoch_; }
  int stopped_epoch() const { return stopped_epoch_; }  // 0 when training was not stopped by it
  bool restored() const { return restored_; }
  // The weights of the best epoch so far, which checkpoints keep (empty before one).
  const std::vector<Tensor>& best_weights() const { return best_weights_; }
  // A resumed run's: its checkpoint's best weights, taken at on_train_begin when the
  // replayed history's best epoch is not its last (the model holds the last's).
  void resume_best_weights(std::vector<Tensor> weights) { resumed_best_weights_ = std::move(weights); }

 private:
  // The decision for one epoch's val_loss: true when it is a new best.
  bool improved(double val_loss);

  int patience_;
  double min_delta_;
  std::vector<Tensor> resumed_best_weights_;
  int epochs_ = 0, wait_ = 0, best_epoch_ = 0, stopped_epoch_ = 0;
  double best_ = std::numeric_limits<double>::infinity();
  std::vector<Tensor> best_weights_;
  bool restored_ = false;
};

// Multiplies the learning rate by `factor` once val_loss has not improved by
// min_delta for `patience` epochs (Keras's defaults are factor 0.1, patience 10,
// made for long runs; ours train for tens of epochs, hence 0.5 and 2).
class ReduceLROnPlateau final : public Callback {
 public:
  static constexpr double kFactor = 0.5, kMinDelta = 1e-4;
  static constexpr int kPatience = 2;
  explicit ReduceLROnPlateau(double factor = kFactor, int patience = kPatience, double min_delta = kMinDelta,
                             double min_lr = 0.0);
  void on_train_begin(const TrainBegin& begin) override;
  void on_epoch_end(const EpochLog& log) override;

 private:
  // The rate after an epoch with this val_loss, given the rate it trained with.
  double next_lr(double val_loss, double lr);

  double factor_, min_delta_, min_lr_;
  int patience_, wait_ = 0;
  double best_ = std::numeric_limits<double>::infinity();
};

// Sets the learning rate at each epoch's start from a schedule (Keras's
// LearningRateScheduler): scheduled_lr(schedule, base, epoch, epochs).
class LearningRateScheduler final : public Callback {
 public:
  LearningRateScheduler(LrSchedule schedule, double base, int epochs);
  void on_epoch_begin(int epoch) override;

 private:
  LrSchedule schedule_;
  double base_;
  int epochs_;
};

// Calls save with the history so far whenever val_loss reaches a new low
// (ModelCheckpoint with save_best_only=True; the caller decides where it goes).
class ModelCheckpoint final : public Callback {
 public:
  explicit ModelCheckpoint(std::function<void(const History& so_far)> save);
  void on_train_begin(const TrainBegin& begin) override;
  void on_epoch_end(const EpochLog& log) override;

 private:
  std::function<void(const History&)> save_;
  History so_far_;
  double best_ = std::numeric_limits<double>::infinity();
};

// Writes a CSV row per epoch as it ends (Keras's CSVLogger): epoch, loss, the
// metric, val_loss, val_metric, lr, seconds. Flushed at every row, so a run that
// is stopped keeps the epochs it finished.
class CSVLogger final : public Callback {
 public:
  explicit CSVLogger(std::filesystem::path path);
  ~CSVLogger() override;
  void on_train_begin(const TrainBegin& begin) override;
  void on_epoch_end(const EpochLog& log) override;
  void on_train_end(const History& history) override;

 private:
  void write_row(const EpochLog& log);

  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
};

}  // namespace dn

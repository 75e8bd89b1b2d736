#pragma once
// Keras-style callbacks: fit reports its progress through these hooks and
// prints nothing itself; a program passes a ProgbarLogger (train/progress.hpp)
// to show it. Every hook does nothing unless overridden.
#include <cstddef>
#include <stdexcept>

#include <string>

#include "train/history.hpp"

namespace dn {

class Layer;
class Optimizer;

// What fit shares with its callbacks during one run, as Keras's callbacks share
// `self.model`. Setting stop_training ends training after the current epoch,
// as Keras's `model.stop_training = True` does; fit sets it itself when the loss
// becomes NaN or infinite under OnNaN::stop.
struct FitContext {
  bool stop_training = false;
  // Ends training after the current step, leaving the epoch unfinished (no
  // on_epoch_end, no EpochLog): how a program stops at an interrupt. The run can
  // be resumed from the last finished epoch.
  bool stop_now = false;
  std::string stop_reason;         // why a callback stopped training, for the progress output (History::stop_reason)
  Layer* model = nullptr;          // the model being trained (its weights, for EarlyStopping)
  Optimizer* optimizer = nullptr;  // its optimizer (the learning rate, for the schedules)
};

struct TrainBegin {
  std::size_t samples = 0, validation_samples = 0;
  int epochs = 0, batch_size = 0;
  Metric metric = Metric::binary_accuracy;
  // A resumed run's finished epochs (its checkpoint's history), null for a fresh run.
  // Callbacks with state replay them, so a resumed run decides as the uninterrupted
  // one would have (the plateau's count and rate, early stopping's best epoch).
  const History* resumed = nullptr;
};

// Running means over the current epoch's batches so far, weighted by batch size.
struct Logs {
  double loss = 0, metric = 0;
};

class Callback {
 public:
  virtual ~Callback() = default;

  virtual void on_train_begin(const TrainBegin& /*begin*/) {}
  virtual void on_epoch_begin(int /*epoch*/) {}  // 1-based
  // seen: samples trained on so far this epoch.
  virtual void on_batch_end(std::size_t /*seen*/, const Logs& /*logs*/) {}
  virtual void on_epoch_end(const EpochLog& /*log*/) {}
  virtual void on_train_end(const History& /*history*/) {}

  // fit points this at its context before on_train_begin, for the run's length.
  void set_context(FitContext* context) { context_ = context; }

 protected:
  FitContext& context() const {
    if (!context_) throw std::logic_error("Callback::context: called outside fit");
    return *context_;
  }

 private:
  FitContext* context_ = nullptr;
};

}  // namespace dn

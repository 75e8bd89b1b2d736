#pragma once
// Keras-like progress output for fit(), as a callback:
//   Train on 55000 samples, validate on 5000 samples
//   Epoch 3/10
//   55000/55000 [==============================] - 2s 36us/sample - loss: 0.1021 - ...
// On a terminal the bar moves during the epoch (redrawn in place, at most ~10
// times a second, with the time left: "- ETA: 3s"); otherwise only the finished
// line is printed. With one_line_per_epoch (Keras's verbose=2) there is no bar:
//   Epoch 3/10 - 2.0s 36us/sample - loss: 0.1021 - ...
#include <chrono>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "train/callbacks.hpp"

namespace dn {

// "[3/11, ETA 12s]": k of n steps done in `elapsed` seconds, and the time the
// rest would take at that pace (none before the first step or after the last).
std::string progress_counter(std::size_t k, std::size_t n, double elapsed);

class ProgbarLogger final : public Callback {
 public:
  explicit ProgbarLogger(std::FILE* out, bool one_line_per_epoch = false);

  void on_train_begin(const TrainBegin& begin) override;
  void on_epoch_begin(int epoch) override;
  void on_batch_end(std::size_t seen, const Logs& logs) override;
  void on_epoch_end(const EpochLog& log) override;
  void on_train_end(const History& history) override;

 private:
  using Values = std::vector<std::pair<std::string, double>>;
  std::string line(std::size_t done, const Values& values) const;

  std::FILE* out_;
  bool tty_;
  bool one_line_;
  TrainBegin run_;
  int epoch_ = 0;
  std::chrono::steady_clock::time_point epoch_start_, last_draw_;
};

}  // namespace dn

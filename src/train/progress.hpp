#pragma once
// Keras-like progress output for fit(), as a callback:
//   Train on 55000 samples, validate on 5000 samples
//   Epoch 3/10
//   55000/55000 [==============================] - 2s 36us/sample - loss: 0.1021 - ...
// On a terminal the bar moves during the epoch (redrawn in place, at most ~10
// times a second); otherwise only the finished line is printed.
#include <chrono>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "train/callbacks.hpp"

namespace dn {

class ProgbarLogger final : public Callback {
 public:
  explicit ProgbarLogger(std::FILE* out);

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
  TrainBegin run_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace dn

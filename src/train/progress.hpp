#pragma once
// Keras-like progress output for fit():
//   Epoch 3/10
//   55000/55000 [==============================] - 2s 36us/sample - loss: 0.1021 - ...
// On a terminal the bar moves during the epoch (redrawn in place, at most ~10
// times a second); otherwise only the finished line is printed.
#include <chrono>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace dn {

class Progress {
 public:
  // verbose 0 prints nothing; 1 prints the bar/lines.
  Progress(int verbose, std::FILE* out = stdout);
  void begin_epoch(int epoch, int epochs, std::size_t samples);
  void update(std::size_t done, const std::vector<std::pair<std::string, double>>& values);
  void end_epoch(double seconds, const std::vector<std::pair<std::string, double>>& values);
  void message(const std::string& line);

 private:
  std::string line(std::size_t done, const std::vector<std::pair<std::string, double>>& values) const;
  int verbose_;
  std::FILE* out_;
  bool tty_;
  std::size_t total_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace dn

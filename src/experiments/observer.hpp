#pragma once
// How an experiment reports while it runs, without printing: lines for the
// program to show, the fit callbacks (a progress bar) for each run it trains in the
// foreground, and when to stop every training it runs, foreground or side by side.
#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "train/callbacks.hpp"

namespace dn {

struct ExperimentObserver {
  std::function<void(const std::string&)> log;  // one line, without its newline; empty: silent
  std::vector<Callback*> fit_callbacks;
  // Asked after every training step of every run: true stops the run (InterruptedError,
  // its checkpoint kept), as a program does on Ctrl-C. Empty: never. Called from the
  // threads that train side by side, so it must be thread-safe.
  std::function<bool()> stop_requested;

  // This observer, whose stop_requested is also true once flag is set (which must
  // outlive the copy): for work side by side that fails together (experiments/beside.hpp).
  ExperimentObserver or_when(const std::atomic<bool>& flag) const {
    ExperimentObserver o = *this;
    o.stop_requested = [flag = &flag, outer = stop_requested] { return flag->load() || (outer && outer()); };
    return o;
  }

  // A block of text may end in its own newline; the one log adds is enough.
  void say(const std::string& text) const {
    if (log) log(!text.empty() && text.back() == '\n' ? text.substr(0, text.size() - 1) : text);
  }
};

// Sets stop_now (the run stops after this step) once `when` returns true.
class StopWhen final : public Callback {
 public:
  explicit StopWhen(std::function<bool()> when) : when_(std::move(when)) {}
  void on_batch_end(std::size_t /*seen*/, const Logs& /*logs*/) override {
    if (when_ && when_()) context().stop_now = true;
  }

 private:
  std::function<bool()> when_;
};

// The callbacks of one training: the observer's fit callbacks (with_progress) and a
// StopWhen of its own, since a callback holds its fit's context and side-by-side runs
// cannot share one.
class RunCallbacks {
 public:
  explicit RunCallbacks(const ExperimentObserver& observer, bool with_progress = true)
      : stop_(observer.stop_requested) {
    if (with_progress) list_ = observer.fit_callbacks;
    list_.push_back(&stop_);
  }
  RunCallbacks(const RunCallbacks&) = delete;
  RunCallbacks& operator=(const RunCallbacks&) = delete;
  const std::vector<Callback*>& list() const { return list_; }

 private:
  StopWhen stop_;
  std::vector<Callback*> list_;
};

}  // namespace dn

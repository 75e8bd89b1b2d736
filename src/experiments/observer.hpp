#pragma once
// How an experiment reports while it runs, without printing: lines for the
// program to show, and the fit callbacks (a progress bar) for each run it trains
// in the foreground.
#include <functional>
#include <string>
#include <vector>

#include "train/callbacks.hpp"

namespace dn {

struct ExperimentObserver {
  std::function<void(const std::string&)> log;  // one line, without its newline; empty: silent
  std::vector<Callback*> fit_callbacks;

  // A block of text may end in its own newline; the one log adds is enough.
  void say(const std::string& text) const {
    if (log) log(!text.empty() && text.back() == '\n' ? text.substr(0, text.size() - 1) : text);
  }
};

}  // namespace dn

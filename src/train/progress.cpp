#include "train/progress.hpp"

#include <unistd.h>

#include <cmath>

#include <fmt/core.h>

namespace dn {

Progress::Progress(int verbose, std::FILE* out)
    : verbose_(verbose), out_(out), tty_(::isatty(::fileno(out)) != 0) {}

static std::string values_str(const std::vector<std::pair<std::string, double>>& values) {
  std::string s;
  for (auto& [name, v] : values) s += std::isfinite(v) ? fmt::format(" - {}: {:.4f}", name, v) : fmt::format(" - {}: nan", name);
  return s;
}

std::string Progress::line(std::size_t done, const std::vector<std::pair<std::string, double>>& values) const {
  const int width = 30;
  const int filled = total_ ? static_cast<int>(width * done / total_) : width;
  std::string bar(static_cast<std::size_t>(filled), '=');
  if (filled < width) bar += '>';
  bar.resize(width, '.');
  const int digits = static_cast<int>(std::to_string(total_).size());
  return fmt::format("{:>{}}/{} [{}]", done, digits, total_, bar) + values_str(values);
}

void Progress::begin_epoch(int epoch, int epochs, std::size_t samples) {
  total_ = samples;
  start_ = last_draw_ = std::chrono::steady_clock::now();
  if (verbose_) {
    fmt::print(out_, "Epoch {}/{}\n", epoch, epochs);
    std::fflush(out_);
  }
}

void Progress::update(std::size_t done, const std::vector<std::pair<std::string, double>>& values) {
  if (!verbose_ || !tty_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  fmt::print(out_, "\r{}", line(done, values));
  std::fflush(out_);
}

void Progress::end_epoch(double seconds, const std::vector<std::pair<std::string, double>>& values) {
  if (!verbose_) return;
  const double us_per_sample = total_ ? seconds * 1e6 / static_cast<double>(total_) : 0.0;
  // Keras prints whole seconds; we are fast enough that tenths matter.
  const std::string text = fmt::format("{} - {:.1f}s {:.0f}us/sample", line(total_, {}), seconds, us_per_sample);
  fmt::print(out_, "{}{}{}\n", tty_ ? "\r\033[K" : "", text, values_str(values));
  std::fflush(out_);
}

void Progress::message(const std::string& text) {
  if (!verbose_) return;
  fmt::print(out_, "{}\n", text);
  std::fflush(out_);
}

}  // namespace dn

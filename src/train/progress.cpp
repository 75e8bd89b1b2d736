#include "train/progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>

#include <fmt/core.h>

namespace dn {

ProgbarLogger::ProgbarLogger(std::FILE* out, bool one_line_per_epoch)
    : out_(out), tty_(::isatty(::fileno(out)) != 0), one_line_(one_line_per_epoch) {}

// "3s", "1:05", "1:02:03", as Keras writes the time left.
static std::string eta_str(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}:{:02}", s / 60, s % 60);
  return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
}

static std::string values_str(const std::vector<std::pair<std::string, double>>& values) {
  std::string s;
  for (auto& [name, v] : values) s += std::isfinite(v) ? fmt::format(" - {}: {:.4f}", name, v) : fmt::format(" - {}: nan", name);
  return s;
}

std::string ProgbarLogger::line(std::size_t done, const Values& values) const {
  const int width = 30;
  const std::size_t total = run_.samples;
  const int filled = total ? static_cast<int>(width * done / total) : width;
  std::string bar(static_cast<std::size_t>(filled), '=');
  if (filled < width) bar += '>';
  bar.resize(width, '.');
  const int digits = static_cast<int>(std::to_string(total).size());
  return fmt::format("{:>{}}/{} [{}]", done, digits, total, bar) + values_str(values);
}

std::string progress_counter(std::size_t k, std::size_t n, double elapsed) {
  if (k == 0 || k >= n) return fmt::format("[{}/{}]", k, n);
  return fmt::format("[{}/{}, ETA {}]", k, n, eta_str(elapsed / double(k) * double(n - k)));
}

void ProgbarLogger::on_train_begin(const TrainBegin& begin) {
  run_ = begin;
  fmt::print(out_, "Train on {} samples, validate on {} samples\n", begin.samples, begin.validation_samples);
  std::fflush(out_);
}

void ProgbarLogger::on_epoch_begin(int epoch) {
  epoch_ = epoch;
  epoch_start_ = last_draw_ = std::chrono::steady_clock::now();
  if (one_line_) return;
  fmt::print(out_, "Epoch {}/{}\n", epoch, run_.epochs);
  std::fflush(out_);
}

void ProgbarLogger::on_batch_end(std::size_t seen, const Logs& logs) {
  if (!tty_ || one_line_ || seen == 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - epoch_start_).count();
  const double eta = elapsed / static_cast<double>(seen) * static_cast<double>(run_.samples - std::min(seen, run_.samples));
  fmt::print(out_, "\r{} - ETA: {}", line(seen, {}), eta_str(eta));
  fmt::print(out_, "{}\033[K", values_str({{"loss", logs.loss}, {metric_name(run_.metric), logs.metric}}));
  std::fflush(out_);
}

void ProgbarLogger::on_epoch_end(const EpochLog& log) {
  const std::size_t total = run_.samples;
  const double us_per_sample = total ? log.seconds * 1e6 / static_cast<double>(total) : 0.0;
  // Keras prints whole seconds; we are fast enough that tenths matter.
  const std::string head = one_line_ ? fmt::format("Epoch {}/{}", epoch_, run_.epochs) : line(total, {});
  const std::string text = fmt::format("{} - {:.1f}s {:.0f}us/sample", head, log.seconds, us_per_sample);
  const std::string metric = metric_name(run_.metric);
  fmt::print(out_, "{}{}{}\n", tty_ && !one_line_ ? "\r\033[K" : "", text,
             values_str({{"loss", log.loss}, {metric, log.metric}, {"val_loss", log.val_loss},
                         {"val_" + metric, log.val_metric}}));
  std::fflush(out_);
}

void ProgbarLogger::on_train_end(const History& history) {
  if (history.diverged && history.stopped)
    fmt::print(out_, "Stopped: the loss became NaN or infinite.\n");
  else if (!history.stop_reason.empty())
    fmt::print(out_, "{}.\n", history.stop_reason);
  std::fflush(out_);
}

}  // namespace dn

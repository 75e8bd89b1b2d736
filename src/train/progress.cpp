#include "train/progress.hpp"

#include <unistd.h>

#include <cmath>

#include <fmt/core.h>

namespace dn {

ProgbarLogger::ProgbarLogger(std::FILE* out) : out_(out), tty_(::isatty(::fileno(out)) != 0) {}

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

void ProgbarLogger::on_train_begin(const TrainBegin& begin) {
  run_ = begin;
  fmt::print(out_, "Train on {} samples, validate on {} samples\n", begin.samples, begin.validation_samples);
  std::fflush(out_);
}

void ProgbarLogger::on_epoch_begin(int epoch) {
  last_draw_ = std::chrono::steady_clock::now();
  fmt::print(out_, "Epoch {}/{}\n", epoch, run_.epochs);
  std::fflush(out_);
}

void ProgbarLogger::on_batch_end(std::size_t seen, const Logs& logs) {
  if (!tty_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  fmt::print(out_, "\r{}", line(seen, {{"loss", logs.loss}, {metric_name(run_.metric), logs.metric}}));
  std::fflush(out_);
}

void ProgbarLogger::on_epoch_end(const EpochLog& log) {
  const std::size_t total = run_.samples;
  const double us_per_sample = total ? log.seconds * 1e6 / static_cast<double>(total) : 0.0;
  // Keras prints whole seconds; we are fast enough that tenths matter.
  const std::string text = fmt::format("{} - {:.1f}s {:.0f}us/sample", line(total, {}), log.seconds, us_per_sample);
  const std::string metric = metric_name(run_.metric);
  fmt::print(out_, "{}{}{}\n", tty_ ? "\r\033[K" : "", text,
             values_str({{"loss", log.loss}, {metric, log.metric}, {"val_loss", log.val_loss},
                         {"val_" + metric, log.val_metric}}));
  std::fflush(out_);
}

void ProgbarLogger::on_train_end(const History& history) {
  if (!(history.diverged && history.stopped)) return;
  fmt::print(out_, "Stopped: the loss became NaN or infinite.\n");
  std::fflush(out_);
}

}  // namespace dn

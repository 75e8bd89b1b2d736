#include "options.hpp"

#include <omp.h>

#include <cstdio>

#include <fmt/core.h>

#include "core/error.hpp"
#include "data/noise.hpp"
#include "data/registry.hpp"

namespace dn::app {

void add_data_flags(CLI::App& cmd, DataOptions& data) {
  cmd.add_option("--dataset", data.dataset, datasets_help())
      ->check(CLI::Validator(
          [](std::string& name) { return is_dataset_name(name) ? std::string() : "unknown dataset '" + name + "'"; },
          "DATASET"))
      ->capture_default_str();
  cmd.add_option("--data-dir", data.data_dir, "folder with the four IDX files (raw or .gz); default: data/<dataset>");
  cmd.add_option("--limit", data.limit, "keep the first N samples of each split (0 = all)")->capture_default_str();
  cmd.add_option("--patch", data.patch, "folder: datasets: side of the random square crops")->capture_default_str();
  cmd.add_flag("--flips", data.flips, "folder: datasets: flip each crop at random (seeded)");
  cmd.add_option("--validation-dir", data.validation_dir,
                 "folder: datasets: validation pictures (default: a seeded twelfth of the folder's)");
}

CLI::Option* add_noise_flag(CLI::App& cmd, std::string& noise, const std::string& what) {
  return cmd.add_option("--noise", noise, what + ": " + noise_spec_help());
}

void add_threads_flag(CLI::App& cmd, int& threads) {
  cmd.add_option("--threads", threads, "worker threads (0 = all cores)")->capture_default_str();
}

void apply_threads(int threads) {
  if (threads < 0) throw ArgumentError("threads", fmt::format("must be 0 (all cores) or positive (got {})", threads));
  if (threads > 0) omp_set_num_threads(threads);
}

ProgbarLogger& progress_bar() {
  static ProgbarLogger bar(stdout);
  return bar;
}

ExperimentObserver printing_observer() {
  ExperimentObserver observer;
  observer.log = [](const std::string& line) {
    fmt::print("{}\n", line);
    std::fflush(stdout);
  };
  observer.fit_callbacks = {&progress_bar()};
  return observer;
}

}  // namespace dn::app

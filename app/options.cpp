#include "options.hpp"

#include <omp.h>

#include "core/error.hpp"
#include "data/registry.hpp"

namespace dn::app {

void add_data_flags(CLI::App& cmd, DataOptions& data) {
  cmd.add_option("--dataset", data.dataset, datasets_help())
      ->check(CLI::IsMember(dataset_names()))
      ->capture_default_str();
  cmd.add_option("--data-dir", data.data_dir, "folder with the four IDX files (raw or .gz); default: data/<dataset>");
  cmd.add_option("--limit", data.limit, "keep the first N samples of each split (0 = all)")->capture_default_str();
}

void add_threads_flag(CLI::App& cmd, int& threads) {
  cmd.add_option("--threads", threads, "worker threads (0 = all cores)")->capture_default_str();
}

void apply_threads(int threads) {
  if (threads < 0) throw UsageError("--threads must be 0 (all cores) or positive");
  if (threads > 0) omp_set_num_threads(threads);
}

}  // namespace dn::app

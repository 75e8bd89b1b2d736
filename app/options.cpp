#include "options.hpp"

#include <omp.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include <fmt/core.h>

#include "core/error.hpp"
#include "data/noise.hpp"
#include "dist/communicator.hpp"
#include "data/registry.hpp"
#include "run/run_writer.hpp"

namespace dn::app {

CLI::Validator non_negative() {
  return CLI::Validator(
      [](std::string& text) {
        return text.starts_with('-') ? "must be >= 0 (got " + text + ")" : std::string();
      },
      "N >= 0");
}

void add_data_flags(CLI::App& cmd, DataOptions& data) {
  cmd.add_option("--dataset", data.dataset, datasets_help())
      ->check(CLI::Validator(
          [](std::string& name) { return is_dataset_name(name) ? std::string() : "unknown dataset '" + name + "'"; },
          "DATASET"))
      ->capture_default_str();
  cmd.add_option("--data-dir", data.data_dir, "folder with the four IDX files (raw or .gz); default: data/<dataset>");
  cmd.add_option("--limit", data.limit, "keep the first N samples of each split (0 = all)")
      ->check(non_negative())
      ->capture_default_str();
  cmd.add_option("--patch", data.patch, "folder: datasets: side of the random square crops")->capture_default_str();
  cmd.add_flag("--flips", data.flips, "folder: datasets: flip each crop at random (seeded)");
  cmd.add_option("--validation-dir", data.validation_dir,
                 "folder: datasets: validation pictures (default: a seeded twelfth of the folder's)");
}

CLI::Option* add_noise_flag(CLI::App& cmd, std::string& noise, const std::string& what) {
  return cmd.add_option("--noise", noise, what + ": " + noise_spec_help());
}

void add_training_control_flags(CLI::App& cmd, TrainingControls& controls, DataOptions& data) {
  cmd.add_option("--early-stopping", controls.early_stopping,
                 "stop once val_loss has not improved for this many epochs, keeping the best epoch's weights "
                 "(0 = train every epoch)")
      ->capture_default_str();
  cmd.add_flag("--save-best", controls.save_best,
               "keep the run folder of the epoch with the lowest val_loss in RUN/best/ as training goes");
  cmd.add_option_function<std::string>(
         "--lr-schedule", [&controls](const std::string& s) { controls.lr_schedule = parse_lr_schedule(s); },
         "constant; cosine: decays towards 0 over the epochs; plateau: halves the rate when val_loss has not "
         "improved for 2 epochs")
      ->default_str("constant");
  cmd.add_option_function<double>(
      "--validation-split", [&data](double f) { data.validation_split = f; },
      "the last fraction F of the training file validates, as Keras's validation_split (default: the last "
      "twelfth, 5,000 of MNIST's 60,000)");
  cmd.add_flag("--csv-log", controls.csv_log, "also write RUN/history.csv, a row per epoch as it ends");
}

void add_verbose_flag(CLI::App& cmd, int& verbose) {
  cmd.add_option("--verbose", verbose, "0: silent, 1: progress bar, 2: one line per epoch")
      ->check(CLI::IsMember({0, 1, 2}))
      ->capture_default_str();
}

std::vector<Callback*> progress_callbacks(int verbose) {
  static ProgbarLogger one_line(stdout, true);
  if (verbose == 0) return {};
  if (verbose == 2) return {&one_line};
  return {&progress_bar()};
}

std::vector<Callback*> training_callbacks(int verbose) {
  const dist::Communicator& world = dist::world();
  if (world.rank() != 0) return {};
  std::vector<Callback*> callbacks = progress_callbacks(verbose);
  if (world.size() == 1) callbacks.push_back(&watch_interrupts());
  return callbacks;
}

void print_data_parallel_report() {
  const dist::Communicator& world = dist::world();
  if (world.size() == 1 || world.rank() != 0) return;
  const dist::CollectiveStats& s = world.stats();
  fmt::print("Data-parallel over {} processes: {} allreduces, {:.3f} ms each on average, {:.2f} s in all "
             "(rank 0, waiting for the slowest rank included)\n",
             world.size(), s.allreduce_calls, s.allreduce_calls ? 1e3 * s.allreduce_seconds / double(s.allreduce_calls) : 0.0,
             s.allreduce_seconds);
}

std::string default_run_dir() {
  const std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "runs/%Y%m%d-%H%M%S", std::localtime(&now));
  // Two runs started in the same second get their own folders.
  std::filesystem::path dir = buf;
  for (int k = 2; std::filesystem::exists(dir) || std::filesystem::exists(staging_folder(dir)); ++k)
    dir = fmt::format("{}-{}", buf, k);
  return dir.string();
}

void add_threads_flag(CLI::App& cmd, int& threads) {
  cmd.add_option("--threads", threads, "worker threads (0 = all cores)")->capture_default_str();
}

void apply_threads(int threads) {
  if (threads < 0) throw ArgumentError("threads", fmt::format("must be 0 (all cores) or positive (got {})", threads));
  // Far more threads than cores only slows the work down (and tens of thousands
  // exhaust the OpenMP runtime): more than 4 per core are capped, with a note.
  const int cap = 4 * omp_get_num_procs();
  if (threads > cap) {
    fmt::print(stderr, "denoise: note: --threads {} capped to {} (4 per core on this machine)\n", threads, cap);
    threads = cap;
  }
  if (threads > 0) omp_set_num_threads(threads);
}

void add_run_flags(CLI::App& cmd, RunFlags& flags, const std::string& out_help) {
  auto* out = cmd.add_option("--out", flags.out, out_help);
  auto* overwrite = cmd.add_flag("--overwrite", flags.overwrite,
                                 "replace the run at --out (whole, once the new one is complete)");
  cmd.add_option("--resume", flags.resume,
                 "continue the interrupted run in this folder from its last finished epoch, with the settings it "
                 "started with (other training flags are ignored)")
      ->excludes(out)
      ->excludes(overwrite);
}

namespace {

std::atomic<int> caught_signal{0};

extern "C" void on_interrupt(int signal) {
  // A second interrupt does not wait for the step to finish.
  if (caught_signal.exchange(signal) != 0) std::_Exit(128 + signal);
}

class InterruptWatcher final : public Callback {
 public:
  void on_batch_end(std::size_t /*seen*/, const Logs& /*logs*/) override {
    if (caught_signal.load() != 0) context().stop_now = true;
  }
};

}  // namespace

Callback& watch_interrupts() {
  static InterruptWatcher watcher;
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  return watcher;
}

int interrupt_signal() { return caught_signal.load(); }

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
  watch_interrupts();  // Ctrl-C stops every run, side by side ones too, after its step
  observer.fit_callbacks = {&progress_bar()};
  observer.stop_requested = [] { return interrupt_signal() != 0; };
  return observer;
}

}  // namespace dn::app

#pragma once
// Flag groups shared by several subcommands, so that every command spells
// them the same way (Keras-like names), and the program's side of the
// library's callbacks: the progress bar and the experiments' report lines.
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/error.hpp"
#include "data/dataset.hpp"
#include "experiments/observer.hpp"
#include "train/callbacks.hpp"
#include "train/controls.hpp"
#include "train/progress.hpp"

namespace dn::app {

// A count's check: a negative one would wrap around to "all" in an unsigned flag.
CLI::Validator non_negative();
// --dataset, --data-dir, --limit
void add_data_flags(CLI::App& cmd, DataOptions& data);
// --noise SPEC, with the one description of the spec syntax after `what`.
CLI::Option* add_noise_flag(CLI::App& cmd, std::string& noise, const std::string& what);
// Keras's training controls: --early-stopping, --save-best, --lr-schedule,
// --validation-split, --csv-log.
void add_training_control_flags(CLI::App& cmd, TrainingControls& controls, DataOptions& data);
// --verbose, Keras's fit(verbose=): for commands that show one run's progress.
void add_verbose_flag(CLI::App& cmd, int& verbose);
// The progress output that --verbose asks for: nothing, the bar, or a line per epoch.
std::vector<Callback*> progress_callbacks(int verbose);
// What a training command passes to fit: the progress output (only rank 0's, in a
// data-parallel job under mpirun) and the interrupt watch (a single process only:
// mpirun ends the whole job at Ctrl-C; the run resumes from its last checkpoint).
std::vector<Callback*> training_callbacks(int verbose);
// Rank 0's line on its time in allreduce, after a data-parallel fit; nothing when alone.
void print_data_parallel_report();
// runs/<local time>, where a run goes when no --out is given.
std::string default_run_dir();
// --threads N (0 = all cores); call apply_threads before computing.
void add_threads_flag(CLI::App& cmd, int& threads);
void apply_threads(int threads);

// --out DIR, --overwrite and --resume DIR for the commands that train a run folder.
struct RunFlags {
  std::string out, resume;
  bool overwrite = false;
};
void add_run_flags(CLI::App& cmd, RunFlags& flags, const std::string& out_help);

// A fine-tuning's --init-from, checked before training so that its errors name the
// flag: the config first, then load(config) reads the run folder (a DataError it
// throws comes back as "--init-from: ..."). Nothing when config.init_from is empty.
template <class Config, class Load>
void check_init_from(const Config& config, Load load) {
  if (config.init_from.empty()) return;
  config.validate();
  try {
    load(config);
  } catch (const DataError& e) {
    throw DataError(std::string("--init-from: ") + e.what());
  }
}

// SIGINT and SIGTERM ask a running fit to stop after its current step (a second
// SIGINT ends the program at once); the returned callback passes the request on.
// Call in commands that train, before training.
Callback& watch_interrupts();
// The signal that interrupted training (SIGINT or SIGTERM), 0 when none did.
int interrupt_signal();

// Keras's progress bar on stdout, for the fits the program runs in the foreground.
ProgbarLogger& progress_bar();
// Report lines on stdout (flushed: sweeps report from worker threads), with the progress
// bar; Ctrl-C (SIGINT) or SIGTERM stops every run it trains after its step.
ExperimentObserver printing_observer();

}  // namespace dn::app

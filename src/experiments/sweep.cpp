#include "experiments/sweep.hpp"

#include <omp.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <mutex>

#include <fmt/core.h>

#include "core/error.hpp"
#include "core/json_integer.hpp"
#include "core/file_io.hpp"
#include "run/run_writer.hpp"
#include "train/denoiser.hpp"
#include "train/progress.hpp"

namespace dn {

namespace fs = std::filesystem;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
const char* const kMeasures[] = {"val_binary_accuracy", "val_loss", "psnr"};

struct RunSpec {
  DenoiserConfig config;
  fs::path dir;
};

double number_or_nan(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : kNaN;
}

// A finished run's numbers from its folder; null when the run is not finished, or its
// files are damaged (it is trained again).
nlohmann::json read_finished(const fs::path& dir) {
  if (!fs::exists(dir / "metrics.json") || !fs::exists(dir / "history.json")) return nullptr;
  nlohmann::json history, metrics;
  try {
    history = read_json(dir / "history.json");
    metrics = read_json(dir / "metrics.json");
  } catch (const DataError&) {
    return nullptr;
  }
  if (!history.is_array() || history.empty() || !metrics.is_object()) return nullptr;
  const nlohmann::json& last = history.back();
  return {{"val_binary_accuracy", number_or_nan(last, "val_binary_accuracy")},
          {"val_loss", number_or_nan(last, "val_loss")},
          {"psnr", number_or_nan(metrics, "psnr")},
          {"diverged", metrics.value("diverged", false)},
          {"epochs_run", history.size()}};
}

// The settings in which a finished run's config.json differs from the one the sweep
// would train ("epochs 1 -> 3, noise ..."); empty when they agree.
std::string config_differences(const fs::path& dir, const DenoiserConfig& wanted) {
  nlohmann::json saved;
  try {
    saved = read_json(dir / "config.json");
  } catch (const DataError&) {
    return "config.json unreadable";
  }
  const nlohmann::json want = wanted.to_json();
  std::string out;
  for (const auto& [key, value] : want.items())
    if (!saved.contains(key) || saved[key] != value)
      out += (out.empty() ? "" : ", ") + key + " " + (saved.contains(key) ? saved[key].dump() : "unset") + " -> " +
             value.dump();
  return out;
}

std::string cell_name(const std::string& optimizer, const std::string& activation) {
  return optimizer + "-" + activation;
}

}  // namespace

nlohmann::json run_sweep(const SweepOptions& options, const fs::path& out_dir, const ExperimentObserver& observer,
                         dist::Communicator& communicator) {
  const std::size_t rank = static_cast<std::size_t>(communicator.rank());
  const std::size_t world = static_cast<std::size_t>(communicator.size());
  const std::string who = world > 1 ? fmt::format("[rank {}] ", rank) : "";
  if (options.repeats < 1) throw ArgumentError("repeats", fmt::format("must be >= 1 (got {})", options.repeats));
  std::vector<RunSpec> runs;
  for (const auto& opt : options.optimizers)
    for (const auto& act : options.activations)
      for (int k = 0; k < options.repeats; ++k) {
        RunSpec r{options.base, out_dir / cell_name(opt, act) / fmt::format("run-{}", k + 1)};
        r.config.optimizer = opt;
        r.config.activation = act;
        r.config.lr.reset();  // each optimizer's own default
        r.config.seed = options.base.seed + static_cast<std::uint64_t>(k);
        r.config.validate();
        runs.push_back(std::move(r));
      }

  // A finished run counts only if it was trained with today's settings; one that
  // was not is never mixed into the table, and replaced only when asked.
  std::vector<std::size_t> todo, mine;
  for (std::size_t i = rank; i < runs.size(); i += world) mine.push_back(i);
  for (std::size_t i : mine) {
    if (read_finished(runs[i].dir).is_null()) {
      todo.push_back(i);
      continue;
    }
    const std::string differences = config_differences(runs[i].dir, runs[i].config);
    if (differences.empty()) continue;
    if (!options.overwrite)
      throw ArgumentError("out", "'" + out_dir.string() + "' holds a sweep with other settings (" +
                                     runs[i].dir.string() + ": " + differences + "); overwrite it or choose another folder");
    todo.push_back(i);
  }
  observer.say(fmt::format("{}Sweep: {} runs{} ({} already finished in {})", who, mine.size(),
                           world > 1 ? fmt::format(" of {}", runs.size()) : "", mine.size() - todo.size(),
                           out_dir.string()));

  // Runs train side by side, one thread each, so a sweep uses every core even
  // though one seed-model step is too small to split well; a run's numbers
  // depend only on its config (one thread is deterministic).
  const int parallel = options.parallel > 0 ? options.parallel : omp_get_num_procs();
  std::mutex report_mutex;
  std::exception_ptr failure;
  std::size_t finished = 0;
  const auto start = std::chrono::steady_clock::now();
#pragma omp parallel for schedule(dynamic, 1) num_threads(parallel)
  for (std::size_t t = 0; t < todo.size(); ++t) {
    const RunSpec& r = runs[todo[t]];
    {
      std::lock_guard lock(report_mutex);
      if (failure) continue;  // no new run starts once one has failed or was stopped
    }
    try {
      omp_set_num_threads(1);
      const RunCallbacks callbacks(observer, false);  // side by side: a line per finished run, no bars
      try {
        // An interrupted run with the same settings carries on from its checkpoint.
        bool resumed = false;
        if (fs::exists(staging_folder(r.dir) / kCheckpointFile)) try {
            train_denoiser(r.config, r.dir, callbacks.list(), ExistingRun::resume);
            resumed = true;
          } catch (const ArgumentError&) {  // its settings differ: trained afresh
          }
        if (!resumed) train_denoiser(r.config, r.dir, callbacks.list(), ExistingRun::overwrite);
      } catch (const DivergedError&) {
        // Recorded in the run folder (history and metrics); a sweep goes on.
      }
      const nlohmann::json done = read_finished(r.dir);
      std::lock_guard lock(report_mutex);
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      observer.say(fmt::format("  {}{} {} seed {}: val_binary_accuracy {:.4f}  val_loss {:.4f}{}", who,
                               progress_counter(++finished, todo.size(), elapsed), cell_name(r.config.optimizer, r.config.activation), r.config.seed,
                               number_or_nan(done, "val_binary_accuracy"), number_or_nan(done, "val_loss"),
                               done.value("diverged", false) ? "  (diverged)" : ""));
    } catch (...) {
      std::lock_guard lock(report_mutex);
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);

  // Each rank's numbers for its runs, read where it trained them, go to rank 0.
  nlohmann::json numbers = nlohmann::json::object();
  for (std::size_t i : mine) numbers[std::to_string(i)] = read_finished(runs[i].dir);
  const std::vector<std::string> reports = communicator.gather(numbers.dump());
  if (rank != 0) return nullptr;
  std::vector<nlohmann::json> finished_runs(runs.size());
  for (const std::string& report : reports) {
    const nlohmann::json numbers_of_rank = nlohmann::json::parse(report);  // items() only views it
    for (const auto& [index, run] : numbers_of_rank.items()) finished_runs[std::stoul(index)] = run;
  }

  nlohmann::json cells = nlohmann::json::array();
  std::size_t i = 0;
  for (const auto& opt : options.optimizers)
    for (const auto& act : options.activations) {
      nlohmann::json cell = {{"optimizer", opt}, {"activation", act}, {"runs", nlohmann::json::array()}};
      nlohmann::json sums = nlohmann::json::object();
      for (int k = 0; k < options.repeats; ++k, ++i) {
        nlohmann::json run = finished_runs[i];
        run["seed"] = runs[i].config.seed;
        run["run_dir"] = runs[i].dir.string();
        cell["runs"].push_back(run);
      }
      for (const char* m : kMeasures) {
        double sum = 0;  // NaN in any run makes the average NaN, as in the seed's table
        for (const auto& run : cell["runs"]) sum += number_or_nan(run, m);
        sums[m] = sum / options.repeats;
      }
      cell["average"] = sums;
      cells.push_back(cell);
    }
  nlohmann::json sweep = {{"optimizers", options.optimizers},
                          {"activations", options.activations},
                          {"repeats", options.repeats},
                          {"base_config", options.base.to_json()},
                          {"cells", cells}};
  write_json_atomic(out_dir / "sweep.json", sweep);
  write_file_atomic(out_dir / "sweep.md", format_sweep(sweep));
  return sweep;
}

std::string format_sweep(const nlohmann::json& sweep) {
  auto cell_text = [](const nlohmann::json& j, const char* key, int digits) {
    const double v = number_or_nan(j, key);
    return std::isfinite(v) ? fmt::format("{:.{}f}", v, digits) : std::string("NAN");
  };
  const int repeats = json_integer<int>(sweep.at("repeats"), "repeats");
  std::string out;
  for (const char* m : kMeasures) {
    out += fmt::format("### final {}\n\n| optimizer | activation |", m);
    for (int k = 1; k <= repeats; ++k) out += fmt::format(" run {} |", k);
    out += " average |\n|---|---|";
    for (int k = 0; k <= repeats; ++k) out += "---|";
    out += "\n";
    for (const auto& cell : sweep.at("cells")) {
      out += fmt::format("| {} | {} |", cell.at("optimizer").get<std::string>(),
                         cell.at("activation").get<std::string>());
      for (const auto& run : cell.at("runs")) out += fmt::format(" {} |", cell_text(run, m, 4));
      out += fmt::format(" {} |\n", cell_text(cell.at("average"), m, 5));
    }
    out += "\n";
  }
  return out;
}

}  // namespace dn

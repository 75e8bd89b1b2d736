// Work side by side: a failing part stops the others after their current step, the
// failure reported is its cause, and a stop request reaches every run.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <stdexcept>

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "data/dataset.hpp"
#include "experiments/beside.hpp"
#include "experiments/seed_experiment.hpp"
#include "experiments/sweep.hpp"
#include "support/test_support.hpp"

namespace dn {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

TEST(Beside, FailuresReportTheirCauseNotTheStopsItCaused) {
  std::atomic<bool> failed{false};
  Beside worker([] { throw DataError("disk full"); }, &failed);
  Failures failures(failed);
  failures.run([] { throw InterruptedError("stopped because another part failed"); });
  failures.run([&] { worker.join(); });
  EXPECT_TRUE(failed.load());
  EXPECT_THROW(failures.rethrow_cause(), DataError);

  std::atomic<bool> none{false};
  Failures quiet(none);
  quiet.run([] {});
  EXPECT_NO_THROW(quiet.rethrow_cause());
  EXPECT_FALSE(none.load());
  Failures stopped(none);
  stopped.run([] { throw InterruptedError("Ctrl-C"); });
  EXPECT_THROW(stopped.rethrow_cause(), InterruptedError);  // the user's stop is the cause
}

TEST(Beside, OrWhenAddsAFlagToTheObserversStop) {
  std::atomic<bool> flag{false}, user{false};
  ExperimentObserver observer;
  EXPECT_FALSE(observer.or_when(flag).stop_requested());
  observer.stop_requested = [&] { return user.load(); };
  const ExperimentObserver both = observer.or_when(flag);
  EXPECT_FALSE(both.stop_requested());
  flag = true;
  EXPECT_TRUE(both.stop_requested());
  flag = false;
  user = true;
  EXPECT_TRUE(both.stop_requested());
}

// 1,100 training images: one seed-model epoch is a few hundred steps.
fs::path small_data(const TempDir& dir) {
  write_data_folder(dir / "data", make_synthetic_digits(1200, 1), make_synthetic_digits(100, 2), true);
  return dir / "data";
}

// A stop request (Ctrl-C in the program) stops a sweep's runs: none finishes, the
// sweep throws InterruptedError, and rerunning it trains them.
TEST(Beside, AStopRequestStopsEverySweepRun) {
  TempDir dir;
  SweepOptions s;
  s.repeats = 2;
  s.parallel = 2;
  s.base.data.data_dir = small_data(dir).string();
  s.base.epochs = 50;
  ExperimentObserver observer;
  observer.stop_requested = [] { return true; };
  EXPECT_THROW(run_sweep(s, dir / "sweep", observer), InterruptedError);
  EXPECT_FALSE(fs::exists(dir / "sweep" / "sweep.json"));
  EXPECT_FALSE(fs::exists(dir / "sweep" / "sgd-relu" / "run-1" / "history.json"));
}

// The main job's sweep fails at once (its folder is a file), so the seed model and the
// classifiers, which would train for 200 epochs, stop after a step instead, and the
// sweep's error, not their stop, is what the job reports.
TEST(Beside, AFailingPartStopsTheMainJobsOtherParts) {
  TempDir dir;
  SeedExperimentOptions options;
  options.train.data.data_dir = small_data(dir).string();
  options.train.epochs = 200;
  options.sweep_repeats = 1;
  options.sweep_epochs = 1;
  options.classify_epochs = 200;
  options.classify_clean_epochs = 200;
  fs::create_directories(dir / "job");
  write_file_atomic(dir / "job" / "sweep", "not a folder");
  try {
    run_seed_experiment(options, dir / "job");
    FAIL() << "the job should have failed";
  } catch (const InterruptedError& e) {
    FAIL() << "reported a stop, not its cause: " << e.what();
  } catch (const std::exception&) {
  }
  EXPECT_FALSE(fs::exists(dir / "job" / "seed-run" / "history.json"));  // stopped, not finished
  EXPECT_FALSE(fs::exists(dir / "job" / "report.json"));
}

}  // namespace
}  // namespace dn

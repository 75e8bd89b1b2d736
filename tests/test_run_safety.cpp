// Runs that lose nothing and mix nothing: run folders appear whole or not at all,
// a finished run is never overwritten by accident, two writers never share a
// folder, and a run killed or interrupted mid-epoch resumes to the very bits of an
// uninterrupted one.
#include <sys/stat.h>

#include <csignal>
#include <cstring>
#include <algorithm>
#include <map>
#include <set>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "data/dataset.hpp"
#include "io/safetensors.hpp"
#include "run/run_writer.hpp"
#include "support/test_support.hpp"

namespace dn {
namespace {

namespace fs = std::filesystem;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class RunSafety : public ::testing::Test {
 protected:
  void SetUp() override {
    // Epochs long enough to be interrupted in.
    write_data_folder(tmp / "data", make_synthetic_digits(test::kInterruptibleImages, 1),
                      make_synthetic_digits(100, 2));
  }
  std::vector<std::string> train_args(const fs::path& out, const std::string& epochs = "4") const {
    return {"train", "--data-dir", (tmp / "data").string(), "--epochs", epochs, "--threads", "1", "--out",
            out.string()};
  }
  test::TempDir tmp;
};

std::map<std::string, Tensor> weights(const fs::path& run) { return load_safetensors(run / "model.safetensors"); }

bool same_weights(const fs::path& a, const fs::path& b) {
  const auto wa = weights(a), wb = weights(b);
  if (wa.size() != wb.size()) return false;
  for (const auto& [name, t] : wa) {
    const Tensor& u = wb.at(name);
    if (t.shape() != u.shape() || std::memcmp(t.data(), u.data(), t.size() * sizeof(float)) != 0) return false;
  }
  return true;
}

TEST_F(RunSafety, AKilledRunResumesToTheUninterruptedRunsBits) {
  const fs::path whole = tmp / "whole", killed = tmp / "killed";
  test::CliResult r = test::run_denoise(train_args(whole));
  ASSERT_EQ(r.status, 0) << r.output;

  // SIGKILL as soon as epoch 2's checkpoint is written: the kill lands in epoch 3.
  r = test::run_denoise_until(train_args(killed), [&] { return test::checkpoint_epoch(killed) >= 2; }, SIGKILL);
  ASSERT_EQ(r.status, 128 + SIGKILL) << r.output;
  EXPECT_FALSE(fs::exists(killed)) << "a killed run left a run folder";
  EXPECT_GE(test::checkpoint_epoch(killed), 2);

  // Starting afresh over it is refused; resuming finishes it.
  r = test::run_denoise(train_args(killed));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "interrupted run")) << r.output;
  r = test::run_denoise({"train", "--resume", killed.string(), "--threads", "1"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_FALSE(contains(r.output, "Epoch 1/4")) << r.output;
  EXPECT_TRUE(contains(r.output, "Epoch 4/4")) << r.output;
  EXPECT_FALSE(fs::exists(staging_folder(killed)));
  EXPECT_TRUE(same_weights(whole, killed));
  const auto h_whole = read_json(whole / "history.json"), h_killed = read_json(killed / "history.json");
  ASSERT_EQ(h_killed.size(), 4u);
  for (std::size_t e = 0; e < 4; ++e) {
    EXPECT_EQ(h_killed[e]["loss"], h_whole[e]["loss"]) << e;
    EXPECT_EQ(h_killed[e]["val_loss"], h_whole[e]["val_loss"]) << e;
  }
}

// The training controls keep their state across a resume: the plateau's rate, early
// stopping's best epoch and weights, the best-so-far folder and the CSV log.
TEST_F(RunSafety, AResumedRunKeepsTheTrainingControlsState) {
  const fs::path whole = tmp / "whole", killed = tmp / "killed";
  auto args = [&](const fs::path& out) {
    std::vector<std::string> a = train_args(out, "5");
    for (const char* flag : {"--lr-schedule", "plateau", "--early-stopping", "4", "--save-best", "--csv-log",
                             "--optimizer", "sgd", "--lr", "3"})
      a.push_back(flag);
    return a;
  };
  test::CliResult r = test::run_denoise(args(whole));
  ASSERT_EQ(r.status, 0) << r.output;
  r = test::run_denoise_until(args(killed), [&] { return test::checkpoint_epoch(killed) >= 3; }, SIGKILL);
  ASSERT_EQ(r.status, 128 + SIGKILL) << r.output;
  r = test::run_denoise({"train", "--resume", killed.string(), "--threads", "1"});
  ASSERT_EQ(r.status, 0) << r.output;

  EXPECT_TRUE(same_weights(whole, killed));
  EXPECT_TRUE(same_weights(whole / "best", killed / "best"));
  const auto h_whole = read_json(whole / "history.json"), h_killed = read_json(killed / "history.json");
  ASSERT_EQ(h_killed.size(), h_whole.size());
  std::set<double> rates;
  for (std::size_t e = 0; e < h_whole.size(); ++e) {
    EXPECT_EQ(h_killed[e]["lr"], h_whole[e]["lr"]) << e;
    EXPECT_EQ(h_killed[e]["val_loss"], h_whole[e]["val_loss"]) << e;
    rates.insert(h_whole[e]["lr"].get<double>());
  }
  EXPECT_GT(rates.size(), 1u) << "the plateau never lowered the rate: the test checks nothing of it";
  EXPECT_EQ(read_json(killed / "config.json").value("restored_best_epoch", 0),
            read_json(whole / "config.json").value("restored_best_epoch", 0));
  // The CSV log holds every epoch once, the resumed ones first.
  const std::string csv = read_file_text(killed / "history.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), static_cast<long>(h_whole.size()) + 1) << csv;
}

TEST_F(RunSafety, AnInterruptSavesTheLastEpochAndSaysHowToResume) {
  const fs::path whole = tmp / "whole", run = tmp / "run";
  ASSERT_EQ(test::run_denoise(train_args(whole, "3")).status, 0);
  test::CliResult r =
      test::run_denoise_until(train_args(run, "3"), [&] { return test::checkpoint_epoch(run) >= 1; }, SIGINT);
  ASSERT_EQ(r.status, 130) << r.output;
  EXPECT_TRUE(contains(r.output, "denoise train --resume " + run.string())) << r.output;
  EXPECT_FALSE(fs::exists(run));
  r = test::run_denoise({"train", "--resume", run.string(), "--threads", "1"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(same_weights(whole, run));

  // SIGTERM is reported as 143.
  const fs::path term = tmp / "term";
  r = test::run_denoise_until(train_args(term, "3"), [&] { return test::checkpoint_epoch(term) >= 1; }, SIGTERM);
  EXPECT_EQ(r.status, 143) << r.output;
}

// Ctrl-C reaches runs trained side by side: the sweep stops its runs after their step
// (status 130, not the second Ctrl-C's hard exit), and running it again finishes it.
TEST_F(RunSafety, AnInterruptStopsASweepsRunsAndTheSweepCarriesOn) {
  const fs::path sweep = tmp / "sweep";
  const std::vector<std::string> args = {"sweep",    "--optimizers", "adadelta", "--activations", "relu",
                                         "--repeats", "2",           "--epochs",  "3",             "--parallel",
                                         "2",        "--data-dir",   (tmp / "data").string(), "--out", sweep.string()};
  test::CliResult r = test::run_denoise_until(
      args, [&] { return test::checkpoint_epoch(sweep / "adadelta-relu" / "run-1") >= 1; }, SIGINT);
  ASSERT_EQ(r.status, 130) << r.output;
  EXPECT_TRUE(contains(r.output, "training interrupted")) << r.output;
  EXPECT_FALSE(fs::exists(sweep / "sweep.json"));
  r = test::run_denoise(args);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(fs::exists(sweep / "sweep.json"));
}

TEST_F(RunSafety, AFinishedRunIsNeverOverwrittenUnlessAsked) {
  const fs::path run = tmp / "run";
  std::vector<std::string> args = train_args(run, "1");
  args.insert(args.end(), {"--limit", "300"});
  ASSERT_EQ(test::run_denoise(args).status, 0);
  const std::string config = read_file_text(run / "config.json");

  test::CliResult r = test::run_denoise(args);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "--out")) << r.output;
  EXPECT_TRUE(contains(r.output, "holds a run already")) << r.output;
  EXPECT_EQ(read_file_text(run / "config.json"), config);

  args.insert(args.end(), {"--overwrite", "--seed", "7"});
  r = test::run_denoise(args);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(read_json(run / "config.json")["seed"], 7);
  for (const auto& entry : fs::directory_iterator(tmp.path))  // nothing left beside it
    EXPECT_TRUE(entry.path().filename() == "run" || entry.path().filename() == "data") << entry.path();

  // Nothing to resume in a finished run.
  r = test::run_denoise({"train", "--resume", run.string()});
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "--resume")) << r.output;
}

TEST_F(RunSafety, ASecondWriterIsKeptOutAndAFileIsNoRunFolder) {
  const fs::path run = tmp / "run";
  {
    RunWriter holder(run, ExistingRun::refuse);  // this process writes the folder
    std::vector<std::string> args = train_args(run, "1");
    const test::CliResult r = test::run_denoise(args);
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_TRUE(contains(r.output, "another process")) << r.output;
    EXPECT_TRUE(fs::exists(staging_folder(run)));  // the holder's staging folder is untouched
  }
  EXPECT_FALSE(fs::exists(staging_folder(run)));  // nothing was written: nothing kept
  test::write_bytes(tmp / "file", "x");
  const test::CliResult r = test::run_denoise(train_args(tmp / "file", "1"));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "is a file")) << r.output;
}

TEST_F(RunSafety, EvalWritesBesideTheTrainingRecordAndADivergedRunIsRefused) {
  const fs::path run = tmp / "run";
  std::vector<std::string> args = train_args(run, "1");
  args.insert(args.end(), {"--limit", "300"});
  ASSERT_EQ(test::run_denoise(args).status, 0);
  const std::string record = read_file_text(run / "metrics.json");
  test::CliResult r = test::run_denoise({"eval", run.string(), "--limit", "50"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(read_file_text(run / "metrics.json"), record);
  EXPECT_EQ(read_json(run / "metrics-test.json")["split"], "test");

  const fs::path nan = tmp / "nan";
  args = train_args(nan, "1");
  args.insert(args.end(), {"--limit", "300", "--optimizer", "sgd", "--lr", "1e30", "--on-nan", "continue"});
  ASSERT_EQ(test::run_denoise(args).status, 0);
  r = test::run_denoise({"eval", nan.string(), "--limit", "50"});
  EXPECT_EQ(r.status, 3) << r.output;
  EXPECT_TRUE(contains(r.output, "diverged")) << r.output;
}

TEST(ReadFile, OnlyRegularFilesAreRead) {
  test::TempDir tmp;
  const fs::path fifo = tmp / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const fs::path& p : {fifo, fs::path("/dev/zero")}) {
    try {
      read_file_bytes(p);
      ADD_FAILURE() << p << " was read";
    } catch (const DataError& e) {
      EXPECT_TRUE(contains(e.what(), "not a regular file")) << e.what();
    }
  }
}

}  // namespace
}  // namespace dn

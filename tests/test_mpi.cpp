// `mpirun -np 2 denoise ...` on this machine (loopback, --oversubscribe): data-parallel
// training equals a single process's, a 2-rank sweep writes the 1-process table, and
// errors end the job with one clear message instead of a hang. Skipped when the build
// has no MPI. Each mpirun runs under `timeout`, so a hang fails the test, never the suite.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cmath>
#include <thread>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/file_io.hpp"
#include "data/dataset.hpp"
#include "dist/communicator.hpp"
#include "io/safetensors.hpp"
#include "run/run_writer.hpp"
#include "support/test_support.hpp"

namespace dn {
namespace {

namespace fs = std::filesystem;

std::string quoted(const std::vector<std::string>& args) {
  std::string out;
  for (const auto& a : args) out += " '" + a + "'";
  return out;
}

// mpirun's loopback set-up for one machine. OpenMPI refuses to run as root unless
// told it may; these variables are set for this command only. In the sanitizer build,
// LeakSanitizer would report what Open MPI allocates once and keeps until exit, so the
// ranks check memory errors but not leaks (the single-process tests check ours).
const char* const kMpirun =
    "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 ASAN_OPTIONS=detect_leaks=0 "
    "timeout 120 mpirun --oversubscribe "
    "--mca btl self,vader,tcp --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo";

test::CliResult run_shell(const std::string& command) {
  test::CliResult r;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return r;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) r.output.append(buf, n);
  const int status = pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

// `mpirun -np ranks denoise args...`
test::CliResult mpirun(int ranks, const std::vector<std::string>& args) {
  return run_shell(std::string(kMpirun) + " -np " + std::to_string(ranks) + " " + DENOISE_EXE + quoted(args));
}

std::size_t count_of(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

class Mpi : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!dist::mpi_built_in()) GTEST_SKIP() << "this build has no MPI (install libopenmpi-dev and reconfigure)";
    // 4,400 training images: 4,033 train / 367 validation; --limit 4000 trains on 4,000.
    write_data_folder(tmp / "data", make_synthetic_digits(4400, 1), make_synthetic_digits(100, 2));
  }
  std::vector<std::string> with_data(std::vector<std::string> args) const {
    args.push_back("--data-dir");
    args.push_back((tmp / "data").string());
    return args;
  }
  test::TempDir tmp;
};

// Whether the lock file can be taken (and is then let go) within the time given.
bool lock_released(const fs::path& lock, std::chrono::seconds within) {
  const auto end = std::chrono::steady_clock::now() + within;
  do {
    const int fd = ::open(lock.c_str(), O_RDWR);
    if (fd < 0) return true;  // removed by a writer that finished
    const bool free = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
    ::close(fd);
    if (free) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (std::chrono::steady_clock::now() < end);
  return false;
}

double max_weight_difference(const fs::path& a, const fs::path& b) {
  const auto wa = load_safetensors(a), wb = load_safetensors(b);
  double worst = 0;
  for (const auto& [name, t] : wa) {
    const Tensor& u = wb.at(name);
    for (std::size_t i = 0; i < t.size(); ++i) worst = std::max(worst, double(std::fabs(t[i] - u[i])));
  }
  return worst;
}

void expect_same_history(const fs::path& one, const fs::path& two, double tolerance) {
  const nlohmann::json a = read_json(one / "history.json"), b = read_json(two / "history.json");
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t e = 0; e < a.size(); ++e)
    for (const char* key : {"loss", "val_loss"})
      EXPECT_NEAR(a[e][key].get<double>(), b[e][key].get<double>(), tolerance) << "epoch " << e + 1 << " " << key;
}

// SGD, because its trajectory is smooth: the two runs differ only in the order of
// float sums (1e-8 in the weights after one step), and SGD keeps that at 1e-8 over
// 250 steps, where the seed's Adadelta at learning rate 1.0 amplifies it to 1e-5 in
// the loss (README, "Running on a cluster").
TEST_F(Mpi, TwoRanksTrainAsOneProcessWithTheSameGlobalBatch) {
  const std::vector<std::string> train = {"train", "--optimizer", "sgd", "--epochs", "2", "--limit", "4000",
                                          "--threads", "1", "--verbose", "2"};
  auto one = with_data(train), two = with_data(train);
  one.insert(one.end(), {"--out", (tmp / "one").string()});
  two.insert(two.end(), {"--out", (tmp / "two").string()});
  const auto single = test::run_denoise(one);
  ASSERT_EQ(single.status, 0) << single.output;
  const auto pair = mpirun(2, two);
  ASSERT_EQ(pair.status, 0) << pair.output;
  EXPECT_EQ(count_of(pair.output, "Epoch 1/2"), 1u) << "rank 0 alone reports\n" << pair.output;
  EXPECT_NE(pair.output.find("Data-parallel over 2 processes: 252 allreduces"), std::string::npos) << pair.output;
  expect_same_history(tmp / "one", tmp / "two", 1e-5);
  EXPECT_LT(max_weight_difference(tmp / "one" / "model.safetensors", tmp / "two" / "model.safetensors"), 1e-6);
  EXPECT_EQ(read_json(tmp / "two" / "config.json")["world_size"], 2);
  EXPECT_EQ(read_json(tmp / "one" / "config.json")["world_size"], 1);
}

// The classifier has Dropout: each rank draws the masks of its own share of the batch
// only, as one process does for the whole batch, so the runs still agree: within 1e-6
// as a rule, but a decision the last bits take (a ReLU's sign, a pooling window's
// maximum) can move a few weights by about 1e-4 in the 4 steps (seed 0 with Winograd
// F(4x4): 7.4e-5 in 114 of conv2d_1's weights; seeds 1-3: 4-6e-7).
TEST_F(Mpi, ClassifierWithDropoutTrainsAsOneProcess) {
  const std::vector<std::string> train = {"classify", "train", "--epochs", "1", "--limit", "480",
                                          "--threads", "1", "--verbose", "0"};
  auto one = with_data(train), two = with_data(train);
  one.insert(one.end(), {"--out", (tmp / "one").string()});
  two.insert(two.end(), {"--out", (tmp / "two").string()});
  const auto single = test::run_denoise(one);
  ASSERT_EQ(single.status, 0) << single.output;
  const auto pair = mpirun(2, two);
  ASSERT_EQ(pair.status, 0) << pair.output;
  expect_same_history(tmp / "one", tmp / "two", 1e-5);
  EXPECT_LT(max_weight_difference(tmp / "one" / "model.safetensors", tmp / "two" / "model.safetensors"), 3e-4);
}

// Ctrl-C ends a data-parallel job at once (mpirun's); the last finished epoch's checkpoint
// stays, every rank reads it on --resume, and the resumed job ends with the bits of a
// job that was never interrupted.
TEST_F(Mpi, AnInterruptedJobResumesOnEveryRankToTheUninterruptedBits) {
  // Epochs long enough to be interrupted in (about 0.2 s each on two ranks).
  write_data_folder(tmp / "big", make_synthetic_digits(test::kInterruptibleImages, 3), make_synthetic_digits(100, 4));
  auto train = [&](const fs::path& out) {
    return std::vector<std::string>{"train", "--epochs", "8", "--threads", "1", "--verbose", "0",
                                    "--data-dir", (tmp / "big").string(), "--out", out.string()};
  };
  const fs::path whole = tmp / "whole", cut = tmp / "cut";
  const auto uninterrupted = mpirun(2, train(whole));
  ASSERT_EQ(uninterrupted.status, 0) << uninterrupted.output;

  const std::string job = "exec env " + std::string(kMpirun) + " -np 2 " + DENOISE_EXE + quoted(train(cut));
  const auto stopped =
      test::run_until({"/bin/sh", "-c", job}, [&] { return test::checkpoint_epoch(cut) >= 2; }, SIGINT);
  ASSERT_NE(stopped.status, -1) << "the job ended before its second checkpoint\n" << stopped.output;
  EXPECT_NE(stopped.status, 0) << stopped.output;
  EXPECT_FALSE(fs::exists(cut)) << "an interrupted job left a run folder";
  const int kept = test::checkpoint_epoch(cut);
  EXPECT_GE(kept, 2);
  EXPECT_LT(kept, 8) << "the job was not interrupted\n" << stopped.output;
  // mpirun returns at once; its ranks end within about a second, rank 0 holding the run
  // folder's lock (RunWriter's flock on its lock_file) until then.
  EXPECT_TRUE(lock_released(lock_file(cut), std::chrono::seconds(60)))
      << "rank 0 still holds the run folder a minute after the job ended";

  const auto resumed = mpirun(2, {"train", "--resume", cut.string(), "--threads", "1", "--verbose", "0"});
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_FALSE(fs::exists(staging_folder(cut)));
  const nlohmann::json a = read_json(whole / "history.json"), b = read_json(cut / "history.json");
  ASSERT_EQ(b.size(), 8u);
  for (std::size_t e = 0; e < a.size(); ++e) {
    EXPECT_EQ(a[e]["loss"], b[e]["loss"]) << "epoch " << e + 1;
    EXPECT_EQ(a[e]["val_loss"], b[e]["val_loss"]) << "epoch " << e + 1;
  }
  EXPECT_EQ(max_weight_difference(whole / "model.safetensors", cut / "model.safetensors"), 0.0);
  EXPECT_EQ(read_json(cut / "config.json")["world_size"], 2);
}

TEST_F(Mpi, TwoRankSweepWritesTheOneProcessTable) {
  const std::vector<std::string> sweep = {"sweep", "--optimizers", "sgd,adadelta", "--activations", "relu",
                                          "--repeats", "2", "--epochs", "1", "--limit", "240", "--parallel", "1"};
  auto one = with_data(sweep), two = with_data(sweep);
  one.insert(one.end(), {"--out", (tmp / "one").string()});
  two.insert(two.end(), {"--out", (tmp / "two").string()});
  const auto single = test::run_denoise(one);
  ASSERT_EQ(single.status, 0) << single.output;
  const auto pair = mpirun(2, two);
  ASSERT_EQ(pair.status, 0) << pair.output;
  EXPECT_EQ(count_of(pair.output, "Wrote "), 1u) << pair.output;
  EXPECT_EQ(read_file_text(tmp / "one" / "sweep.md"), read_file_text(tmp / "two" / "sweep.md"));
  // Each rank trained its half of the runs.
  EXPECT_NE(pair.output.find("[rank 1] Sweep: 2 runs of 4"), std::string::npos) << pair.output;
  // Re-running finds every run finished, wherever it was trained.
  const auto again = mpirun(2, two);
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_NE(again.output.find("[rank 0] Sweep: 2 runs of 4 (2 already finished"), std::string::npos) << again.output;
  EXPECT_EQ(read_file_text(tmp / "one" / "sweep.md"), read_file_text(tmp / "two" / "sweep.md"));
}

TEST_F(Mpi, AWorldSizeThatDoesNotDivideTheBatchIsOneClearError) {
  const auto r = mpirun(2, with_data({"train", "--batch-size", "33", "--epochs", "1", "--limit", "240",
                                      "--out", (tmp / "run").string()}));
  EXPECT_EQ(r.status, 2) << r.output;
  const std::string message = "denoise: error: --batch-size 33 does not split evenly over the 2 processes";
  EXPECT_EQ(count_of(r.output, message), 1u) << r.output;
  EXPECT_EQ(count_of(r.output, "[rank 1]"), 0u) << "rank 0 speaks for the job\n" << r.output;
  EXPECT_FALSE(fs::exists(tmp / "run"));
}

// Rank 1 alone is given a folder without data (mpirun's MPMD syntax): it fails while
// rank 0 waits for it in the first collective; the job ends at once with rank 1's error.
TEST_F(Mpi, AFailingRankEndsTheJobWithItsError) {
  const std::vector<std::string> common = {"train", "--epochs", "1", "--limit", "240", "--out",
                                           (tmp / "run").string(), "--data-dir"};
  const std::string command = std::string(kMpirun) + " -np 1 " + DENOISE_EXE + quoted(common) + " '" +
                              (tmp / "data").string() + "' : -np 1 " + DENOISE_EXE + quoted(common) + " '" +
                              (tmp / "nowhere").string() + "'";
  const auto r = run_shell(command);
  EXPECT_EQ(r.status, 1) << r.output;  // the failing rank's exit status: bad or missing data
  EXPECT_NE(r.output.find("[rank 1] denoise: error: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("nowhere"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp / "run"));
}

// Ranks started with different commands (mpirun's MPMD syntax): rank 1 trains a sweep
// on its own while rank 0 waits in training's first collective for a rank that never
// comes. The watchdog ends the job after DENOISE_MPI_TIMEOUT seconds.
TEST_F(Mpi, ACollectiveThatWaitsTooLongEndsTheJob) {
  const std::string data = (tmp / "data").string();
  const std::string command =
      "DENOISE_MPI_TIMEOUT=1 " + std::string(kMpirun) + " -np 1 " + DENOISE_EXE +
      quoted({"train", "--epochs", "1", "--limit", "240", "--out", (tmp / "run").string(), "--data-dir", data}) +
      " : -np 1 " + DENOISE_EXE +
      quoted({"sweep", "--optimizers", "sgd", "--activations", "relu", "--repeats", "1", "--epochs", "4",
              "--parallel", "1", "--out", (tmp / "sweep").string(), "--data-dir", data});
  const auto r = run_shell(command);
  EXPECT_EQ(r.status, 4) << r.output;
  EXPECT_NE(r.output.find("denoise (rank 0): error: broadcast waited more than 1 s for the other ranks"),
            std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace dn

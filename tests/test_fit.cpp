// The fit loop on small synthetic data: every optimizer lowers the loss, runs
// are bit-identical with one thread, NaN stops training cleanly, callbacks see
// every hook and can stop training, and fit itself prints nothing.
#include <omp.h>
#include <sys/resource.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/heap.hpp"
#include "data/dataset.hpp"
#include "data/noise.hpp"
#include "nn/models.hpp"
#include "train/fit.hpp"
#include "train/progress.hpp"

namespace dn {
namespace {

struct TinyData {
  Tensor x, y, x_val, y_val;
};

TinyData tiny_data() {
  const Dataset d = make_synthetic_digits(320, 5);
  const Dataset v = make_synthetic_digits(64, 6);
  TinyData t;
  t.y = d.images;
  t.y_val = v.images;
  add_noise(parse_noise("gaussian:0.3"), t.y, t.x, 1);
  add_noise(parse_noise("gaussian:0.3"), t.y_val, t.x_val, 2);
  return t;
}

History train_tiny(const std::string& optimizer, int epochs, std::uint64_t seed, TinyData& data,
                   OnNaN on_nan = OnNaN::stop, std::vector<Callback*> callbacks = {}) {
  auto model = make_model({"seed", "relu", 28, 28}, seed);
  auto loss = make_loss("binary_crossentropy");
  auto opt = make_optimizer(optimizer, std::nullopt);
  FitOptions options;
  options.epochs = epochs;
  options.seed = seed;
  options.on_nan = on_nan;
  options.callbacks = std::move(callbacks);
  return fit(*model, *loss, *opt, data.x, data.y, data.x_val, data.y_val, options);
}

class EveryOptimizer : public ::testing::TestWithParam<const char*> {};

TEST_P(EveryOptimizer, LossFallsOnATinyDataSet) {
  TinyData data = tiny_data();
  const History h = train_tiny(GetParam(), 4, 3, data);
  ASSERT_EQ(h.epochs.size(), 4u);
  EXPECT_FALSE(h.diverged);
  EXPECT_LT(h.epochs.back().loss, h.epochs.front().loss) << GetParam();
  EXPECT_LT(h.epochs.back().val_loss, h.epochs.front().val_loss) << GetParam();
  for (const auto& e : h.epochs) {
    EXPECT_GT(e.metric, 0.0);
    EXPECT_LE(e.metric, 1.0);
  }
}

INSTANTIATE_TEST_SUITE_P(Fit, EveryOptimizer, ::testing::Values("sgd", "adadelta", "adam", "rmsprop", "adagrad"));

[[maybe_unused]] long minor_page_faults() {  // unused where the test below is skipped
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

// What `denoise` sets up before it trains: a tensor freed and allocated again is not
// faulted in again page by page (64 MB: past glibc's largest adaptive mmap threshold,
// so without it every such allocation is a fresh mapping; 16,384 pages).
TEST(Heap, FreedMemoryIsReusedWithoutPageFaults) {
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
  ASSERT_TRUE(keep_freed_memory());
  constexpr std::size_t kBytes = 64u << 20;
  auto touch = [] {
    void* p = std::malloc(kBytes);
    std::memset(p, 1, kBytes);
    asm volatile("" : : "r"(p) : "memory");  // the pages are written: no eliding them
    std::free(p);
  };
  touch();
  const long before = minor_page_faults();
  touch();
  EXPECT_LT(minor_page_faults() - before, 1000);
#else
  GTEST_SKIP() << "glibc's allocator only (a sanitizer brings its own)";
#endif
}

TEST(Fit, OneThreadRunsAreBitIdentical) {
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  TinyData a = tiny_data(), b = tiny_data();
  const History ha = train_tiny("adadelta", 2, 11, a);
  const History hb = train_tiny("adadelta", 2, 11, b);
  omp_set_num_threads(threads);
  ASSERT_EQ(ha.epochs.size(), hb.epochs.size());
  for (std::size_t i = 0; i < ha.epochs.size(); ++i) {
    EXPECT_EQ(ha.epochs[i].loss, hb.epochs[i].loss);
    EXPECT_EQ(ha.epochs[i].val_loss, hb.epochs[i].val_loss);
    EXPECT_EQ(ha.epochs[i].val_metric, hb.epochs[i].val_metric);
  }
}

TEST(Fit, NaNInputStopsTrainingAndIsRecorded) {
  TinyData data = tiny_data();
  data.x[5] = std::numeric_limits<float>::quiet_NaN();
  const History stopped = train_tiny("adadelta", 3, 1, data, OnNaN::stop);
  EXPECT_TRUE(stopped.diverged);
  ASSERT_EQ(stopped.epochs.size(), 1u);
  EXPECT_TRUE(std::isnan(stopped.epochs[0].loss));
  EXPECT_TRUE(stopped.to_json()[0]["loss"].is_null());  // NaN is written as JSON null

  TinyData again = tiny_data();
  again.x[5] = std::numeric_limits<float>::quiet_NaN();
  const History continued = train_tiny("adadelta", 3, 1, again, OnNaN::continue_training);
  EXPECT_TRUE(continued.diverged);
  EXPECT_EQ(continued.epochs.size(), 3u);
}

TEST(Fit, HistoryJsonHasKerasKeys) {
  TinyData data = tiny_data();
  const nlohmann::json j = train_tiny("adam", 1, 0, data).to_json();
  ASSERT_EQ(j.size(), 1u);
  for (const char* key : {"epoch", "loss", "binary_accuracy", "val_loss", "val_binary_accuracy", "seconds"})
    EXPECT_TRUE(j[0].contains(key)) << key;
  EXPECT_EQ(j[0]["epoch"], 1);
}

TEST(Fit, AccuracyMetricComparesArgmaxes) {
  Tensor pred({2, 3}), truth({2, 3});
  const float p[] = {0.1f, 0.7f, 0.2f, 0.5f, 0.3f, 0.2f};
  const float t[] = {0, 1, 0, 0, 0, 1};
  for (int i = 0; i < 6; ++i) pred[static_cast<std::size_t>(i)] = p[i], truth[static_cast<std::size_t>(i)] = t[i];
  EXPECT_DOUBLE_EQ(batch_metric(Metric::accuracy, pred, truth), 0.5);
}

// Errors name the argument and the value, never a command-line flag.
template <typename Parse>
void expect_usage_error(Parse parse, const std::string& text, const std::string& message) {
  try {
    parse(text);
    ADD_FAILURE() << "accepted " << text;
  } catch (const UsageError& e) {
    EXPECT_EQ(e.what(), message);
  }
}

TEST(Fit, MetricAndOnNaNParseTheirNames) {
  for (Metric m : {Metric::binary_accuracy, Metric::accuracy}) EXPECT_EQ(parse_metric(metric_name(m)), m);
  EXPECT_EQ(metric_name(Metric::accuracy), "accuracy");
  expect_usage_error(parse_metric, "f1", "metric must be binary_accuracy or accuracy (got 'f1')");
  EXPECT_EQ(parse_on_nan("stop"), OnNaN::stop);
  EXPECT_EQ(parse_on_nan("continue"), OnNaN::continue_training);
  expect_usage_error(parse_on_nan, "maybe", "on_nan must be stop or continue (got 'maybe')");
}

// Writes down every hook call; stops training after epoch stop_after when it is > 0.
struct RecordingCallback : Callback {
  int stop_after = 0;
  std::vector<TrainBegin> begins;
  std::vector<int> epochs_begun;
  std::vector<std::vector<std::size_t>> seen;  // per epoch
  std::vector<Logs> last_logs;                 // per epoch
  std::vector<EpochLog> epoch_logs;
  std::vector<History> ends;

  void on_train_begin(const TrainBegin& begin) override { begins.push_back(begin); }
  void on_epoch_begin(int epoch) override {
    epochs_begun.push_back(epoch);
    seen.emplace_back();
    last_logs.emplace_back();
  }
  void on_batch_end(std::size_t s, const Logs& logs) override {
    seen.back().push_back(s);
    last_logs.back() = logs;
  }
  void on_epoch_end(const EpochLog& log) override {
    epoch_logs.push_back(log);
    if (stop_after > 0 && log.epoch >= stop_after) context().stop_training = true;
  }
  void on_train_end(const History& history) override { ends.push_back(history); }
};

TEST(Fit, CallbacksSeeEveryHookWithTheHistorysValues) {
  TinyData data = tiny_data();  // 320 samples in batches of 32
  RecordingCallback rec;
  const History h = train_tiny("adam", 2, 4, data, OnNaN::stop, {&rec});
  ASSERT_EQ(rec.begins.size(), 1u);
  EXPECT_EQ(rec.begins[0].samples, 320u);
  EXPECT_EQ(rec.begins[0].validation_samples, 64u);
  EXPECT_EQ(rec.begins[0].epochs, 2);
  EXPECT_EQ(rec.begins[0].batch_size, 32);
  EXPECT_EQ(rec.begins[0].metric, Metric::binary_accuracy);
  EXPECT_EQ(rec.epochs_begun, (std::vector<int>{1, 2}));
  ASSERT_EQ(rec.epoch_logs.size(), 2u);
  ASSERT_EQ(h.epochs.size(), 2u);
  for (std::size_t e = 0; e < 2; ++e) {
    EXPECT_EQ(rec.epoch_logs[e].epoch, h.epochs[e].epoch);
    EXPECT_EQ(rec.epoch_logs[e].loss, h.epochs[e].loss);
    EXPECT_EQ(rec.epoch_logs[e].metric, h.epochs[e].metric);
    EXPECT_EQ(rec.epoch_logs[e].val_loss, h.epochs[e].val_loss);
    EXPECT_EQ(rec.epoch_logs[e].val_metric, h.epochs[e].val_metric);
    std::vector<std::size_t> expected;
    for (std::size_t s = 32; s <= 320; s += 32) expected.push_back(s);
    EXPECT_EQ(rec.seen[e], expected);
    // The last batch's running means are the epoch's.
    EXPECT_EQ(rec.last_logs[e].loss, h.epochs[e].loss);
    EXPECT_EQ(rec.last_logs[e].metric, h.epochs[e].metric);
  }
  ASSERT_EQ(rec.ends.size(), 1u);
  EXPECT_EQ(rec.ends[0].epochs.size(), 2u);
  EXPECT_FALSE(h.stopped);
}

TEST(Fit, ACallbackCanStopTraining) {
  TinyData data = tiny_data();
  RecordingCallback stopper, watcher;
  stopper.stop_after = 1;
  const History h = train_tiny("adam", 3, 4, data, OnNaN::stop, {&stopper, &watcher});
  EXPECT_EQ(h.epochs.size(), 1u);
  EXPECT_TRUE(h.stopped);
  EXPECT_FALSE(h.diverged);
  EXPECT_EQ(watcher.epochs_begun, (std::vector<int>{1}));
  EXPECT_EQ(watcher.ends.size(), 1u);
}

TEST(Fit, NaNStopIsObservableThroughStopTraining) {
  TinyData data = tiny_data();
  data.x[5] = std::numeric_limits<float>::quiet_NaN();
  struct SeesStop : Callback {
    bool stop_seen = false;
    void on_epoch_end(const EpochLog&) override { stop_seen = context().stop_training; }
  } cb;
  const History h = train_tiny("adadelta", 3, 1, data, OnNaN::stop, {&cb});
  EXPECT_TRUE(cb.stop_seen);
  EXPECT_TRUE(h.stopped && h.diverged);
}

TEST(Fit, PrintsNothingItself) {
  TinyData data = tiny_data();
  data.x[5] = std::numeric_limits<float>::quiet_NaN();  // the diverged path too
  testing::internal::CaptureStdout();
  train_tiny("adam", 1, 0, data);
  EXPECT_EQ(testing::internal::GetCapturedStdout(), "");
}

TEST(Fit, ProgbarLoggerPrintsKerasLines) {
  TinyData data = tiny_data();
  data.x[5] = std::numeric_limits<float>::quiet_NaN();
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  ProgbarLogger progbar(out);
  train_tiny("adam", 3, 0, data, OnNaN::stop, {&progbar});
  std::rewind(out);
  std::string text;
  for (int ch; (ch = std::fgetc(out)) != EOF;) text += char(ch);
  std::fclose(out);
  EXPECT_EQ(text.rfind("Train on 320 samples, validate on 64 samples\nEpoch 1/3\n320/320 [====", 0), 0u) << text;
  EXPECT_NE(text.find("us/sample - loss: nan - binary_accuracy: "), std::string::npos) << text;
  EXPECT_NE(text.find(" - val_binary_accuracy: "), std::string::npos) << text;
  EXPECT_TRUE(text.ends_with("\nStopped: the loss became NaN or infinite.\n")) << text;
  EXPECT_EQ(text.find("Epoch 2/3"), std::string::npos) << text;
}

}  // namespace
}  // namespace dn

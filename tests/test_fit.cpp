// The fit loop on small synthetic data: every optimizer lowers the loss, runs
// are bit-identical with one thread, NaN stops training cleanly.
#include <omp.h>

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "data/dataset.hpp"
#include "data/noise.hpp"
#include "nn/models.hpp"
#include "train/fit.hpp"

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
                   OnNaN on_nan = OnNaN::stop) {
  auto model = make_model({"seed", "relu", 28, 28}, seed);
  auto loss = make_loss("binary_crossentropy");
  auto opt = make_optimizer(optimizer, std::nullopt);
  FitOptions options;
  options.epochs = epochs;
  options.seed = seed;
  options.verbose = 0;
  options.on_nan = on_nan;
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
  EXPECT_DOUBLE_EQ(batch_metric("accuracy", pred, truth), 0.5);
  EXPECT_THROW(batch_metric("f1", pred, truth), UsageError);
}

}  // namespace
}  // namespace dn

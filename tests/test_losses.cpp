// Losses: values on hand-computed examples, Keras's clipping, and backward against
// central finite differences of forward.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "eval/image_metrics.hpp"
#include "train/losses.hpp"

namespace dn {
namespace {

Tensor make(Shape shape, std::initializer_list<float> values) {
  Tensor t(std::move(shape));
  std::size_t i = 0;
  for (float v : values) t[i++] = v;
  EXPECT_EQ(i, t.size());
  return t;
}

// Central differences of loss.forward in double, one element of y_pred at a time. The
// step is taken in float (y_pred is float), and the difference is divided by the step
// actually taken. Checks |analytic - numeric| <= rel_tol * max(|numeric|, floor).
void expect_gradient_matches(const Loss& loss, Tensor y_pred, const Tensor& y_true, float h, double rel_tol,
                             double floor) {
  Tensor grad;
  loss.backward(y_pred, y_true, grad);
  ASSERT_EQ(grad.shape(), y_pred.shape());
  for (std::size_t i = 0; i < y_pred.size(); ++i) {
    const float p = y_pred[i];
    const float up = p + h, down = p - h;
    y_pred[i] = up;
    const double f_up = loss.forward(y_pred, y_true);
    y_pred[i] = down;
    const double f_down = loss.forward(y_pred, y_true);
    y_pred[i] = p;
    const double numeric = (f_up - f_down) / (static_cast<double>(up) - static_cast<double>(down));
    EXPECT_NEAR(grad[i], numeric, rel_tol * std::max(std::fabs(numeric), floor)) << loss.name() << " element " << i;
  }
}

TEST(Losses, NamesAndAliases) {
  EXPECT_EQ(make_loss("binary_crossentropy")->name(), "binary_crossentropy");
  EXPECT_EQ(make_loss("bce")->name(), "binary_crossentropy");
  EXPECT_EQ(make_loss("mean_squared_error")->name(), "mean_squared_error");
  EXPECT_EQ(make_loss("mse")->name(), "mean_squared_error");
  EXPECT_EQ(make_loss("categorical_crossentropy")->name(), "categorical_crossentropy");
  EXPECT_EQ(make_loss("cce")->name(), "categorical_crossentropy");
  EXPECT_EQ(make_loss("psnr")->name(), "psnr");
  EXPECT_THROW(make_loss("hinge"), UsageError);
}

TEST(Losses, ShapeMismatchAndEmptyBatchAreRejected) {
  const auto bce = make_loss("binary_crossentropy");
  Tensor a({2, 3}, 0.5f), b({3, 2}, 0.5f), d;
  EXPECT_THROW(bce->forward(a, b), std::invalid_argument);
  EXPECT_THROW(bce->backward(a, b, d), std::invalid_argument);
  Tensor empty({0, 3});
  EXPECT_THROW(bce->forward(empty, empty), std::invalid_argument);
}

// As Keras squeezes it, a trailing 1 may stand on either side: [N, H, W, 1] predictions
// go with [N, H, W] targets.
TEST(Losses, TrailingOneIsIgnored) {
  EXPECT_TRUE(keras_shapes_match({2, 3, 1}, {2, 3}));
  EXPECT_TRUE(keras_shapes_match({2, 3}, {2, 3, 1}));
  EXPECT_FALSE(keras_shapes_match({2, 3, 2}, {2, 3}));
  EXPECT_FALSE(keras_shapes_match({6}, {2, 3}));
  const auto mse = make_loss("mse");
  Tensor p({2, 3, 1}, 0.5f), y({2, 3}, 0.25f), d;
  EXPECT_DOUBLE_EQ(mse->forward(p, y), 0.0625);
  mse->backward(p, y, d);
  EXPECT_EQ(d.shape(), p.shape());
}

// -(y ln p + (1-y) ln(1-p)) per element: -ln .9, -ln .8, ln 2, -(.6 ln .7 + .4 ln .3),
// mean 0.42931133. Keras adds 1e-7 inside each log, which moves it by 1.6e-7.
TEST(Losses, BinaryCrossentropyValue) {
  const Tensor p = make({2, 2, 1}, {0.9f, 0.2f, 0.5f, 0.7f});
  const Tensor y = make({2, 2, 1}, {1.0f, 0.0f, 0.3f, 0.6f});
  EXPECT_NEAR(make_loss("binary_crossentropy")->forward(p, y), 0.42931117, 2e-7);
}

// Predictions are clipped to [1e-7, 1 - 1e-7] (float: 0.99999988): a certain wrong answer
// costs -ln(1e-7 + 1e-7) = 15.4249 or -ln(1.1920929e-7 + 1e-7) = 15.3332, not infinity,
// and the gradient is zero where the clip is active, as TensorFlow's clip gradient is.
TEST(Losses, BinaryCrossentropyClip) {
  const auto bce = make_loss("binary_crossentropy");
  EXPECT_NEAR(bce->forward(make({1}, {0.0f}), make({1}, {1.0f})), 15.424948, 1e-5);
  EXPECT_NEAR(bce->forward(make({1}, {1.0f}), make({1}, {0.0f})), 15.333239, 1e-5);
  EXPECT_NEAR(bce->forward(make({1}, {1e-12f}), make({1}, {1.0f})), 15.424948, 1e-5);

  const Tensor p = make({4}, {0.0f, 1.0f, 1e-12f, 0.5f});
  const Tensor y = make({4}, {1.0f, 0.0f, 1.0f, 1.0f});
  Tensor d;
  bce->backward(p, y, d);
  EXPECT_EQ(d[0], 0.0f);
  EXPECT_EQ(d[1], 0.0f);
  EXPECT_EQ(d[2], 0.0f);
  EXPECT_NEAR(d[3], -1.0 / 0.5 / 4.0, 1e-6);  // -y / p / N inside the clip range
}

TEST(Losses, BinaryCrossentropyNaNPropagates) {
  const auto bce = make_loss("binary_crossentropy");
  const Tensor p = make({2}, {std::numeric_limits<float>::quiet_NaN(), 0.5f});
  EXPECT_TRUE(std::isnan(bce->forward(p, make({2}, {1.0f, 0.0f}))));
}

// The loss's fast float log against double std::log over the whole clip range: with
// y = 1 a one-element loss is -ln(p + 1e-7), the sum p + 1e-7 taken in float as in TF.
TEST(Losses, BinaryCrossentropyLogAccuracy) {
  const auto bce = make_loss("binary_crossentropy");
  Tensor p({1}), y({1}, 1.0f);
  double worst = 0.0;
  for (double e = -7.0; e <= 0.0; e += 0.0007) {
    p[0] = static_cast<float>(std::pow(10.0, e));
    const float sum = std::min(std::max(p[0], 1e-7f), 1.0f - 1e-7f) + 1e-7f;
    const double expected = -std::log(static_cast<double>(sum));
    if (sum == 1.0f) continue;  // the loss is exactly 0 there
    worst = std::max(worst, std::fabs(bce->forward(p, y) - expected) / expected);
  }
  EXPECT_LT(worst, 3e-7);
}

// Tolerance: float per-element terms (relative error ~1e-7) differenced over a step of
// 1e-3 leave about 1e-4 relative noise; 1e-3 relative is asserted.
TEST(Losses, BinaryCrossentropyBackwardMatchesFiniteDifferences) {
  Rng rng(7);
  Tensor p({3, 4, 5, 1}), y({3, 4, 5, 1});
  for (std::size_t i = 0; i < p.size(); ++i) {
    p[i] = static_cast<float>(rng.uniform(0.1, 0.9));
    y[i] = i % 3 == 0 ? static_cast<float>(i % 2) : static_cast<float>(rng.uniform());
  }
  expect_gradient_matches(*make_loss("binary_crossentropy"), p, y, 1e-3f, 1e-3, 1e-3);
}

// (0.25 + 0.04 + 1.0 + 0.0) / 4 = 0.3225.
TEST(Losses, MeanSquaredErrorValue) {
  const Tensor p = make({2, 2}, {0.5f, 0.2f, 1.0f, 0.3f});
  const Tensor y = make({2, 2}, {1.0f, 0.0f, 0.0f, 0.3f});
  EXPECT_NEAR(make_loss("mse")->forward(p, y), 0.3225, 1e-7);
}

// The loss is quadratic, so central differences are exact up to rounding: 1e-5 relative.
TEST(Losses, MeanSquaredErrorBackwardMatchesFiniteDifferences) {
  Rng rng(8);
  Tensor p({2, 3, 3, 2}), y({2, 3, 3, 2});
  for (std::size_t i = 0; i < p.size(); ++i) {
    p[i] = static_cast<float>(rng.uniform(-1.0, 2.0));
    y[i] = static_cast<float>(rng.uniform());
  }
  expect_gradient_matches(*make_loss("mean_squared_error"), p, y, 1e-2f, 1e-5, 1e-3);
}

// Sample 1: mse (0.25 + 0.04) / 2 = 0.145, 10 log10 0.145 = -8.386;
// sample 2: mse (1 + 0) / 2 = 0.5, -3.0103. Mean -5.6982 (dB, negated PSNR).
TEST(Losses, PsnrValueIsTheMeanOfEachSamplesPsnr) {
  const Tensor p = make({2, 2}, {0.5f, 0.2f, 1.0f, 0.3f});
  const Tensor y = make({2, 2}, {1.0f, 0.0f, 0.0f, 0.3f});
  const double expected = (10.0 * std::log10(0.145) + 10.0 * std::log10(0.5)) / 2.0;
  EXPECT_NEAR(make_loss("psnr")->forward(p, y), expected, 1e-6);
  // A perfect sample is capped at 100 dB, not infinity.
  EXPECT_NEAR(make_loss("psnr")->forward(y, y), -100.0, 1e-6);
}

// Samples with very different errors, so the 1 / mse_i weights differ. The log bends
// sharply at small errors: a step of 1e-4 keeps the differences within 1e-4 relative.
TEST(Losses, PsnrBackwardMatchesFiniteDifferences) {
  Rng rng(11);
  Tensor p({3, 4, 3}), y({3, 4, 3});
  for (std::size_t i = 0; i < p.size(); ++i) {
    y[i] = static_cast<float>(rng.uniform());
    const double spread = i < 12 ? 0.05 : (i < 24 ? 0.3 : 1.0);
    p[i] = static_cast<float>(y[i] + rng.uniform(-spread, spread));
  }
  expect_gradient_matches(*make_loss("psnr"), p, y, 1e-4f, 1e-4, 1e-2);
}

// Row 1: -ln 0.5 = 0.693147. Row 2 (0.1, 0.1, 0.2) is scaled by its sum to (.25, .25, .5)
// and its target is class 1: -ln 0.25 = 1.386294. Mean 1.0397208.
TEST(Losses, CategoricalCrossentropyValue) {
  const Tensor p = make({2, 3}, {0.2f, 0.3f, 0.5f, 0.1f, 0.1f, 0.2f});
  const Tensor y = make({2, 3}, {0.0f, 0.0f, 1.0f, 0.0f, 1.0f, 0.0f});
  EXPECT_NEAR(make_loss("categorical_crossentropy")->forward(p, y), 1.0397208, 1e-6);
}

// A zero probability on the true class is clipped to 1e-7: loss -ln(1e-7) = 16.118.
TEST(Losses, CategoricalCrossentropyClip) {
  const Tensor p = make({1, 3}, {0.0f, 0.5f, 0.5f});
  const Tensor y = make({1, 3}, {1.0f, 0.0f, 0.0f});
  EXPECT_NEAR(make_loss("categorical_crossentropy")->forward(p, y), 16.118096, 1e-5);
}

// Unnormalised positive rows and soft targets, so the scaling by the row sum is exercised.
// The loss is computed in double: 1e-5 relative at a step of 1e-3.
TEST(Losses, CategoricalCrossentropyBackwardMatchesFiniteDifferences) {
  Rng rng(9);
  Tensor p({4, 5}), y({4, 5});
  for (std::size_t r = 0; r < 4; ++r) {
    double sum = 0.0;
    for (std::size_t k = 0; k < 5; ++k) {
      p[r * 5 + k] = static_cast<float>(rng.uniform(0.05, 0.6));
      y[r * 5 + k] = static_cast<float>(rng.uniform());
      sum += y[r * 5 + k];
    }
    for (std::size_t k = 0; k < 5; ++k) y[r * 5 + k] = static_cast<float>(y[r * 5 + k] / sum);
  }
  expect_gradient_matches(*make_loss("categorical_crossentropy"), p, y, 1e-3f, 1e-4, 1e-2);
}

// Block sums make the value independent of the thread count, to the bit.
TEST(Losses, ValueDoesNotDependOnThreadCount) {
  Rng rng(10);
  Tensor p({128, 28, 28, 1}), y({128, 28, 28, 1});  // 25 blocks of 4096: enough to use threads
  for (std::size_t i = 0; i < p.size(); ++i) {
    p[i] = static_cast<float>(rng.uniform());
    y[i] = static_cast<float>(rng.uniform());
  }
  const auto bce = make_loss("binary_crossentropy");
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const double one = bce->forward(p, y);
  omp_set_num_threads(3);
  const double three = bce->forward(p, y);
  omp_set_num_threads(threads);
  EXPECT_EQ(std::memcmp(&one, &three, sizeof one), 0);
}

}  // namespace
}  // namespace dn

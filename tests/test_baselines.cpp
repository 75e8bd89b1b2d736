// The OpenCV baselines against cases worked out by hand, and the quality table's
// confidence interval against a direct computation.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "data/dataset.hpp"
#include "eval/baselines.hpp"
#include "experiments/quality.hpp"

namespace dn {
namespace {

Tensor image(int h, int w, const std::vector<float>& values) {
  Tensor t({1, h, w});
  for (std::size_t i = 0; i < values.size(); ++i) t[i] = values[i];
  return t;
}

// Values in 1/255 steps, so the 8-bit methods see them exactly.
float level(int v) { return static_cast<float>(v) / 255.0f; }

TEST(Baselines, MedianOfAFiveByFiveByHand) {
  // 3x3 windows of the inner pixels, sorted by hand: e.g. centre (2, 2) sees
  // {7 8 9 12 13 14 17 18 19} with 13 replaced by 250 -> median 14.
  std::vector<float> v(25);
  for (int i = 0; i < 25; ++i) v[std::size_t(i)] = level(i + 1);
  v[12] = level(250);  // an outlier at the centre
  const Tensor x = image(5, 5, v);
  Tensor y;
  apply_baseline({BaselineKind::median, 3}, x, y);
  ASSERT_EQ(y.shape(), x.shape());
  // centre: {7,8,9,12,250,14,17,18,19} -> 14; (1,1): {1,2,3,6,7,8,11,12,250} -> 7;
  // (1,3): {3,4,5,8,9,10,250,14,15} -> 9; (3,2): {250,12,14,17,18,19,22,23,24} -> 19.
  EXPECT_FLOAT_EQ(y[12], level(14));
  EXPECT_FLOAT_EQ(y[6], level(7));
  EXPECT_FLOAT_EQ(y[8], level(9));
  EXPECT_FLOAT_EQ(y[17], level(19));
  // A 5x5 median over the whole image at its centre: 25 values 1..25 with 13 -> 250: 14.
  apply_baseline({BaselineKind::median, 5}, x, y);
  EXPECT_FLOAT_EQ(y[12], level(14));
}

TEST(Baselines, GaussianBlurOfAnImpulseIsTheNormalisedKernel) {
  // sigma 1: window 7 (2 ceil(3) + 1); the centre of an impulse's blur is g(0)^2 with
  // g(0) = 1 / sum_{k=-3..3} exp(-k^2 / 2), and the pixel one to the right g(0) g(1).
  Tensor x({1, 9, 9});
  x[40] = 1.0f;
  Tensor y;
  apply_baseline({BaselineKind::gaussian_blur, 1.0}, x, y);
  double sum = 0;
  for (int k = -3; k <= 3; ++k) sum += std::exp(-k * k / 2.0);
  const double g0 = 1.0 / sum, g1 = std::exp(-0.5) / sum;
  EXPECT_NEAR(y[40], g0 * g0, 1e-6);
  EXPECT_NEAR(y[41], g0 * g1, 1e-6);
  EXPECT_NEAR(y[31], g1 * g0, 1e-6);
  EXPECT_NEAR(y[0], 0.0, 1e-6);  // farther than 3 pixels in both directions
}

TEST(Baselines, BilateralKeepsAnEdgeAndNonLocalMeansAFlatImage) {
  // A step from 0.2 to 0.8: with sigma_color 0.05 the other side's weight is
  // exp(-0.36 / 0.005) ~ 1e-31, so every pixel keeps its value.
  std::vector<float> v(36);
  for (int i = 0; i < 36; ++i) v[std::size_t(i)] = (i % 6) < 3 ? 0.2f : 0.8f;
  const Tensor step = image(6, 6, v);
  Tensor y;
  apply_baseline({BaselineKind::bilateral, 0.05}, step, y);
  for (std::size_t i = 0; i < v.size(); ++i) EXPECT_NEAR(y[i], v[i], 1e-6) << i;
  // A wide sigma_color averages across it: the pixel beside the edge moves toward 0.8.
  apply_baseline({BaselineKind::bilateral, 10.0}, step, y);
  EXPECT_GT(y[2], 0.3f);
  // Non-local means of a flat image: every patch matches, the average is the value.
  const Tensor flat = image(10, 10, std::vector<float>(100, level(77)));
  apply_baseline({BaselineKind::nl_means, 30}, flat, y);
  for (std::size_t i = 0; i < 100; ++i) EXPECT_FLOAT_EQ(y[i], level(77));
}

TEST(Baselines, RefusesParametersOpenCvWouldNot) {
  Tensor x({1, 8, 8}), y;
  EXPECT_THROW(apply_baseline({BaselineKind::median, 4}, x, y), UsageError);
  EXPECT_THROW(apply_baseline({BaselineKind::gaussian_blur, 0}, x, y), UsageError);
  EXPECT_THROW(apply_baseline({BaselineKind::nl_means, -1}, x, y), UsageError);
  Tensor colour({1, 8, 8, 3});
  EXPECT_THROW(apply_baseline({BaselineKind::median, 3}, colour, y), DataError);
}

TEST(QualityTable, ConfidenceIntervalIsTheDirectComputation) {
  // values 1, 2, 3, 4, 10: mean 4, sample variance (9 + 4 + 1 + 0 + 36) / 4 = 12.5.
  const std::vector<double> v = {1, 2, 3, 4, 10};
  const MeanCI ci = mean_ci95(v);
  EXPECT_DOUBLE_EQ(ci.mean, 4.0);
  EXPECT_NEAR(ci.half_width, 1.96 * std::sqrt(12.5 / 5.0), 1e-12);
  EXPECT_EQ(mean_ci95(std::vector<double>{3.0}).half_width, 0.0);
}

TEST(QualityTable, BaselinesAreTunedOnValidationAndScoredPerImage) {
  const Dataset test = make_synthetic_digits(40, 1), tune = make_synthetic_digits(20, 2);
  QualityOptions options;
  options.noises = {"gaussian:0.3", "salt-pepper:0.2"};
  options.picture_noise = "gaussian:0.3";
  options.picture_count = 4;
  const QualityResult r = measure_quality(options, test.images, tune.images);
  const QualityTable& t = r.table;
  ASSERT_EQ(t.rows.size(), 5u);  // noisy input and four baselines
  EXPECT_EQ(t.test_images, 40u);
  EXPECT_EQ(t.tune_images, 20u);
  const QualityCell& noisy = t.rows[0].cells[1];
  EXPECT_FALSE(noisy.param);
  for (std::size_t row = 1; row < t.rows.size(); ++row)
    for (const QualityCell& cell : t.rows[row].cells) {
      ASSERT_TRUE(cell.param);
      const auto grid = baseline_grid(static_cast<BaselineKind>(row - 1));
      EXPECT_NE(std::find(grid.begin(), grid.end(), *cell.param), grid.end());
      EXPECT_GT(cell.psnr.half_width, 0.0);
      EXPECT_GE(cell.binary_accuracy_ceiling, cell.binary_accuracy);
    }
  // A median filter removes salt-and-pepper noise far better than nothing.
  EXPECT_GT(t.rows[1].cells[1].psnr.mean, noisy.psnr.mean + 3.0);
  const nlohmann::json j = t.to_json();
  EXPECT_EQ(j["rows"][1]["cells"]["salt-pepper:0.2"]["ksize"], *t.rows[1].cells[1].param);
  EXPECT_EQ(r.digits.height > 0, true);
  EXPECT_NE(t.markdown({"gaussian:0.3"}).find("| median |"), std::string::npos);
}

}  // namespace
}  // namespace dn

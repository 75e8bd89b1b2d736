// Image metrics and classification metrics on hand-made examples; SSIM against values
// from scikit-image and against a direct implementation of the paper's formula.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

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

Tensor random_images(int n, int h, int w, std::uint64_t seed) {
  Rng rng(seed);
  Tensor t({n, h, w, 1});
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(rng.uniform());
  return t;
}

// SSIM straight from Wang et al. (2004) with an 11x11 Gaussian window (sigma 1.5, weights
// normalised to sum 1), K1 0.01, K2 0.03, data range 1, averaged over the positions whose
// window lies inside the image. Everything in double, no separable filtering.
double ssim_direct(const float* x, const float* y, int h, int w) {
  double g[11], gsum = 0;
  for (int i = 0; i < 11; ++i) gsum += g[i] = std::exp(-(i - 5) * (i - 5) / (2 * 1.5 * 1.5));
  double total = 0;
  int count = 0;
  for (int r = 5; r + 5 < h; ++r) {
    for (int c = 5; c + 5 < w; ++c) {
      double mx = 0, my = 0;
      for (int i = 0; i < 11; ++i)
        for (int j = 0; j < 11; ++j) {
          const double wt = g[i] * g[j] / (gsum * gsum);
          mx += wt * x[(r + i - 5) * w + c + j - 5];
          my += wt * y[(r + i - 5) * w + c + j - 5];
        }
      double vx = 0, vy = 0, cxy = 0;
      for (int i = 0; i < 11; ++i)
        for (int j = 0; j < 11; ++j) {
          const double wt = g[i] * g[j] / (gsum * gsum);
          const double dx = x[(r + i - 5) * w + c + j - 5] - mx, dy = y[(r + i - 5) * w + c + j - 5] - my;
          vx += wt * dx * dx;
          vy += wt * dy * dy;
          cxy += wt * dx * dy;
        }
      const double c1 = 1e-4, c2 = 9e-4;
      total += (2 * mx * my + c1) * (2 * cxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2));
      ++count;
    }
  }
  return total / count;
}

TEST(Metrics, BinaryAccuracyDoesNotThresholdTargets) {
  // Pairs (pred, true): (.3, 0) match, (.7, 1) match, (.9, .5) no, (.4, 1) no, (.6, 0) no,
  // (.1, .2) no: a 0.2 target never equals a thresholded 0 or 1. And 0.5 is not > 0.5.
  const Tensor p = make({2, 4}, {0.3f, 0.7f, 0.9f, 0.4f, 0.6f, 0.1f, 0.5f, 0.5f});
  const Tensor y = make({2, 4}, {0.0f, 1.0f, 0.5f, 1.0f, 0.0f, 0.2f, 0.0f, 1.0f});
  EXPECT_DOUBLE_EQ(binary_accuracy(p, y), 3.0 / 8.0);
  EXPECT_DOUBLE_EQ(binary_accuracy_ceiling(y), 6.0 / 8.0);
  EXPECT_THROW(binary_accuracy(p, make({8}, {0, 0, 0, 0, 0, 0, 0, 0})), std::invalid_argument);
  Tensor p1 = p;  // predictions with a trailing channel of 1, as a model gives them
  p1.reshape({2, 4, 1});
  EXPECT_DOUBLE_EQ(binary_accuracy(p1, y), 3.0 / 8.0);
}

TEST(Metrics, MseAndPsnr) {
  const Tensor p = make({1, 2, 2}, {0.5f, 0.5f, 0.5f, 0.5f});
  const Tensor y = make({1, 2, 2}, {0.4f, 0.6f, 0.5f, 0.5f});
  EXPECT_NEAR(mse(p, y), 0.005, 1e-9);
  EXPECT_NEAR(psnr_from_mse(0.01), 20.0, 1e-12);
  EXPECT_NEAR(psnr_from_mse(1e-3), 30.0, 1e-12);
  EXPECT_EQ(psnr_from_mse(0.0), kPsnrCap);    // identical images
  EXPECT_EQ(psnr_from_mse(1e-12), kPsnrCap);  // 120 dB, capped
  EXPECT_TRUE(std::isnan(psnr_from_mse(std::numeric_limits<double>::quiet_NaN())));
}

TEST(Metrics, SsimOfIdenticalImagesIsOne) {
  const Tensor a = random_images(1, 28, 28, 1);
  EXPECT_NEAR(ssim(a.data(), a.data(), 28, 28), 1.0, 1e-12);
}

// Constant images a and b have no variance, so SSIM = (2ab + C1) / (a^2 + b^2 + C1):
// for 0.2 and 0.6, 0.2401 / 0.4001.
TEST(Metrics, SsimOfConstantImages) {
  const Tensor a({1, 12, 15}, 0.2f), b({1, 12, 15}, 0.6f);
  const double a2 = static_cast<double>(0.2f), b2 = static_cast<double>(0.6f);
  EXPECT_NEAR(ssim(a.data(), b.data(), 12, 15), (2 * a2 * b2 + 1e-4) / (a2 * a2 + b2 * b2 + 1e-4), 1e-12);
  EXPECT_NEAR(ssim(a.data(), b.data(), 12, 15), 0.2401 / 0.4001, 1e-7);
}

TEST(Metrics, SsimMatchesDirectFormula) {
  for (auto [h, w] : {std::pair{28, 28}, std::pair{11, 11}, std::pair{13, 20}}) {
    const Tensor a = random_images(1, h, w, 2), b = random_images(1, h, w, 3);
    Tensor c = a;  // a noisy copy of a, so that SSIM is far from 0
    for (std::size_t i = 0; i < c.size(); ++i) c[i] = std::clamp(c[i] + 0.3f * (b[i] - 0.5f), 0.0f, 1.0f);
    EXPECT_NEAR(ssim(a.data(), b.data(), h, w), ssim_direct(a.data(), b.data(), h, w), 1e-12) << h << "x" << w;
    EXPECT_NEAR(ssim(a.data(), c.data(), h, w), ssim_direct(a.data(), c.data(), h, w), 1e-12) << h << "x" << w;
  }
}

// Reference values from scikit-image 0.19.3, structural_similarity(x, y,
// gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0) on
// these images (as float32, then float64):
//   a[i, j] = ((7i + 13j) % 29) / 28         b[i, j] = ((5i + 3j + 1) % 31) / 30
//   s[i, j] = ((i + 2j) % 37) / 36           t = clip(s + 0.03 (((i j) % 5) - 2), 0, 1)
TEST(Metrics, SsimMatchesScikitImage) {
  struct Case {
    int h, w;
    double ab, st;
  };
  for (const Case& k : {Case{28, 28, 0.010696250385305037, 0.9378017731912415},
                        Case{13, 17, 0.023417708580317456, 0.9062506864615442}}) {
    std::vector<float> a, b, s, t;
    for (int i = 0; i < k.h; ++i)
      for (int j = 0; j < k.w; ++j) {
        a.push_back(static_cast<float>((i * 7 + j * 13) % 29) / 28.0f);
        b.push_back(static_cast<float>((i * 5 + j * 3 + 1) % 31) / 30.0f);
        const float sv = static_cast<float>((i + 2 * j) % 37) / 36.0f;
        const float noise = (static_cast<float>((i * j) % 5) - 2.0f) * 0.03f;
        s.push_back(sv);
        t.push_back(std::clamp(sv + noise, 0.0f, 1.0f));
      }
    EXPECT_NEAR(ssim(a.data(), b.data(), k.h, k.w), k.ab, 1e-7);
    EXPECT_NEAR(ssim(s.data(), t.data(), k.h, k.w), k.st, 1e-7);
  }
}

TEST(Metrics, SsimNeedsElevenPixels) {
  const Tensor a({1, 10, 28}, 0.5f);
  EXPECT_THROW(ssim(a.data(), a.data(), 10, 28), DataError);
  ImageMetrics m;
  EXPECT_THROW(m.add(a, a), DataError);
}

// Image 0 is off by 0.1 everywhere (MSE 0.01, 20 dB), image 1 is exact (capped at 100 dB):
// mean PSNR 60 dB, while the whole set's MSE 0.005 gives 23.0103 dB.
TEST(Metrics, ImageQualityOfKnownCase) {
  Tensor truth({2, 12, 12, 1}, 0.5f), pred({2, 12, 12, 1}, 0.5f);
  for (std::size_t i = 0; i < 144; ++i) pred[i] = 0.6f;
  const ImageQuality q = image_quality(pred, truth);
  EXPECT_EQ(q.count, 2);
  EXPECT_NEAR(q.mse, 0.005, 1e-8);
  EXPECT_NEAR(q.psnr, (20.0 + kPsnrCap) / 2, 1e-5);
  EXPECT_NEAR(q.psnr_set, 10 * std::log10(1 / 0.005), 1e-5);
  EXPECT_DOUBLE_EQ(q.binary_accuracy, 0.0);  // 0.5 targets never match
  EXPECT_DOUBLE_EQ(q.binary_accuracy_ceiling, 0.0);
  EXPECT_NEAR(q.ssim, ((0.6 * 0.5 * 2 + 1e-4) / (0.36 + 0.25 + 1e-4) + 1.0) / 2, 1e-6);
  EXPECT_NEAR(q.bce, make_loss("binary_crossentropy")->forward(pred, truth), 1e-6 * q.bce);
}

// Batches of 3, 3 and 4 give the same numbers, to the bit, as the set at once, and so
// do one and three threads.
TEST(Metrics, StreamingIsExactAndThreadIndependent) {
  const Tensor truth = random_images(10, 28, 28, 4), pred = random_images(10, 28, 28, 5);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(3);
  const ImageQuality whole = image_quality(pred, truth);
  omp_set_num_threads(1);
  ImageMetrics m;
  int begin = 0;
  for (int count : {3, 3, 4}) {
    Tensor p({count, 28, 28}), t({count, 28, 28});
    std::memcpy(p.data(), pred.data() + begin * 784, p.size() * sizeof(float));
    std::memcpy(t.data(), truth.data() + begin * 784, t.size() * sizeof(float));
    m.add(p, t);
    begin += count;
  }
  omp_set_num_threads(threads);
  const ImageQuality batched = m.result();
  EXPECT_EQ(batched.count, 10);
  EXPECT_EQ(batched.mse, whole.mse);
  EXPECT_EQ(batched.psnr, whole.psnr);
  EXPECT_EQ(batched.psnr_set, whole.psnr_set);
  EXPECT_EQ(batched.ssim, whole.ssim);
  EXPECT_EQ(batched.binary_accuracy, whole.binary_accuracy);
  EXPECT_EQ(batched.bce, whole.bce);
}

TEST(Metrics, ImageMetricsRejectsBadShapes) {
  ImageMetrics m;
  EXPECT_THROW(m.result(), std::invalid_argument);  // nothing added yet
  EXPECT_THROW(m.add(Tensor({2, 12, 12, 3}), Tensor({2, 12, 12, 3})), std::invalid_argument);
  EXPECT_THROW(m.add(Tensor({2, 12, 12}), Tensor({2, 12, 13})), std::invalid_argument);
  m.add(Tensor({2, 12, 12, 1}), Tensor({2, 12, 12}));  // a trailing 1 on one side only is fine
  EXPECT_EQ(m.result().count, 2);
}

// Rows: argmax 2 (label 2), argmax 0 (label 1), a tie between 1 and 3 goes to 1 (label 1),
// argmax 3 (label 3).
TEST(Metrics, CategoricalAccuracyAndConfusionMatrix) {
  const Tensor probs = make({4, 4}, {0.1f, 0.2f, 0.6f, 0.1f,  //
                                     0.7f, 0.2f, 0.1f, 0.0f,  //
                                     0.1f, 0.4f, 0.1f, 0.4f,  //
                                     0.0f, 0.1f, 0.2f, 0.7f});
  const std::vector<std::uint8_t> labels = {2, 1, 1, 3};
  EXPECT_DOUBLE_EQ(categorical_accuracy(probs, labels), 0.75);

  ConfusionMatrix cm(4);
  cm.add(probs, labels);
  cm.add(probs, labels);  // accumulates
  EXPECT_EQ(cm.total(), 8);
  EXPECT_EQ(cm.count(2, 2), 2);
  EXPECT_EQ(cm.count(1, 0), 2);
  EXPECT_EQ(cm.count(1, 1), 2);
  EXPECT_EQ(cm.count(3, 3), 2);
  EXPECT_EQ(cm.count(0, 0), 0);
  EXPECT_DOUBLE_EQ(cm.accuracy(), 0.75);
  const auto rows = cm.rows();
  ASSERT_EQ(rows.size(), 4u);
  for (int t = 0; t < 4; ++t)
    for (int p = 0; p < 4; ++p) EXPECT_EQ(rows[static_cast<std::size_t>(t)][static_cast<std::size_t>(p)], cm.count(t, p));

  const std::vector<std::uint8_t> bad = {2, 1, 4, 3};
  EXPECT_THROW(cm.add(probs, bad), DataError);
  EXPECT_EQ(cm.total(), 8);  // nothing counted from the rejected batch
  EXPECT_THROW(cm.add(probs, std::vector<std::uint8_t>{1, 2}), std::invalid_argument);
}

}  // namespace
}  // namespace dn

#include "eval/image_metrics.hpp"

#include <array>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/over_samples.hpp"

namespace dn {

namespace {

void check_shapes(const char* what, const Tensor& y_pred, const Tensor& y_true) {
  if (!keras_shapes_match(y_pred.shape(), y_true.shape()))
    throw std::invalid_argument(std::string(what) + ": y_pred has shape " + shape_str(y_pred.shape()) +
                                " but y_true has shape " + shape_str(y_true.shape()));
}

struct ImageDims {
  std::size_t n, h, w;
};

ImageDims image_dims(const Tensor& t) {
  const bool ok = (t.rank() == 3 || (t.rank() == 4 && t.dim(3) == 1));
  if (!ok) throw std::invalid_argument("image metrics need [N, H, W] or [N, H, W, 1], got " + shape_str(t.shape()));
  return {static_cast<std::size_t>(t.dim(0)), static_cast<std::size_t>(t.dim(1)), static_cast<std::size_t>(t.dim(2))};
}

std::size_t count_matches(const float* p, const float* y, std::size_t n) {
  std::size_t matches = 0;
  for (std::size_t i = 0; i < n; ++i) matches += (y[i] == (p[i] > 0.5f ? 1.0f : 0.0f));
  return matches;
}

std::size_t count_exact(const float* y, std::size_t n) {
  std::size_t exact = 0;
  for (std::size_t i = 0; i < n; ++i) exact += (y[i] == 0.0f || y[i] == 1.0f);
  return exact;
}

// Binary cross-entropy summed over n pixels, as the binary_crossentropy loss defines it
// (train/losses.hpp: float32 clip to [1e-7, 1 - 1e-7], 1e-7 inside each log), here in
// double: evaluation is not on the training path, and the metric layer stays below it.
double cross_entropy(const float* p, const float* y, std::size_t n) {
  constexpr float eps = 1e-7f, lo = eps, hi = 1.0f - eps;
  double s = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const float c = p[i] < lo ? lo : p[i] > hi ? hi : p[i];  // a NaN stays NaN
    const double t = y[i];
    s -= t * std::log(static_cast<double>(c) + eps) + (1.0 - t) * std::log(1.0 - c + eps);
  }
  return s;
}

double squared_error(const float* p, const float* y, std::size_t n) {
  double s = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double e = static_cast<double>(p[i]) - static_cast<double>(y[i]);
    s += e * e;
  }
  return s;
}

// SSIM window: 11 taps of a Gaussian with sigma 1.5, normalised to sum 1 (skimage's
// truncate 3.5 gives radius int(3.5 * 1.5 + 0.5) = 5; TF's filter size is 11).
constexpr int kRadius = 5;
constexpr int kTaps = 2 * kRadius + 1;

void check_ssim_size(int height, int width) {
  if (height < kTaps || width < kTaps)
    throw DataError("SSIM needs images of at least 11x11 pixels, got " + std::to_string(height) + "x" +
                    std::to_string(width));
}

const std::array<double, kTaps>& gaussian_window() {
  static const std::array<double, kTaps> window = [] {
    std::array<double, kTaps> g{};
    double sum = 0.0;
    for (int i = 0; i < kTaps; ++i) {
      const double x = i - kRadius;
      g[static_cast<std::size_t>(i)] = std::exp(-x * x / (2.0 * 1.5 * 1.5));
      sum += g[static_cast<std::size_t>(i)];
    }
    for (double& v : g) v /= sum;
    return g;
  }();
  return window;
}

}  // namespace

bool keras_shapes_match(const Shape& y_pred, const Shape& y_true) {
  const auto with_one = [](Shape s) {
    s.push_back(1);
    return s;
  };
  return y_pred == y_true || y_pred == with_one(y_true) || with_one(y_pred) == y_true;
}

double binary_accuracy(const Tensor& y_pred, const Tensor& y_true) {
  check_shapes("binary_accuracy", y_pred, y_true);
  if (y_pred.empty()) throw std::invalid_argument("binary_accuracy: empty tensors");
  // Sample by sample on the threads that made them (core/over_samples.hpp).
  std::vector<std::size_t> matches(static_cast<std::size_t>(y_pred.rank() > 1 ? y_pred.dim(0) : 1));
  const float *p = y_pred.data(), *y = y_true.data();
  over_samples(y_pred, std::size_t{1} << 13, [&](int i, std::size_t first, std::size_t count) {
    matches[static_cast<std::size_t>(i)] = count_matches(p + first, y + first, count);
  });
  return static_cast<double>(std::accumulate(matches.begin(), matches.end(), std::size_t{0})) /
         static_cast<double>(y_pred.size());
}

double binary_accuracy_ceiling(const Tensor& y_true) {
  if (y_true.empty()) throw std::invalid_argument("binary_accuracy_ceiling: empty tensor");
  return static_cast<double>(count_exact(y_true.data(), y_true.size())) / static_cast<double>(y_true.size());
}

double mse(const Tensor& y_pred, const Tensor& y_true) {
  check_shapes("mse", y_pred, y_true);
  if (y_pred.empty()) throw std::invalid_argument("mse: empty tensors");
  return squared_error(y_pred.data(), y_true.data(), y_pred.size()) / static_cast<double>(y_pred.size());
}

double psnr_from_mse(double mse) {
  if (mse <= 0.0) return kPsnrCap;
  const double psnr = 10.0 * std::log10(1.0 / mse);
  return psnr > kPsnrCap ? kPsnrCap : psnr;  // written so that a NaN MSE stays NaN
}

// Separable filtering of the five moments x, y, x^2, y^2, xy over the valid region:
// a horizontal pass for every row, then a vertical pass, all in double.
double ssim(const float* x, const float* y, int height, int width) {
  check_ssim_size(height, width);
  const auto& g = gaussian_window();
  const std::size_t h = static_cast<std::size_t>(height), w = static_cast<std::size_t>(width);
  const std::size_t ow = w - 2 * kRadius, oh = h - 2 * kRadius;
  // rows[m][r * ow + c]: moment m filtered along row r, output column c.
  std::array<std::vector<double>, 5> rows;
  for (auto& r : rows) r.assign(h * ow, 0.0);
  for (std::size_t r = 0; r < h; ++r) {
    for (std::size_t c = 0; c < ow; ++c) {
      double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
      for (std::size_t k = 0; k < static_cast<std::size_t>(kTaps); ++k) {
        const double a = x[r * w + c + k], b = y[r * w + c + k];
        sx += g[k] * a;
        sy += g[k] * b;
        sxx += g[k] * a * a;
        syy += g[k] * b * b;
        sxy += g[k] * a * b;
      }
      const std::size_t i = r * ow + c;
      rows[0][i] = sx;
      rows[1][i] = sy;
      rows[2][i] = sxx;
      rows[3][i] = syy;
      rows[4][i] = sxy;
    }
  }
  constexpr double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;  // (K * data range)^2, range 1
  double total = 0.0;
  for (std::size_t r = 0; r < oh; ++r) {
    for (std::size_t c = 0; c < ow; ++c) {
      std::array<double, 5> mu{};
      for (std::size_t k = 0; k < static_cast<std::size_t>(kTaps); ++k)
        for (std::size_t m = 0; m < 5; ++m) mu[m] += g[k] * rows[m][(r + k) * ow + c];
      const double ux = mu[0], uy = mu[1];
      const double vx = mu[2] - ux * ux, vy = mu[3] - uy * uy, vxy = mu[4] - ux * uy;
      total += ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
    }
  }
  return total / static_cast<double>(oh * ow);
}

void ImageMetrics::add(const Tensor& y_pred, const Tensor& y_true) {
  check_shapes("image metrics", y_pred, y_true);
  const ImageDims d = image_dims(y_true);
  if (d.n == 0) return;
  const std::size_t pixels = d.h * d.w;
  std::vector<double> ce(d.n), se(d.n), sim(d.n);
  std::vector<std::size_t> matches(d.n), exact(d.n);
  const float* p = y_pred.data();
  const float* y = y_true.data();
  const int height = static_cast<int>(d.h), width = static_cast<int>(d.w);
  check_ssim_size(height, width);  // here, because an exception must not leave the parallel loop
#pragma omp parallel for schedule(static)
  for (std::size_t i = 0; i < d.n; ++i) {
    const float* pi = p + i * pixels;
    const float* yi = y + i * pixels;
    ce[i] = cross_entropy(pi, yi, pixels);
    se[i] = squared_error(pi, yi, pixels);
    matches[i] = count_matches(pi, yi, pixels);
    exact[i] = count_exact(yi, pixels);
    sim[i] = ssim(pi, yi, height, width);
  }
  for (std::size_t i = 0; i < d.n; ++i) {
    cross_entropy_ += ce[i];
    squared_error_ += se[i];
    psnr_sum_ += psnr_from_mse(se[i] / static_cast<double>(pixels));
    ssim_sum_ += sim[i];
    matches_ += static_cast<std::int64_t>(matches[i]);
    exact_ += static_cast<std::int64_t>(exact[i]);
  }
  images_ += static_cast<std::int64_t>(d.n);
  pixels_ += static_cast<std::int64_t>(d.n * pixels);
}

ImageQuality ImageMetrics::result() const {
  if (images_ == 0) throw std::invalid_argument("image metrics: no images were added");
  const double px = static_cast<double>(pixels_), n = static_cast<double>(images_);
  ImageQuality q;
  q.count = images_;
  q.bce = cross_entropy_ / px;
  q.mse = squared_error_ / px;
  q.psnr = psnr_sum_ / n;
  q.psnr_set = psnr_from_mse(q.mse);
  q.ssim = ssim_sum_ / n;
  q.binary_accuracy = static_cast<double>(matches_) / px;
  q.binary_accuracy_ceiling = static_cast<double>(exact_) / px;
  return q;
}

ImageQuality image_quality(const Tensor& y_pred, const Tensor& y_true) {
  ImageMetrics m;
  m.add(y_pred, y_true);
  return m.result();
}

ConfusionMatrix::ConfusionMatrix(int num_classes)
    : k_(num_classes), counts_(static_cast<std::size_t>(num_classes) * static_cast<std::size_t>(num_classes)) {
  if (num_classes < 1) throw std::invalid_argument("confusion matrix needs at least one class");
}

void ConfusionMatrix::add(const Tensor& probs, std::span<const std::uint8_t> labels) {
  if (probs.rank() != 2 || probs.dim(1) != k_)
    throw std::invalid_argument("confusion matrix over " + std::to_string(k_) + " classes got probabilities " +
                                shape_str(probs.shape()));
  const std::size_t n = static_cast<std::size_t>(probs.dim(0)), k = static_cast<std::size_t>(k_);
  if (labels.size() != n)
    throw std::invalid_argument(std::to_string(n) + " predictions but " + std::to_string(labels.size()) + " labels");
  for (std::size_t i = 0; i < n; ++i) {
    if (labels[i] >= k)
      throw DataError("label " + std::to_string(labels[i]) + " of sample " + std::to_string(i) +
                      " is outside the " + std::to_string(k) + " classes");
  }
  for (std::size_t i = 0; i < n; ++i) {
    const float* row = probs.data() + i * k;
    std::size_t best = 0;
    for (std::size_t j = 1; j < k; ++j)
      if (row[j] > row[best]) best = j;
    ++counts_[labels[i] * k + best];
  }
}

std::int64_t ConfusionMatrix::total() const {
  std::int64_t t = 0;
  for (std::int64_t c : counts_) t += c;
  return t;
}

double ConfusionMatrix::accuracy() const {
  const std::int64_t t = total();
  if (t == 0) throw std::invalid_argument("confusion matrix is empty");
  std::int64_t diagonal = 0;
  for (int i = 0; i < k_; ++i) diagonal += count(i, i);
  return static_cast<double>(diagonal) / static_cast<double>(t);
}

std::vector<std::vector<std::int64_t>> ConfusionMatrix::rows() const {
  std::vector<std::vector<std::int64_t>> out(static_cast<std::size_t>(k_));
  for (int t = 0; t < k_; ++t)
    for (int p = 0; p < k_; ++p) out[static_cast<std::size_t>(t)].push_back(count(t, p));
  return out;
}

double categorical_accuracy(const Tensor& probs, std::span<const std::uint8_t> labels) {
  if (probs.rank() != 2) throw std::invalid_argument("categorical_accuracy needs probabilities [N, K]");
  ConfusionMatrix m(probs.dim(1));
  m.add(probs, labels);
  return m.accuracy();
}

}  // namespace dn

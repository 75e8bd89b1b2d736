#pragma once
// Image-quality and classification metrics.
//
// Image tensors are batches [N, H, W] or [N, H, W, 1] with values in [0, 1] (data range 1);
// y_pred and y_true may differ by that trailing 1, as in Keras (keras_shapes_match).
// - binary_accuracy: Keras's metric, mean(y_true == (y_pred > 0.5)) with y_true NOT
//   thresholded, so only exact-0 and exact-1 target pixels can match; its ceiling is the
//   fraction of such pixels (DESIGN.md section 1).
// - PSNR = 10 log10(1 / MSE) per image; identical images (MSE 0, PSNR infinite) count as
//   kPsnrCap dB so that means stay finite.
// - SSIM as scikit-image's structural_similarity(gaussian_weights=True, sigma=1.5,
//   use_sample_covariance=False, data_range=1) and TensorFlow's tf.image.ssim compute it:
//   11x11 Gaussian window (sigma 1.5), K1 0.01, K2 0.03, and the mean of the SSIM map over
//   the "valid" region only, the pixels whose window lies inside the image ((H-10) x (W-10)).
//   That is TF's valid filtering, and skimage's crop of 5 pixels per side, which removes
//   every pixel its border reflection touched: the two agree exactly.
// Means over images are taken in image order with per-image values computed in parallel,
// so results do not depend on the thread count or on how a set is split into batches.
#include <cstdint>
#include <span>
#include <vector>

#include "core/tensor.hpp"

namespace dn {

inline constexpr double kPsnrCap = 100.0;

// Whether y_pred and y_true go together: equal shapes, or equal but for a trailing
// dimension of size 1 on one side, which Keras squeezes away ([N, 28, 28] targets with
// [N, 28, 28, 1] predictions). Metrics and losses throw std::invalid_argument otherwise.
bool keras_shapes_match(const Shape& y_pred, const Shape& y_true);

// Element-wise over any shape.
double binary_accuracy(const Tensor& y_pred, const Tensor& y_true);
double binary_accuracy_ceiling(const Tensor& y_true);
double mse(const Tensor& y_pred, const Tensor& y_true);

// 10 log10(1 / mse), at most kPsnrCap.
double psnr_from_mse(double mse);

// SSIM of one pair of height x width row-major images; DataError if a side is below 11.
double ssim(const float* x, const float* y, int height, int width);

struct ImageQuality {
  std::int64_t count = 0;   // images
  double bce = 0;           // binary cross-entropy as the loss computes it, mean over pixels
  double mse = 0;           // mean over all pixels
  double psnr = 0;          // mean over images of each image's PSNR
  double psnr_set = 0;      // PSNR of the whole set's MSE
  double ssim = 0;          // mean over images
  double binary_accuracy = 0;
  double binary_accuracy_ceiling = 0;
};

// Accumulates metrics batch by batch, so a large set never has to be held whole.
class ImageMetrics {
 public:
  void add(const Tensor& y_pred, const Tensor& y_true);
  ImageQuality result() const;

 private:
  std::int64_t images_ = 0, pixels_ = 0, matches_ = 0, exact_ = 0;
  double cross_entropy_ = 0, squared_error_ = 0, psnr_sum_ = 0, ssim_sum_ = 0;
};

// All metrics of one set held whole.
ImageQuality image_quality(const Tensor& y_pred, const Tensor& y_true);

// Fraction of rows of probs [N, K] whose largest entry (the first on ties, as tf.argmax)
// is at the label's index. DataError for a label outside [0, K).
double categorical_accuracy(const Tensor& probs, std::span<const std::uint8_t> labels);

// K x K counts of (true class, predicted class).
class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int num_classes);
  void add(const Tensor& probs, std::span<const std::uint8_t> labels);

  int num_classes() const { return k_; }
  std::int64_t count(int truth, int predicted) const { return counts_[static_cast<std::size_t>(truth * k_ + predicted)]; }
  std::int64_t total() const;
  double accuracy() const;  // the diagonal's share of the total
  std::vector<std::vector<std::int64_t>> rows() const;  // rows[truth][predicted], e.g. for JSON

 private:
  int k_;
  std::vector<std::int64_t> counts_;
};

}  // namespace dn

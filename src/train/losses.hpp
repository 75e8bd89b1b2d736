#pragma once
// Training losses with tf.keras 2.x semantics (DESIGN.md section 1).
//
// Every loss is the mean over the batch of a per-sample loss. For the element-wise
// losses (binary cross-entropy, mean squared error) Keras takes the mean over the last
// axis and then over the samples, which for equal-size samples is the mean over all
// elements. Sums are accumulated in double in fixed blocks, so a loss value does not
// depend on the thread count.
#include <memory>
#include <string>

#include "core/tensor.hpp"

namespace dn {

class Loss {
 public:
  virtual ~Loss() = default;

  // Keras name, e.g. "binary_crossentropy".
  virtual std::string name() const = 0;
  // Mean loss over the batch; y_pred and y_true shaped as keras_shapes_match
  // (eval/image_metrics.hpp) allows, else std::invalid_argument.
  virtual double forward(const Tensor& y_pred, const Tensor& y_true) const = 0;
  // d(mean loss)/d y_pred, written to d_pred (resized to y_pred's shape).
  virtual void backward(const Tensor& y_pred, const Tensor& y_true, Tensor& d_pred) const = 0;
};

// "binary_crossentropy" (or "bce"): predictions clipped to [1e-7, 1 - 1e-7] and
//   loss = -(y log(p + 1e-7) + (1 - y) log(1 - p + 1e-7)), as tf.keras.backend computes
//   it from probabilities; the gradient is zero where the clip is active, as TF's is.
// "mean_squared_error" (or "mse"): mean of (p - y)^2.
// "categorical_crossentropy" (or "cce"): y_pred holds probabilities over the last axis;
//   each row is scaled by its sum, clipped to [1e-7, 1 - 1e-7], loss = -sum y log p,
//   averaged over the rows.
// "psnr": the negative of the mean over samples (the first axis) of each sample's PSNR
//   with peak 1, i.e. mean_i 10 log10(mse_i + 1e-10), in dB; the figure the quality
//   table reports, as a training objective.
// Throws UsageError for any other name.
std::unique_ptr<Loss> make_loss(const std::string& name);

}  // namespace dn

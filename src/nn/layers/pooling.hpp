#pragma once
// Keras MaxPooling2D (alias MaxPool2D): strides default to the pool size, padding valid.
#include <cstdint>
#include <optional>
#include <vector>

#include "kernels/pool.hpp"
#include "nn/layers/common.hpp"

namespace dn {

class MaxPooling2D : public Layer {
 public:
  explicit MaxPooling2D(Size2 pool_size = 2, std::optional<Size2> strides = std::nullopt,
                        Padding padding = Padding::valid);

  std::string type() const override { return "MaxPooling2D"; }
  std::string name_prefix() const override { return "max_pooling2d"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<MaxPooling2D>(*this); }
  Shape build(const Shape& input_shape, Rng& rng) override;
  void forward(const Tensor& x, Tensor& y, bool training) override;
  // The gradient goes to the first maximum of each window in scan order.
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  bool takes_relu_derivative() const override { return true; }
  nlohmann::json config() const override;
  // 2x2 windows at stride 2, nothing padded: what Conv2D::forward_maxpool computes.
  bool halves() const { return pool_size_.h == 2 && pool_size_.w == 2 && strides_.h == 2 && strides_.w == 2 &&
                               padding_ == Padding::valid; }
  // Where a fused forward (Conv2D::forward_with_next) records the winning taps of y's
  // `outputs` values for this layer's backward; null outside training, which records none.
  std::uint16_t* winning_taps(std::size_t outputs, bool training) {
    where_.resize(training ? outputs : 0);
    return training ? where_.data() : nullptr;
  }
  // The taps the last training forward recorded, if it made `outputs` values; else null.
  const std::uint16_t* recorded_taps(std::size_t outputs) const {
    return where_.size() == outputs && outputs > 0 ? where_.data() : nullptr;
  }
  // Whether the backward takes the derivative of the ReLU before (Layer::takes_relu_derivative).
  bool relu_taken() const { return relu_taken_; }

 private:
  ConvGeometry geometry(int batch, int height, int width) const;
  ConvGeometry geometry(const Tensor& x) const;  // checks x
  Size2 pool_size_, strides_;
  Padding padding_;
  std::vector<std::uint16_t> where_;  // the winning tap of each output, from the last forward
};

using MaxPool2D = MaxPooling2D;

}  // namespace dn

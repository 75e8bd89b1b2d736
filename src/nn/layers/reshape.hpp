#pragma once
// Keras Reshape and Flatten. Both only relabel the per-sample shape; the data is copied
// through unchanged. A target axis may be -1, inferred as in Keras, or 0, the input's
// size on that axis as in ONNX Reshape: (0, 0, 1) turns any (H, W) into (H, W, 1), which
// lets a fully convolutional model start from plain images.
#include "nn/layers/common.hpp"

namespace dn {

class Reshape : public Layer {
 public:
  explicit Reshape(Shape target_shape);

  std::string type() const override { return "Reshape"; }
  std::string name_prefix() const override { return "reshape"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Reshape>(*this); }
  Shape build(const Shape& input_shape, Rng& rng) override;
  void forward(const Tensor& x, Tensor& y, bool training) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  nlohmann::json config() const override;

 private:
  Shape target_shape_;
};

// Flatten: (h, w, c) -> (h*w*c,).
class Flatten : public Reshape {
 public:
  Flatten() : Reshape({-1}) {}

  std::string type() const override { return "Flatten"; }
  std::string name_prefix() const override { return "flatten"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Flatten>(*this); }
  nlohmann::json config() const override { return layer_config(*this, nlohmann::json::object()); }
};

}  // namespace dn

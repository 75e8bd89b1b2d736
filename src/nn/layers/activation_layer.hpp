#pragma once
// Keras Activation layer: y = act(x), softmax over the last axis.
// (Named ActivationLayer because dn::Activation is the enum; its type() is "Activation".)
#include "nn/activation.hpp"
#include "nn/layers/common.hpp"

namespace dn {

class ActivationLayer : public Layer {
 public:
  explicit ActivationLayer(Activation activation) : activation_(activation) {}

  std::string type() const override { return "Activation"; }
  std::string name_prefix() const override { return "activation"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<ActivationLayer>(*this); }
  Shape build(const Shape& input_shape, Rng& rng) override;
  void forward(const Tensor& x, Tensor& y, bool training) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  nlohmann::json config() const override;

 private:
  Activation activation_;
};

}  // namespace dn

#pragma once
// Keras Dense: kernel (in, units), bias (units), y = act(x . kernel + bias) on the last
// axis. Computed as a 1x1 convolution over all leading positions (kernels/conv.hpp).
#include "kernels/conv.hpp"
#include "nn/activation.hpp"
#include "nn/layers/common.hpp"

namespace dn {

class Dense : public Layer {
 public:
  explicit Dense(int units, Activation activation = Activation::linear);

  std::string type() const override { return "Dense"; }
  std::string name_prefix() const override { return "dense"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Dense>(*this); }
  Shape build(const Shape& input_shape, Rng& rng) override;
  void forward(const Tensor& x, Tensor& y, bool training) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  std::vector<Param*> params() override { return {&kernel_, &bias_}; }
  nlohmann::json config() const override;
  bool ends_in_relu() const override { return activation_ == Activation::relu; }
  bool takes_relu_derivative() const override { return true; }

 private:
  ConvGeometry geometry(const Tensor& x) const;  // one "pixel" per row of x's last axis
  int units_;
  Activation activation_;
  Param kernel_, bias_;
  Tensor dz_;  // dL/d(pre-activation) where the kernels do not fuse it away
  Workspace ws_;
};

}  // namespace dn

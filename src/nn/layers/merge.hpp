#pragma once
// Skip connections inside a Sequential: a container that runs its inner layer and
// merges the result with its own input, as a Keras functional model would with a merge
// layer. This is the part of a functional graph that DnCNN and U-Net need, without a
// general graph:
//   Residual        y = x + inner(x) (Keras Add) or x - inner(x) (Keras Subtract);
//                   inner's output must have x's shape.
//   SkipConcatenate y = concat(x, inner(x)) along the channel axis (Keras Concatenate,
//                   axis -1); inner must keep height and width.
// Their configs nest the inner layer's ({"layer": {class_name, config}}), so a model.json
// round-trips; weights keep the inner layers' own names.
#include <memory>

#include "nn/layers/common.hpp"

namespace dn {

// What both containers share: owning the inner layer and passing the container calls on.
class SkipLayerBase : public Layer {
 public:
  std::vector<Param*> params() override { return inner_->params(); }
  std::vector<Layer*> children() override { return {inner_.get()}; }
  nlohmann::json random_state() const override { return inner_->random_state(); }
  void set_random_state(const nlohmann::json& state) override { inner_->set_random_state(state); }
  Layer& inner() { return *inner_; }

 protected:
  explicit SkipLayerBase(std::unique_ptr<Layer> inner);
  SkipLayerBase(const SkipLayerBase& other);
  nlohmann::json inner_config() const;

  std::unique_ptr<Layer> inner_;
  Tensor inner_y_, inner_dy_, inner_dx_;  // inner's output, its output gradient and input gradient
};

class Residual : public SkipLayerBase {
 public:
  enum class Mode { add, subtract };
  Residual(std::unique_ptr<Layer> inner, Mode mode) : SkipLayerBase(std::move(inner)), mode_(mode) {}

  std::string type() const override { return "Residual"; }
  std::string name_prefix() const override { return "residual"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Residual>(*this); }
  Shape build(const Shape& input_shape, Rng& rng) override;
  void forward(const Tensor& x, Tensor& y, bool training) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  nlohmann::json config() const override;
  Mode mode() const { return mode_; }

 private:
  Mode mode_;
};

// "add" or "subtract"; UsageError otherwise.
Residual::Mode parse_residual_mode(const std::string& text);
const char* residual_mode_name(Residual::Mode mode);

class SkipConcatenate : public SkipLayerBase {
 public:
  explicit SkipConcatenate(std::unique_ptr<Layer> inner) : SkipLayerBase(std::move(inner)) {}

  std::string type() const override { return "SkipConcatenate"; }
  std::string name_prefix() const override { return "skip_concatenate"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<SkipConcatenate>(*this); }
  Shape build(const Shape& input_shape, Rng& rng) override;
  void forward(const Tensor& x, Tensor& y, bool training) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  nlohmann::json config() const override;
};

}  // namespace dn

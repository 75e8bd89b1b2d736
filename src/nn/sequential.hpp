#pragma once
// Sequential: a stack of layers, itself a Layer so that stacks nest (the seed's
// autoencoder is Sequential([encoder, decoder])). It keeps each inner layer's
// output from the last forward for the backward pass.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nn/layer.hpp"

namespace dn {

class Sequential : public Layer {
 public:
  explicit Sequential(std::string name = "");
  Sequential& add(std::unique_ptr<Layer> layer);

  std::string type() const override { return "Sequential"; }
  std::string name_prefix() const override { return "sequential"; }
  std::unique_ptr<Layer> clone() const override;

  Shape build(const Shape& input_shape, Rng& rng) override;
  void forward(const Tensor& x, Tensor& y, bool training) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  std::vector<Param*> params() override;
  std::vector<Layer*> children() override;
  nlohmann::json config() const override;
  // {layer name: its state} for the layers that have any (nested containers nest).
  nlohmann::json random_state() const override;
  void set_random_state(const nlohmann::json& state) override;
  // A stack ends in its last layer and starts with its first (Layer::ends_in_relu).
  bool ends_in_relu() const override { return layers_.back()->ends_in_relu(); }
  bool takes_relu_derivative() const override { return layers_.front()->takes_relu_derivative(); }
  void set_relu_left(bool on) override { layers_.back()->set_relu_left(on); }
  void set_relu_taken(bool on) override { layers_.front()->set_relu_taken(on); }

  std::size_t size() const { return layers_.size(); }
  Layer& layer(std::size_t i) { return *layers_[i]; }

 private:
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<Tensor> outputs_;  // outputs_[i] = output of layer i (the last writes into the caller's y)
  std::vector<Tensor> grads_;    // grads_[i] = dL/d(output of layer i)
};

// Give every unnamed layer a Keras-style default name (conv2d, conv2d_1, ...),
// children before their container, as Keras names them in construction order.
void assign_default_names(Layer& root);

// Every parameter under root with its saved name "<layer name>/<param name>",
// in a fixed order (depth first).
std::vector<std::pair<std::string, Param*>> named_params(Layer& root);

// Copies every parameter value of `from` into `to`, pairing them in named_params
// order; the two must be the same architecture (std::invalid_argument when their
// parameter counts or shapes differ).
void copy_weights(Layer& from, Layer& to);

}  // namespace dn

#pragma once
// Conv2D and Conv2DTranspose (Keras semantics, NHWC). Both call the kernels of
// kernels/conv.hpp: the transposed layer runs the convolution's backward-data as its
// forward, and the convolution's forward and backward-weights in its backward.
#include "kernels/conv.hpp"
#include "nn/activation.hpp"
#include "nn/layers/common.hpp"

namespace dn {

class MaxPooling2D;

// What the two convolution layers share: arguments, parameters, scratch.
class ConvLayerBase : public Layer {
 public:
  std::vector<Param*> params() override { return {&kernel_, &bias_}; }
  nlohmann::json config() const override;
  bool ends_in_relu() const override { return activation_ == Activation::relu; }
  bool takes_relu_derivative() const override { return true; }

 protected:
  ConvLayerBase(int filters, Size2 kernel_size, Size2 strides, Padding padding, Activation activation);
  // Creates the kernel (glorot_uniform) and the bias (zeros).
  void build_params(const Shape& kernel_shape, Rng& rng);

  int filters_;
  Size2 kernel_size_, strides_;
  Padding padding_;
  Activation activation_;
  Param kernel_, bias_;
  Tensor dz_;  // dL/d(pre-activation) where the kernels do not fuse it away
  Workspace ws_;
  // The activation whose derivative the backward applies: none where the next layer did.
  Activation backward_activation() const { return relu_left_ ? Activation::linear : activation_; }
};

// Keras Conv2D: kernel (kh, kw, in, filters), bias (filters), y = act(conv(x) + bias).
class Conv2D : public ConvLayerBase {
 public:
  Conv2D(int filters, Size2 kernel_size, Size2 strides = 1, Padding padding = Padding::valid,
         Activation activation = Activation::linear)
      : ConvLayerBase(filters, kernel_size, strides, padding, activation) {}

  std::string type() const override { return "Conv2D"; }
  std::string name_prefix() const override { return "conv2d"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Conv2D>(*this); }
  Shape build(const Shape& input_shape, Rng& rng) override;
  void forward(const Tensor& x, Tensor& y, bool training) override;
  // y = MaxPooling2D(2)(this(x)) in one pass, the convolution's output pooled as it is
  // computed and never stored (nn/inference.hpp plans it for inference); where (or null):
  // the pooling's winning taps. False, with nothing done, where the kernels cannot
  // (kernels::conv2d_maxpool_fits).
  bool forward_maxpool(const Tensor& x, Tensor& y, std::uint16_t* where = nullptr);
  // A MaxPooling2D(2) next: the pass above, in training where the backward need not read
  // this layer's output (its ReLU's derivative left to the pooling, or no activation).
  bool forward_with_next(Layer& next, const Tensor& x, Tensor& y, Tensor& next_y, bool training) override;
  // A MaxPooling2D(2) next, after a training forward: its gradient is routed back one
  // sample at a time inside this layer's backward (kernels::conv_maxpool_layer_backward).
  bool backward_with_next(Layer& next, const Tensor& x, const Tensor& y, const Tensor& next_y,
                          const Tensor& next_dy, Tensor* dx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;

 private:
  ConvGeometry geometry(int batch, int height, int width) const;
  ConvGeometry geometry(const Tensor& x) const;  // checks x
  MaxPooling2D* pooling_to_fuse(Layer& next, bool training) const;
};

// Keras Conv2DTranspose: kernel (kh, kw, filters, in), bias (filters). Output size
// same -> in*stride, valid -> in*stride + max(k - stride, 0); "same" pads as TensorFlow
// (for stride 2, kernel 3: nothing before, one row after; output row r = 2i + kh).
class Conv2DTranspose : public ConvLayerBase {
 public:
  Conv2DTranspose(int filters, Size2 kernel_size, Size2 strides = 1, Padding padding = Padding::valid,
                  Activation activation = Activation::linear)
      : ConvLayerBase(filters, kernel_size, strides, padding, activation) {}

  std::string type() const override { return "Conv2DTranspose"; }
  std::string name_prefix() const override { return "conv2d_transpose"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Conv2DTranspose>(*this); }
  Shape build(const Shape& input_shape, Rng& rng) override;
  void forward(const Tensor& x, Tensor& y, bool training) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;

 private:
  // The convolution this layer transposes (its input is our output).
  ConvGeometry geometry(int batch, int height, int width) const;
  ConvGeometry geometry(const Tensor& x) const;  // checks x
};

}  // namespace dn

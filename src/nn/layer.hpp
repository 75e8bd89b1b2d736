#pragma once
// The layer interface: each layer's forward and backward side by side (llm.c style).
//
// Tensors are batches in NHWC (see core/tensor.hpp). A layer is built once for a
// per-sample input shape, which creates its parameters; axes may be left free (kNone),
// as Keras's None. Then forward maps x [N, in...] to y [N, out...], its sizes taken from
// x (a convolution runs at any height and width; only the axes a layer's parameters fix
// are checked), and backward maps dL/dy to dL/dx and ADDS dL/dparam into each
// Param::grad (the caller zeroes grads before a step). Fusions and blocking for fast
// inference belong to nn/inference.hpp, not to the layers.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/rng.hpp"
#include "core/tensor.hpp"

namespace dn {

struct Param {
  std::string name;  // "kernel" or "bias"; saved as "<layer name>/<name>"
  Tensor value;      // Keras layout (Conv2D kernel kh,kw,in,out; Conv2DTranspose kh,kw,out,in; Dense in,out)
  Tensor grad;       // same shape as value
};

class Layer {
 public:
  virtual ~Layer() = default;

  virtual std::string type() const = 0;         // Keras class name, e.g. "Conv2D"
  virtual std::string name_prefix() const = 0;  // Keras default-name prefix, e.g. "conv2d"
  // An independent copy: same configuration, shapes and parameter values, its own
  // scratch, so that another thread can run it beside this one (nn/inference.hpp).
  virtual std::unique_ptr<Layer> clone() const = 0;

  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }

  // Create parameters for a per-sample input shape (seeded initialisers) and
  // return the per-sample output shape, kNone where it follows a free input axis.
  // Called once before forward.
  virtual Shape build(const Shape& input_shape, Rng& rng) = 0;
  // The shapes as built (with kNone where free), not those of the last forward.
  const Shape& input_shape() const { return input_shape_; }
  const Shape& output_shape() const { return output_shape_; }

  // y is resized to [N, out...] for this x. training switches Dropout on.
  virtual void forward(const Tensor& x, Tensor& y, bool training) = 0;
  // x and y are those of the last forward. dx may be null (first layer): skip it.
  virtual void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) = 0;
  // This layer's forward and next's in one pass where the kernels fuse them (Sequential
  // asks): next_y as next.forward would make it; y only given this layer's output shape,
  // for the backward passes, which do not read it then. False, with nothing done, where
  // the two do not fuse.
  virtual bool forward_with_next(Layer& /*next*/, const Tensor& /*x*/, Tensor& /*y*/, Tensor& /*next_y*/,
                                 bool /*training*/) {
    return false;
  }
  // The other way: this layer's backward and next's in one pass (x, y, next_y of the
  // last forward, next_dy the gradient of next's output), next's input gradient never
  // made. False, with nothing done, where the two do not fuse.
  virtual bool backward_with_next(Layer& /*next*/, const Tensor& /*x*/, const Tensor& /*y*/,
                                  const Tensor& /*next_y*/, const Tensor& /*next_dy*/, Tensor* /*dx*/) {
    return false;
  }

  // All trainable parameters, a container's including those of its children.
  virtual std::vector<Param*> params() { return {}; }
  // Nested layers (a Sequential inside a Sequential); empty for plain layers.
  virtual std::vector<Layer*> children() { return {}; }
  // Random state that training advances besides the parameters (Dropout's generator),
  // for checkpoints: a run resumed from it draws what the uninterrupted run would
  // have. Empty for layers without any; a container's holds its children's, by name.
  virtual nlohmann::json random_state() const { return nullptr; }
  virtual void set_random_state(const nlohmann::json& /*state*/) {}
  // Data parallelism (train/fit.hpp): the next training forward sees one process's
  // contiguous share of a larger batch, with `before` samples of it ahead and `after`
  // behind. A layer that draws random numbers per element (Dropout) skips the other
  // shares' draws, so that each process draws what one process given the whole batch
  // would. Containers do not pass it on: fit calls it on every layer of the tree.
  virtual void set_batch_share(std::size_t /*before*/, std::size_t /*after*/) {}
  // Constructor arguments as Keras would list them in get_config().
  virtual nlohmann::json config() const { return nlohmann::json::object(); }

  // A ReLU between two neighbours, fused in the backward pass (Sequential::build pairs
  // them up): the layer whose output went through it leaves its derivative to the layer
  // after, which zeroes its dx where its input is not positive while writing dx. One
  // pass over that gradient instead of two, with the same bits.
  // Whether the output is a ReLU's, whose derivative the backward can leave to the next layer.
  virtual bool ends_in_relu() const { return false; }
  // Whether the backward can take over the derivative of the ReLU that made its input.
  virtual bool takes_relu_derivative() const { return false; }
  // Switch either on (only where the query above says yes) or off; both start off.
  virtual void set_relu_left(bool on) { relu_left_ = on; }
  virtual void set_relu_taken(bool on) { relu_taken_ = on; }

  std::size_t param_count();

 protected:
  std::string name_;
  Shape input_shape_;
  Shape output_shape_;
  bool relu_left_ = false;   // backward: dy has been through this layer's ReLU derivative
  bool relu_taken_ = false;  // backward: dx goes through the derivative of the ReLU before
};

}  // namespace dn

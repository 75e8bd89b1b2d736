#pragma once
// Optimizers with the tf.keras 2.x update rules (TensorFlow's training_ops kernels) and
// Keras's defaults, except Adadelta's learning rate: 1.0, the value that reproduces the
// seed (DESIGN.md section 1). Updates run in float32 like TensorFlow's.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nn/layer.hpp"

namespace dn {

class Optimizer {
 public:
  virtual ~Optimizer() = default;

  // One update of every parameter from its Param::grad. Per-parameter state is created
  // on the first call and kept by position, so pass the same list in the same order at
  // every step (std::invalid_argument if the count or a size changes).
  void step(const std::vector<Param*>& params);

  virtual std::string name() const = 0;          // Keras class name, e.g. "Adadelta"
  virtual nlohmann::json config() const = 0;     // as Keras get_config(): name, learning_rate, ...
  std::int64_t iterations() const { return iterations_; }  // steps taken so far
  // The per-parameter slots (empty before the first step), and a way back to them:
  // a checkpoint saves both, and an optimizer restored from them takes the next step
  // exactly as the original would have.
  const std::vector<std::vector<float>>& slots() const { return state_; }
  void restore(std::int64_t iterations, std::vector<std::vector<float>> slots);

  double learning_rate;

 protected:
  // slots: state vectors per parameter, each the parameter's size, filled with slot_init.
  Optimizer(double learning_rate, int slots, float slot_init = 0.0f);

  // Called once per step, after iterations() has counted it, before the updates.
  virtual void begin_step() {}
  // Updates n values of one parameter; slot s of value i is state[s * stride + i] (the
  // slots lie back to back, each the parameter's size). Each value's update reads and
  // writes that value alone, so step() cuts the values into ranges over the threads.
  virtual void update(float* w, const float* g, float* state, std::size_t n, std::size_t stride) = 0;
  // The fewest values worth a thread of their own: an update with square roots and
  // divisions pays for a thread from about a thousand values.
  virtual std::size_t values_per_thread() const { return 1024; }

 private:
  int slots_;
  float slot_init_;
  std::int64_t iterations_ = 0;
  std::vector<std::vector<float>> state_;  // one entry per parameter, by position
};

// v = momentum * v - lr * g; w += v (nesterov: w += momentum * v - lr * g).
// Without momentum: w -= lr * g.
class SGD final : public Optimizer {
 public:
  explicit SGD(double learning_rate = 0.01, double momentum = 0.0, bool nesterov = false);
  std::string name() const override { return "SGD"; }
  nlohmann::json config() const override;

 private:
  void update(float* w, const float* g, float* state, std::size_t n, std::size_t stride) override;
  // A multiply-add or two a value, bound by memory: a second core pays for large tensors only.
  std::size_t values_per_thread() const override { return 32768; }
  double momentum_;
  bool nesterov_;
};

// acc_g = rho acc_g + (1 - rho) g^2; d = sqrt(acc_dx + eps) / sqrt(acc_g + eps) * g;
// w -= lr d; acc_dx = rho acc_dx + (1 - rho) d^2.
class Adadelta final : public Optimizer {
 public:
  explicit Adadelta(double learning_rate = 1.0, double rho = 0.95, double epsilon = 1e-7);
  std::string name() const override { return "Adadelta"; }
  nlohmann::json config() const override;

 private:
  void update(float* w, const float* g, float* state, std::size_t n, std::size_t stride) override;
  double rho_, epsilon_;
};

// m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2); w -= lr_t m / (sqrt(v) + eps),
// lr_t = lr sqrt(1 - b2^t) / (1 - b1^t), t the 1-based step.
class Adam final : public Optimizer {
 public:
  explicit Adam(double learning_rate = 0.001, double beta_1 = 0.9, double beta_2 = 0.999, double epsilon = 1e-7);
  std::string name() const override { return "Adam"; }
  nlohmann::json config() const override;

 private:
  void begin_step() override;
  void update(float* w, const float* g, float* state, std::size_t n, std::size_t stride) override;
  double beta_1_, beta_2_, epsilon_;
  float lr_t_ = 0.0f;
};

// ms = rho ms + (1 - rho) g^2; w -= lr g / (sqrt(ms) + eps). This is tf.keras's rule
// for its defaults momentum 0 and centered false, the only ones offered.
class RMSprop final : public Optimizer {
 public:
  explicit RMSprop(double learning_rate = 0.001, double rho = 0.9, double epsilon = 1e-7);
  std::string name() const override { return "RMSprop"; }
  nlohmann::json config() const override;

 private:
  void update(float* w, const float* g, float* state, std::size_t n, std::size_t stride) override;
  double rho_, epsilon_;
};

// acc += g^2 (acc starts at initial_accumulator_value); w -= lr g / (sqrt(acc) + eps).
class Adagrad final : public Optimizer {
 public:
  explicit Adagrad(double learning_rate = 0.001, double initial_accumulator_value = 0.1, double epsilon = 1e-7);
  std::string name() const override { return "Adagrad"; }
  nlohmann::json config() const override;

 private:
  void update(float* w, const float* g, float* state, std::size_t n, std::size_t stride) override;
  double initial_accumulator_value_, epsilon_;
};

// name: sgd, adadelta, adam, rmsprop or adagrad (any case), with the defaults above;
// lr overrides the learning rate. UsageError for an unknown name or a learning rate
// that is negative or not finite.
std::unique_ptr<Optimizer> make_optimizer(const std::string& name, std::optional<double> lr = std::nullopt);

}  // namespace dn

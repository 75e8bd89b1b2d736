#include "train/optimizers.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <stdexcept>

#include <omp.h>

#include <fmt/core.h>

#include "core/error.hpp"

namespace dn {

Optimizer::Optimizer(double lr, int slots, float slot_init)
    : learning_rate(lr), slots_(slots), slot_init_(slot_init) {
  if (!std::isfinite(lr) || lr < 0.0)
    throw ArgumentError("learning_rate", fmt::format("must be a finite number >= 0 (got {})", lr));
}

void Optimizer::step(const std::vector<Param*>& params) {
  if (iterations_ == 0) {
    state_.resize(params.size());
    for (std::size_t i = 0; i < params.size(); ++i)
      state_[i].assign(static_cast<std::size_t>(slots_) * params[i]->value.size(), slot_init_);
  }
  if (params.size() != state_.size())
    throw std::invalid_argument(name() + ": step() got " + std::to_string(params.size()) +
                                " parameters, but its state was made for " + std::to_string(state_.size()));
  for (std::size_t i = 0; i < params.size(); ++i) {
    const Param& p = *params[i];
    if (p.grad.size() != p.value.size() ||
        state_[i].size() != static_cast<std::size_t>(slots_) * p.value.size())
      throw std::invalid_argument(name() + ": parameter " + std::to_string(i) + " ('" + p.name +
                                  "') changed size or has no gradient");
  }
  ++iterations_;
  begin_step();
  // Each value's update is its own, so the values of all parameters together are cut
  // into equal ranges on the threads (a small model's parameters are each too small to
  // split) and a value's bits do not depend on its range.
  std::size_t total = 0;
  for (const Param* p : params) total += p->value.size();
  const int ranges =
      static_cast<int>(std::clamp<std::size_t>(total / values_per_thread(), 1, omp_get_max_threads()));
#pragma omp parallel for schedule(static) if (ranges > 1)
  for (int r = 0; r < ranges; ++r) {
    const std::size_t begin = total * r / ranges, end = total * (r + 1) / ranges;
    std::size_t first = 0;  // of the parameter's values in the whole
    for (std::size_t i = 0; i < params.size() && first < end; ++i) {
      const std::size_t n = params[i]->value.size();
      const std::size_t lo = std::max(begin, first), hi = std::min(end, first + n);
      if (lo < hi) {
        const std::size_t at = lo - first;
        update(params[i]->value.data() + at, params[i]->grad.data() + at, state_[i].data() + at, hi - lo, n);
      }
      first += n;
    }
  }
}

void Optimizer::restore(std::int64_t iterations, std::vector<std::vector<float>> slots) {
  if (iterations < 0 || (iterations == 0) != slots.empty())
    throw std::invalid_argument(name() + ": restore() needs slots exactly when iterations > 0");
  iterations_ = iterations;
  state_ = std::move(slots);
}

// ---- SGD ----

SGD::SGD(double lr, double momentum, bool nesterov)
    : Optimizer(lr, momentum > 0.0 ? 1 : 0), momentum_(momentum), nesterov_(nesterov) {
  if (!(momentum >= 0.0 && momentum <= 1.0))
    throw ArgumentError("momentum", fmt::format("of SGD must be in [0, 1] (got {})", momentum));
}

nlohmann::json SGD::config() const {
  return {{"name", name()}, {"learning_rate", learning_rate}, {"momentum", momentum_}, {"nesterov", nesterov_}};
}

void SGD::update(float* w, const float* g, float* state, std::size_t n, std::size_t /*stride*/) {
  const float lr = static_cast<float>(learning_rate);
  if (momentum_ == 0.0) {
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) w[i] -= g[i] * lr;
    return;
  }
  const float m = static_cast<float>(momentum_);
  float* v = state;
  if (nesterov_) {
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) {
      v[i] = v[i] * m - g[i] * lr;
      w[i] += v[i] * m - g[i] * lr;
    }
  } else {
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) {
      v[i] = v[i] * m - g[i] * lr;
      w[i] += v[i];
    }
  }
}

// ---- Adadelta ----

Adadelta::Adadelta(double lr, double rho, double epsilon) : Optimizer(lr, 2), rho_(rho), epsilon_(epsilon) {}

nlohmann::json Adadelta::config() const {
  return {{"name", name()}, {"learning_rate", learning_rate}, {"rho", rho_}, {"epsilon", epsilon_}};
}

void Adadelta::update(float* w, const float* g, float* state, std::size_t n, std::size_t stride) {
  const float lr = static_cast<float>(learning_rate);
  const float rho = static_cast<float>(rho_);
  const float one_minus_rho = 1.0f - rho;
  const float eps = static_cast<float>(epsilon_);
  float* acc_g = state;
  float* acc_dx = state + stride;
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) {
    acc_g[i] = acc_g[i] * rho + g[i] * g[i] * one_minus_rho;
    const float d = std::sqrt(acc_dx[i] + eps) / std::sqrt(acc_g[i] + eps) * g[i];
    w[i] -= d * lr;
    acc_dx[i] = acc_dx[i] * rho + d * d * one_minus_rho;
  }
}

// ---- Adam ----

Adam::Adam(double lr, double beta_1, double beta_2, double epsilon)
    : Optimizer(lr, 2), beta_1_(beta_1), beta_2_(beta_2), epsilon_(epsilon) {}

nlohmann::json Adam::config() const {
  return {{"name", name()},     {"learning_rate", learning_rate}, {"beta_1", beta_1_},
          {"beta_2", beta_2_}, {"epsilon", epsilon_},           {"amsgrad", false}};
}

void Adam::begin_step() {
  // TensorFlow forms the bias correction in the variable's dtype, float32.
  const float t = static_cast<float>(iterations());
  const float b1_power = std::pow(static_cast<float>(beta_1_), t);
  const float b2_power = std::pow(static_cast<float>(beta_2_), t);
  lr_t_ = static_cast<float>(learning_rate) * std::sqrt(1.0f - b2_power) / (1.0f - b1_power);
}

void Adam::update(float* w, const float* g, float* state, std::size_t n, std::size_t stride) {
  const float one_minus_b1 = 1.0f - static_cast<float>(beta_1_);
  const float one_minus_b2 = 1.0f - static_cast<float>(beta_2_);
  const float eps = static_cast<float>(epsilon_);
  const float lr_t = lr_t_;
  float* m = state;
  float* v = state + stride;
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) {
    m[i] += (g[i] - m[i]) * one_minus_b1;
    v[i] += (g[i] * g[i] - v[i]) * one_minus_b2;
    w[i] -= m[i] * lr_t / (std::sqrt(v[i]) + eps);
  }
}

// ---- RMSprop ----

RMSprop::RMSprop(double lr, double rho, double epsilon) : Optimizer(lr, 1), rho_(rho), epsilon_(epsilon) {}

nlohmann::json RMSprop::config() const {
  return {{"name", name()}, {"learning_rate", learning_rate}, {"rho", rho_},
          {"momentum", 0.0}, {"epsilon", epsilon_},          {"centered", false}};
}

void RMSprop::update(float* w, const float* g, float* state, std::size_t n, std::size_t /*stride*/) {
  const float lr = static_cast<float>(learning_rate);
  const float rho = static_cast<float>(rho_);
  const float one_minus_rho = 1.0f - rho;
  const float eps = static_cast<float>(epsilon_);
  float* ms = state;
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) {
    ms[i] = rho * ms[i] + one_minus_rho * (g[i] * g[i]);
    w[i] -= lr * g[i] / (std::sqrt(ms[i]) + eps);
  }
}

// ---- Adagrad ----

Adagrad::Adagrad(double lr, double initial_accumulator_value, double epsilon)
    : Optimizer(lr, 1, static_cast<float>(initial_accumulator_value)),
      initial_accumulator_value_(initial_accumulator_value),
      epsilon_(epsilon) {}

nlohmann::json Adagrad::config() const {
  return {{"name", name()},
          {"learning_rate", learning_rate},
          {"initial_accumulator_value", initial_accumulator_value_},
          {"epsilon", epsilon_}};
}

void Adagrad::update(float* w, const float* g, float* state, std::size_t n, std::size_t /*stride*/) {
  const float lr = static_cast<float>(learning_rate);
  const float eps = static_cast<float>(epsilon_);
  float* acc = state;
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) {
    acc[i] += g[i] * g[i];
    w[i] -= g[i] * lr / (std::sqrt(acc[i]) + eps);
  }
}

std::unique_ptr<Optimizer> make_optimizer(const std::string& name, std::optional<double> lr) {
  std::string key = name;
  std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
  if (key == "sgd") return std::make_unique<SGD>(lr.value_or(0.01));
  if (key == "adadelta") return std::make_unique<Adadelta>(lr.value_or(1.0));
  if (key == "adam") return std::make_unique<Adam>(lr.value_or(0.001));
  if (key == "rmsprop") return std::make_unique<RMSprop>(lr.value_or(0.001));
  if (key == "adagrad") return std::make_unique<Adagrad>(lr.value_or(0.001));
  throw ArgumentError("optimizer", "must be sgd, adadelta, adam, rmsprop or adagrad (got '" + name + "')");
}

}  // namespace dn

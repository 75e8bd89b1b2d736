#include "nn/layers/dropout.hpp"

#include <fmt/core.h>

#include "core/error.hpp"

namespace dn {

Dropout::Dropout(double rate, std::optional<std::uint64_t> seed) : rate_(rate), seed_(seed) {
  if (!(rate >= 0.0 && rate < 1.0)) throw UsageError(fmt::format("Dropout rate must be in [0, 1) (got {})", rate));
}

Shape Dropout::build(const Shape& input_shape, Rng& rng) {
  input_shape_ = output_shape_ = input_shape;
  rng_ = Rng(seed_ ? *seed_ : rng.next_u64());
  return output_shape_;
}

// x (N, ...) -> y like x
void Dropout::forward(const Tensor& x, Tensor& y, bool training) {
  masked_ = training && rate_ > 0.0;
  if (!masked_) {
    y = x;
    return;
  }
  const float scale = static_cast<float>(1.0 / (1.0 - rate_));
  mask_.resize(x.shape());
  y.resize(x.shape());
  const std::size_t per_sample = x.dim(0) ? x.size() / static_cast<std::size_t>(x.dim(0)) : 0;
  for (std::size_t i = 0; i < share_before_ * per_sample; ++i) rng_.uniform();
  for (std::size_t i = 0; i < x.size(); ++i) {
    mask_[i] = rng_.uniform() >= rate_ ? scale : 0.0f;
    y[i] = x[i] * mask_[i];
  }
  for (std::size_t i = 0; i < share_after_ * per_sample; ++i) rng_.uniform();
}

void Dropout::set_batch_share(std::size_t before, std::size_t after) {
  share_before_ = before;
  share_after_ = after;
}

void Dropout::backward(const Tensor& /*x*/, const Tensor& y, const Tensor& dy, Tensor* dx) {
  check_output_grad(*this, y, dy);
  if (!dx) return;
  if (!masked_) {
    *dx = dy;
    return;
  }
  dx->resize(dy.shape());
  for (std::size_t i = 0; i < dy.size(); ++i) (*dx)[i] = dy[i] * mask_[i];
}

nlohmann::json Dropout::config() const {
  return layer_config(*this, {{"rate", rate_}, {"seed", seed_ ? nlohmann::json(*seed_) : nlohmann::json()}});
}

nlohmann::json Dropout::random_state() const { return rng_.state(); }

void Dropout::set_random_state(const nlohmann::json& state) {
  rng_.set_state(state.get<std::array<std::uint64_t, 6>>());
}

}  // namespace dn

#pragma once
// Keras Dropout: in training, zero each element with probability rate and scale the
// rest by 1/(1-rate) (inverted dropout); at inference, the identity. The mask comes
// from the layer's own Rng, seeded by `seed` or else by the build Rng.
#include <cstdint>
#include <optional>

#include "nn/layers/common.hpp"

namespace dn {

class Dropout : public Layer {
 public:
  explicit Dropout(double rate, std::optional<std::uint64_t> seed = std::nullopt);

  std::string type() const override { return "Dropout"; }
  std::string name_prefix() const override { return "dropout"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Dropout>(*this); }
  Shape build(const Shape& input_shape, Rng& rng) override;
  void forward(const Tensor& x, Tensor& y, bool training) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  nlohmann::json config() const override;
  nlohmann::json random_state() const override;
  void set_random_state(const nlohmann::json& state) override;
  void set_batch_share(std::size_t before, std::size_t after) override;

 private:
  double rate_;
  std::optional<std::uint64_t> seed_;
  Rng rng_{0};
  Tensor mask_;          // 0 or 1/(1-rate) per element of the last training forward
  bool masked_ = false;  // whether the last forward applied mask_
  std::size_t share_before_ = 0, share_after_ = 0;  // samples of other processes' shares
};

}  // namespace dn

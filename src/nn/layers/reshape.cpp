#include "nn/layers/reshape.hpp"

#include <algorithm>
#include <cstring>
#include <optional>

#include <fmt/core.h>

#include "core/error.hpp"
#include "core/over_samples.hpp"

namespace dn {

// The target as given: its -1 is "inferred", not a free axis.
static std::string target_str(const Shape& target) {
  std::string out = "(";
  for (std::size_t i = 0; i < target.size(); ++i) out += (i ? ", " : "") + std::to_string(target[i]);
  return out + (target.size() == 1 ? ",)" : ")");
}

// A batch's copy, sample by sample on the threads that made them (core/over_samples.hpp).
static void copy_batch(const Tensor& from, Tensor& to) {
  const float* src = from.data();
  float* dst = to.data();
  over_samples(from, std::size_t{1} << 14, [=](int, std::size_t first, std::size_t count) {
    std::memcpy(dst + first, src + first, count * sizeof(float));
  });
}

Reshape::Reshape(Shape target_shape) : target_shape_(std::move(target_shape)) {
  const auto inferred = std::count(target_shape_.begin(), target_shape_.end(), -1);
  const bool ok = inferred <= 1 && std::all_of(target_shape_.begin(), target_shape_.end(),
                                               [](int d) { return d >= -1; });
  if (!ok)
    throw UsageError(fmt::format("Reshape target_shape needs sizes >= 1, 0 (copy the input's) or one -1 (got {})",
                                 target_str(target_shape_)));
}

// The target for a per-sample input shape: 0 copies the input's axis, -1 takes what
// is left. Copied axes cancel out of the element count, so a free input axis (kNone)
// copied through stays free and anything else that depends on one becomes free;
// nullopt where no shape fits.
static std::optional<Shape> resolve(const Shape& target, const Shape& in) {
  Shape out(target.size());
  std::vector<bool> copied(in.size(), false);
  std::size_t literal = 1;
  int inferred = -1;
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i] == 0) {
      if (i >= in.size()) return std::nullopt;
      out[i] = in[i];
      copied[i] = true;
    } else if (target[i] == -1) {
      inferred = static_cast<int>(i);
    } else {
      out[i] = target[i];
      literal *= static_cast<std::size_t>(target[i]);
    }
  }
  std::size_t rest = 1;  // the input's elements per copied-axes position
  bool free = false;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (copied[i]) continue;
    if (in[i] == kNone)
      free = true;
    else
      rest *= static_cast<std::size_t>(in[i]);
  }
  if (free) {
    if (inferred >= 0) out[static_cast<std::size_t>(inferred)] = kNone;
    return out;  // checked when a tensor comes
  }
  if (inferred >= 0) {
    if (rest % literal != 0) return std::nullopt;
    out[static_cast<std::size_t>(inferred)] = static_cast<int>(rest / literal);
    return out;
  }
  if (rest != literal) return std::nullopt;
  return out;
}

Shape Reshape::build(const Shape& input_shape, Rng& /*rng*/) {
  const std::optional<Shape> out = resolve(target_shape_, input_shape);
  if (!out)
    throw UsageError(fmt::format("{} cannot reshape {} to target_shape {}", type(), shape_str(input_shape),
                                 target_str(target_shape_)));
  input_shape_ = input_shape;
  output_shape_ = *out;
  return output_shape_;
}

// x (N, in...) -> y (N, target...), the same data.
void Reshape::forward(const Tensor& x, Tensor& y, bool /*training*/) {
  const Shape in(x.shape().begin() + (x.rank() > 0 ? 1 : 0), x.shape().end());
  const std::optional<Shape> out = x.rank() > 0 ? resolve(target_shape_, in) : std::nullopt;
  if (!out)
    throw DataError(fmt::format("layer {} cannot reshape input {} to target_shape {}",
                                name().empty() ? type() : name(), shape_str(x.shape()), target_str(target_shape_)));
  y.resize(batch_shape(x.dim(0), *out));
  copy_batch(x, y);
}

void Reshape::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  check_output_grad(*this, y, dy);
  if (!dx) return;
  dx->resize(x.shape());
  copy_batch(dy, *dx);
}

nlohmann::json Reshape::config() const { return layer_config(*this, {{"target_shape", target_shape_}}); }

}  // namespace dn

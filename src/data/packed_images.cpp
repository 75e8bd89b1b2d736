#include "data/packed_images.hpp"

#include <algorithm>
#include <stdexcept>

#include <fmt/core.h>

namespace dn {

constexpr std::size_t kParallelMinPixels = 16384;  // fewer decode faster than threads start

// The decoders run on every batch; restrict lets them vectorise without alias
// checks (a uint8_t pointer may otherwise alias the floats). Division, not a
// multiply by the reciprocal: it is what the IDX reader computes, so u8 is bit-exact.
static void decode(const std::uint8_t* __restrict src, float* __restrict dst, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) dst[j] = static_cast<float>(src[j]) / 255.0f;
}

static void decode(const std::uint16_t* __restrict src, float* __restrict dst, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) dst[j] = static_cast<float>(src[j]) / 65535.0f;
}

// Clamping first keeps the conversions defined for any input, NaN included;
// fits() is what decides whether a value may be stored.
static float clamp01(float v) { return v > 0.0f ? std::min(v, 1.0f) : 0.0f; }
static std::uint8_t to_u8(float v) { return static_cast<std::uint8_t>(clamp01(v) * 255.0f + 0.5f); }
static std::uint16_t to_u16(float v) {
  return static_cast<std::uint16_t>(static_cast<double>(clamp01(v)) * 65535.0 + 0.5);
}

static bool fits(PixelEncoding encoding, float v) {
  return encoding == PixelEncoding::u8 ? static_cast<float>(to_u8(v)) / 255.0f == v : clamp01(v) == v;
}

static const char* encoding_name(PixelEncoding encoding) { return encoding == PixelEncoding::u8 ? "u8" : "u16"; }

PackedImages::PackedImages(Shape shape, PixelEncoding encoding) : shape_(std::move(shape)), encoding_(encoding) {
  if (shape_.empty() || std::any_of(shape_.begin(), shape_.end(), [](int d) { return d < 0; }))
    throw std::invalid_argument("PackedImages: expected a shape [N, ...], got " + shape_str(shape_));
  row_ = shape_size(Shape(shape_.begin() + 1, shape_.end()));
  const std::size_t total = size() * row_;
  if (encoding_ == PixelEncoding::u8) u8_.assign(total, 0);
  else u16_.assign(total, 0);
}

PackedImages PackedImages::pack(const Tensor& images, PixelEncoding encoding) {
  PackedImages packed(images.shape(), encoding);
  packed.set_rows(0, images);
  return packed;
}

PackedImages PackedImages::pack(const Tensor& images) {
  const float* x = images.data();
  const bool bytes = std::all_of(x, x + images.size(), [](float v) { return fits(PixelEncoding::u8, v); });
  return pack(images, bytes ? PixelEncoding::u8 : PixelEncoding::u16);
}

PackedImages PackedImages::from_bytes(std::span<const std::uint8_t> bytes, Shape shape) {
  PackedImages packed(std::move(shape), PixelEncoding::u8);
  if (bytes.size() != packed.u8_.size())
    throw std::invalid_argument(fmt::format("PackedImages: {} bytes for {} pixels of shape {}", bytes.size(),
                                            packed.u8_.size(), shape_str(packed.shape_)));
  std::copy(bytes.begin(), bytes.end(), packed.u8_.begin());
  return packed;
}

void PackedImages::set_rows(std::size_t begin, const Tensor& rows) {
  const bool same_image_shape = rows.rank() >= 1 && rows.rank() == static_cast<int>(shape_.size()) &&
                                std::equal(shape_.begin() + 1, shape_.end(), rows.shape().begin() + 1);
  if (!same_image_shape)
    throw std::invalid_argument(fmt::format("PackedImages: rows of shape {} do not fit images of shape {}",
                                            shape_str(rows.shape()), shape_str(shape_)));
  const std::size_t count = static_cast<std::size_t>(rows.dim(0));
  if (begin > size() || count > size() - begin)
    throw std::out_of_range(fmt::format("PackedImages: rows [{}, {}) of {} images", begin, begin + count, size()));
  const float* src = rows.data();
  const std::size_t n = count * row_, offset = begin * row_;
  const float* bad = std::find_if_not(src, src + n, [this](float v) { return fits(encoding_, v); });
  if (bad != src + n)
    throw std::invalid_argument(fmt::format("PackedImages: value {} at index {} does not fit the {} encoding ({})",
                                            *bad, bad - src, encoding_name(encoding_),
                                            encoding_ == PixelEncoding::u8 ? "byte / 255" : "in [0, 1]"));
  if (encoding_ == PixelEncoding::u8) std::transform(src, src + n, u8_.begin() + std::ptrdiff_t(offset), to_u8);
  else std::transform(src, src + n, u16_.begin() + std::ptrdiff_t(offset), to_u16);
}

Shape PackedImages::batch_shape(std::size_t count) const {
  Shape s = shape_.empty() ? Shape{0} : shape_;  // a default store holds no images
  s[0] = static_cast<int>(count);
  return s;
}

void PackedImages::decode_row(std::size_t image, float* out) const {
  if (encoding_ == PixelEncoding::u8) decode(u8_.data() + image * row_, out, row_);
  else decode(u16_.data() + image * row_, out, row_);
}

void PackedImages::gather(const std::vector<std::size_t>& order, std::size_t begin, std::size_t count,
                          Tensor& out) const {
  if (begin > order.size() || count > order.size() - begin)
    throw std::out_of_range(fmt::format("PackedImages: order [{}, {}) of {}", begin, begin + count, order.size()));
  out.resize(batch_shape(count));
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t image = order[begin + i];
    if (image >= size()) throw std::out_of_range(fmt::format("PackedImages: image {} of {}", image, size()));
  }
  // On every core for a training batch's worth of pixels: each step waits for it.
#pragma omp parallel for schedule(static) if (count * row_ >= kParallelMinPixels)
  for (std::size_t i = 0; i < count; ++i) decode_row(order[begin + i], out.data() + i * row_);
}

void PackedImages::prefetch(const std::vector<std::size_t>& order, std::size_t begin, std::size_t count) const {
  constexpr std::size_t kLine = 64;
  const std::size_t end = std::min(order.size(), begin + count);
  const std::size_t row_bytes = row_ * (encoding_ == PixelEncoding::u8 ? 1 : sizeof(std::uint16_t));
  for (std::size_t i = begin; i < end; ++i) {
    if (order[i] >= size()) continue;
    const char* row = encoding_ == PixelEncoding::u8 ? reinterpret_cast<const char*>(u8_.data() + order[i] * row_)
                                                    : reinterpret_cast<const char*>(u16_.data() + order[i] * row_);
    for (std::size_t b = 0; b < row_bytes; b += kLine) __builtin_prefetch(row + b, 0, 1);
  }
}

void PackedImages::slice(std::size_t begin, std::size_t count, Tensor& out) const {
  if (begin > size() || count > size() - begin)
    throw std::out_of_range(fmt::format("PackedImages: images [{}, {}) of {}", begin, begin + count, size()));
  out.resize(batch_shape(count));
  // Rows are contiguous, so the whole range decodes as one run.
  if (encoding_ == PixelEncoding::u8) decode(u8_.data() + begin * row_, out.data(), count * row_);
  else decode(u16_.data() + begin * row_, out.data(), count * row_);
}

Tensor PackedImages::unpack() const {
  Tensor out;
  slice(0, size(), out);
  return out;
}

PackedImages PackedImages::rows(std::size_t begin, std::size_t count) const {
  if (begin > size() || count > size() - begin)
    throw std::out_of_range(fmt::format("PackedImages: images [{}, {}) of {}", begin, begin + count, size()));
  PackedImages out(batch_shape(count), encoding_);
  const auto first = std::ptrdiff_t(begin * row_), last = std::ptrdiff_t((begin + count) * row_);
  if (encoding_ == PixelEncoding::u8) std::copy(u8_.begin() + first, u8_.begin() + last, out.u8_.begin());
  else std::copy(u16_.begin() + first, u16_.begin() + last, out.u16_.begin());
  return out;
}

PackedImages add_noise_packed(const NoiseSpec& spec, const PackedImages& clean, std::uint64_t seed,
                              std::uint64_t first_index, std::optional<double> param_max) {
  check_noise_range(spec, param_max);
  // add_noise copies for "none", and the clean encoding is exact.
  if (spec.kind == NoiseSpec::Kind::none || clean.shape().empty()) return clean;
  PackedImages noisy(clean.shape(), PixelEncoding::u16);
  const std::size_t n = clean.size(), row = clean.row_size();
  // Each image decoded, noised from its own stream (add_noise_image) and encoded by one
  // thread: the whole set in one pass over every core, the same values as add_noise.
  bool all_fit = true;
#pragma omp parallel reduction(&& : all_fit)
  {
    std::vector<float> pixels(row);
#pragma omp for schedule(static)
    for (std::size_t i = 0; i < n; ++i) {
      clean.decode_row(i, pixels.data());
      add_noise_image(spec, pixels.data(), pixels.data(), row, seed, first_index + i, param_max);
      all_fit = std::all_of(pixels.begin(), pixels.end(), [](float v) { return fits(PixelEncoding::u16, v); }) &&
                all_fit;
      std::transform(pixels.begin(), pixels.end(), noisy.u16_.begin() + std::ptrdiff_t(i * row), to_u16);
    }
  }
  if (!all_fit) throw std::invalid_argument("add_noise_packed: noise gave a value outside [0, 1]");
  return noisy;
}

}  // namespace dn

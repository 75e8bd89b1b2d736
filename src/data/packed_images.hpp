#pragma once
// A compact store of images [N, H, W] with pixels in [0, 1], read back as float
// a batch at a time: a training set held this way takes a quarter (8-bit) or half
// (16-bit) of the memory of float: all of MNIST trains within 200 MB.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/tensor.hpp"
#include "data/noise.hpp"

namespace dn {

// u8: value = byte / 255.0f, exactly how IDX bytes become floats, so clean
//     images round-trip bit-exactly.
// u16: value = q / 65535.0f with q = round(value * 65535); error <= 7.7e-6, 0 and 1 exact.
enum class PixelEncoding { u8, u16 };

class PackedImages {
 public:
  PackedImages() = default;
  // Zero-filled; shape is [N, per-image dims...].
  PackedImages(Shape shape, PixelEncoding encoding);

  // std::invalid_argument when a value does not fit the encoding: for u8 it must
  // be exactly byte / 255.0f, for u16 in [0, 1] (NaN never fits).
  static PackedImages pack(const Tensor& images, PixelEncoding encoding);
  // u8 when every value is exactly byte / 255.0f, else u16.
  static PackedImages pack(const Tensor& images);
  // u8 from raw pixel bytes (an IDX file's payload); bytes.size() must equal shape's size.
  static PackedImages from_bytes(std::span<const std::uint8_t> bytes, Shape shape);

  PixelEncoding encoding() const { return encoding_; }
  const Shape& shape() const { return shape_; }
  int dim(int i) const { return shape_[static_cast<std::size_t>(i)]; }
  std::size_t size() const { return shape_.empty() ? 0 : static_cast<std::size_t>(shape_[0]); }  // images
  std::size_t row_size() const { return row_; }  // values per image
  std::size_t bytes() const { return u8_.size() + u16_.size() * sizeof(std::uint16_t); }

  // Encodes rows [0, rows.dim(0)) of rows into images [begin, ...); same
  // per-image shape required (std::invalid_argument), in range (std::out_of_range).
  void set_rows(std::size_t begin, const Tensor& rows);

  // Images order[begin, begin + count) as float into out, resized to [count, per-image dims...].
  void gather(const std::vector<std::size_t>& order, std::size_t begin, std::size_t count, Tensor& out) const;
  // Asks the CPU to start loading images order[begin, begin + count) (what is past the
  // end of order or of the store is left out): the next batch arrives while this one trains.
  void prefetch(const std::vector<std::size_t>& order, std::size_t begin, std::size_t count) const;
  // Images [begin, begin + count) as float; std::out_of_range past the end.
  void slice(std::size_t begin, std::size_t count, Tensor& out) const;
  Tensor unpack() const;  // every image as float
  // Images [begin, begin + count) as a store of their own, same encoding; std::out_of_range past the end.
  PackedImages rows(std::size_t begin, std::size_t count) const;

 private:
  Shape batch_shape(std::size_t count) const;
  void decode_row(std::size_t image, float* out) const;
  friend PackedImages add_noise_packed(const NoiseSpec&, const PackedImages&, std::uint64_t, std::uint64_t,
                                       std::optional<double>);

  Shape shape_;
  std::size_t row_ = 0;
  PixelEncoding encoding_ = PixelEncoding::u8;
  std::vector<std::uint8_t> u8_;
  std::vector<std::uint16_t> u16_;
};

// add_noise over a packed set, stored as u16: the values of add_noise(spec,
// clean.unpack(), noisy, seed, first_index), quantised, without ever holding the whole
// set as float. Noise "none" keeps clean's encoding. param_max: a range of levels, as
// add_noise takes it.
PackedImages add_noise_packed(const NoiseSpec& spec, const PackedImages& clean, std::uint64_t seed,
                              std::uint64_t first_index = 0, std::optional<double> param_max = std::nullopt);

}  // namespace dn

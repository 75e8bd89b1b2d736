#pragma once
// Pictures as files hold them (any size, 1-4 channels, 8 or 16 bits per sample), decoded
// with hardened, maintained decoders: libpng and libjpeg-turbo. Files are untrusted input:
// the header is read and checked against a pixel limit before any pixel memory is
// allocated, CRC errors, truncated streams and decoder warnings are errors, and every
// error is a DataError naming the file, never a partly decoded guess.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace dn {

// 100 million pixels (a 10000x10000 picture, 400 MB as 8-bit RGBA): larger headers are refused
// unless the caller raises the limit. A 1 MB PNG can declare 32000x32000 pixels.
inline constexpr std::uint64_t kDefaultMaxPixels = 100'000'000;

enum class PictureFormat { png, jpeg };

// A header that declares more pixels than the limit: refused before any pixel memory is
// allocated (a server answers it as "too large", not as a damaged file).
struct PixelLimitError : DataError {
  using DataError::DataError;
};

struct Picture {
  int width = 0, height = 0;
  int channels = 1;   // 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA (the alpha channel last)
  int bit_depth = 8;  // 8 or 16
  // Row-major, channels interleaved; at 16 bits each sample is a host-order std::uint16_t
  // in two bytes. Kept as bytes so an 8-bit picture costs one byte per sample.
  std::vector<std::uint8_t> bytes;

  Picture() = default;
  Picture(int width, int height, int channels, int bit_depth);  // zero-filled

  std::size_t samples() const { return std::size_t(width) * std::size_t(height) * std::size_t(channels); }
  bool has_alpha() const { return channels == 2 || channels == 4; }
  int colour_channels() const { return has_alpha() ? channels - 1 : channels; }
  double max_value() const { return bit_depth == 16 ? 65535.0 : 255.0; }

  // Sample i (row-major, interleaved) as a value in [0, 1].
  float get(std::size_t i) const;
  // Stores v (clipped to [0, 1], NaN as 0) rounded to the nearest level of the bit depth.
  void set(std::size_t i, float v);
  // The raw level (0-255 or 0-65535).
  std::uint16_t level(std::size_t i) const;
  void set_level(std::size_t i, std::uint16_t v);
};

// The format by the file's first bytes; DataError naming `name` for anything else.
PictureFormat sniff_picture_format(std::span<const std::uint8_t> file, const std::string& name);

// Decodes a whole PNG (any colour type and bit depth; palettes and 1-4 bit gray are
// expanded to 8 bits, tRNS to an alpha channel) or a baseline/progressive JPEG (gray or RGB;
// CMYK is refused). DataError naming `name` when the data is not such a file, is damaged
// (CRC error, truncated, a decoder warning); PixelLimitError when it declares more than
// max_pixels pixels.
Picture decode_picture(std::span<const std::uint8_t> file, const std::string& name,
                       std::uint64_t max_pixels = kDefaultMaxPixels);
Picture read_picture(const std::filesystem::path& path, std::uint64_t max_pixels = kDefaultMaxPixels);

// PNG keeps every layout and bit depth. JPEG holds 8-bit gray or RGB: alpha is dropped and
// 16-bit samples are rounded to 8 bits (callers that must keep them write PNG).
std::string encode_png(const Picture& picture);
std::string encode_jpeg(const Picture& picture, int quality = 95);
// By the extension: .jpg/.jpeg JPEG, anything else PNG; written with write_file_atomic.
void write_picture_atomic(const std::filesystem::path& path, const Picture& picture);
PictureFormat format_for_extension(const std::filesystem::path& path);

}  // namespace dn

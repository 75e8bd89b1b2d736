#pragma once
// IDX files, the format of MNIST and Fashion-MNIST: a big-endian header
// (magic 0x00000803 for images [N, H, W], 0x00000801 for labels [N]) followed
// by unsigned bytes. Files may be gzip-compressed; that is detected from the
// bytes themselves. Every failure is a DataError naming the file and the problem.
#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.hpp"

namespace dn {

inline constexpr std::uint32_t kIdxImagesMagic = 0x00000803;
inline constexpr std::uint32_t kIdxLabelsMagic = 0x00000801;

// The file's bytes, decompressed when it is gzip.
std::vector<std::uint8_t> read_idx_bytes(const std::filesystem::path& path);

// Parse already-read (and decompressed) IDX bytes; name is used in error messages.
Tensor parse_idx_images(std::span<const std::uint8_t> bytes, const std::string& name);  // [N, H, W], byte/255
std::vector<std::uint8_t> parse_idx_labels(std::span<const std::uint8_t> bytes, const std::string& name);
// The checks of parse_idx_images without converting: {N, H, W}; the pixels are
// the bytes from kIdxImagesHeader on, one per pixel, row-major.
inline constexpr std::size_t kIdxImagesHeader = 16;
std::array<int, 3> parse_idx_images_header(std::span<const std::uint8_t> bytes, const std::string& name);

Tensor read_idx_images(const std::filesystem::path& path);
std::vector<std::uint8_t> read_idx_labels(const std::filesystem::path& path);

// images: [N, H, W] or [N, H, W, 1] in [0, 1], stored as round(x * 255).
// Written atomically; gzip-compressed when compress is true.
void write_idx_images(const std::filesystem::path& path, const Tensor& images, bool compress = false);
void write_idx_labels(const std::filesystem::path& path, std::span<const std::uint8_t> labels, bool compress = false);

}  // namespace dn

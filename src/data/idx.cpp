#include "data/idx.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <fmt/core.h>

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "data/gzip.hpp"

namespace dn {

namespace fs = std::filesystem;

static std::uint32_t read_be32(const std::uint8_t* p) {
  return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 | std::uint32_t(p[3]);
}

static void append_be32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

static std::string describe_magic(std::uint32_t magic) {
  if (magic == kIdxImagesMagic) return "an IDX image file";
  if (magic == kIdxLabelsMagic) return "an IDX label file";
  if ((magic & 0xffff0000u) == 0x1f8b0000u) return "gzip data";
  return fmt::format("magic 0x{:08x}", magic);
}

std::vector<std::uint8_t> read_idx_bytes(const fs::path& path) {
  std::vector<std::uint8_t> bytes = read_file_bytes(path);
  if (is_gzip(bytes)) return gunzip(bytes, path.string());
  return bytes;
}

// Checks magic, dimension count and total size; returns the dimensions.
static std::vector<std::uint32_t> parse_header(std::span<const std::uint8_t> bytes, const std::string& name,
                                               std::uint32_t magic, const char* what) {
  if (bytes.size() < 4)
    throw DataError(fmt::format("{}: truncated: {} bytes is too short for an IDX header", name, bytes.size()));
  const std::uint32_t found = read_be32(bytes.data());
  if (found != magic)
    throw DataError(fmt::format("{}: not an IDX {} file: found {}, expected magic 0x{:08x}", name, what,
                                describe_magic(found), magic));
  const std::size_t rank = magic & 0xff;
  const std::size_t header = 4 + 4 * rank;
  if (bytes.size() < header)
    throw DataError(fmt::format("{}: truncated: {} bytes is too short for an IDX header of {} bytes", name,
                                bytes.size(), header));
  std::vector<std::uint32_t> dims(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    dims[i] = read_be32(bytes.data() + 4 + 4 * i);
    if (dims[i] == 0 || dims[i] > INT_MAX)
      throw DataError(fmt::format("{}: invalid IDX header: dimension {} is {}", name, i, dims[i]));
  }
  const std::string contents = rank == 1 ? fmt::format("{} labels", dims[0])
                                         : fmt::format("{} images of {}x{}", dims[0], dims[1], dims[2]);
  const std::size_t available = bytes.size() - header;
  std::size_t payload = 1;
  for (std::uint32_t d : dims) {
    // Divide rather than multiply so that a hostile header cannot overflow the product.
    if (d > available / payload)
      throw DataError(fmt::format("{}: truncated: the header promises {} but only {} data bytes follow", name,
                                  contents, available));
    payload *= d;
  }
  if (available > payload)
    throw DataError(fmt::format("{}: {} unexpected bytes after the {} the header describes", name,
                                available - payload, contents));
  return dims;
}

std::array<int, 3> parse_idx_images_header(std::span<const std::uint8_t> bytes, const std::string& name) {
  const auto dims = parse_header(bytes, name, kIdxImagesMagic, "image");
  return {int(dims[0]), int(dims[1]), int(dims[2])};
}

Tensor parse_idx_images(std::span<const std::uint8_t> bytes, const std::string& name) {
  const auto dims = parse_idx_images_header(bytes, name);
  Tensor images({dims[0], dims[1], dims[2]});
  std::array<float, 256> scale;
  for (int v = 0; v < 256; ++v) scale[std::size_t(v)] = float(v) / 255.0f;
  const std::uint8_t* src = bytes.data() + kIdxImagesHeader;
  float* dst = images.data();
  for (std::size_t i = 0; i < images.size(); ++i) dst[i] = scale[src[i]];
  return images;
}

std::vector<std::uint8_t> parse_idx_labels(std::span<const std::uint8_t> bytes, const std::string& name) {
  parse_header(bytes, name, kIdxLabelsMagic, "label");
  return {bytes.begin() + 8, bytes.end()};
}

Tensor read_idx_images(const fs::path& path) { return parse_idx_images(read_idx_bytes(path), path.string()); }

std::vector<std::uint8_t> read_idx_labels(const fs::path& path) {
  return parse_idx_labels(read_idx_bytes(path), path.string());
}

static void write_maybe_gzip(const fs::path& path, const std::string& bytes, bool compress) {
  if (!compress) return write_file_atomic(path, bytes);
  const auto packed = gzip({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
  write_file_atomic(path, {reinterpret_cast<const char*>(packed.data()), packed.size()});
}

void write_idx_images(const fs::path& path, const Tensor& images, bool compress) {
  const bool shape_ok = (images.rank() == 3 || (images.rank() == 4 && images.dim(3) == 1)) && images.size() > 0;
  if (!shape_ok) throw std::invalid_argument("write_idx_images: expected [N, H, W] images, got " + shape_str(images.shape()));
  std::string out;
  out.reserve(16 + images.size());
  append_be32(out, kIdxImagesMagic);
  for (int i = 0; i < 3; ++i) append_be32(out, std::uint32_t(images.dim(i)));
  for (std::size_t i = 0; i < images.size(); ++i) {
    const float v = images[i] > 0.0f ? std::min(images[i], 1.0f) : 0.0f;  // NaN -> 0
    out.push_back(static_cast<char>(static_cast<std::uint8_t>(std::lround(v * 255.0f))));
  }
  write_maybe_gzip(path, out, compress);
}

void write_idx_labels(const fs::path& path, std::span<const std::uint8_t> labels, bool compress) {
  if (labels.empty()) throw std::invalid_argument("write_idx_labels: no labels");
  std::string out;
  append_be32(out, kIdxLabelsMagic);
  append_be32(out, std::uint32_t(labels.size()));
  out.append(reinterpret_cast<const char*>(labels.data()), labels.size());
  write_maybe_gzip(path, out, compress);
}

}  // namespace dn

#include "data/checksum.hpp"

#include <openssl/evp.h>

#include <array>
#include <stdexcept>
#include <utility>

#include <fmt/core.h>

#include "core/error.hpp"

namespace dn {

std::string sha256_hex(std::span<const std::uint8_t> bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("OpenSSL SHA-256 failed");
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

std::string_view mnist_sha256(std::string_view file_name) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 4> sums{{
      {"train-images-idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"},
      {"train-labels-idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"},
      {"t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"},
      {"t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"},
  }};
  for (const auto& [name, sum] : sums)
    if (name == file_name) return sum;
  return {};
}

void verify_sha256(std::span<const std::uint8_t> bytes, std::string_view expected, const std::string& name) {
  const std::string actual = sha256_hex(bytes);
  if (actual != expected)
    throw DataError(fmt::format("{}: SHA-256 mismatch: expected {}, got {} (damaged or not the original file)", name,
                                expected, actual));
}

}  // namespace dn

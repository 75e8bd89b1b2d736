#pragma once
// SHA-256 (OpenSSL EVP) and the published checksums of the MNIST files
// (DESIGN.md section 2). Hashing all four files takes about 30 ms, so loads
// verify every time instead of trusting a cached stamp.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace dn {

std::string sha256_hex(std::span<const std::uint8_t> bytes);  // 64 lowercase hex digits

// The SHA-256 of the uncompressed original, e.g. for "train-images-idx3-ubyte";
// empty when the name is not one of the four MNIST files.
std::string_view mnist_sha256(std::string_view file_name);

// Throws DataError "<name>: SHA-256 mismatch: expected ..., got ..." when the hash differs.
void verify_sha256(std::span<const std::uint8_t> bytes, std::string_view expected, const std::string& name);

}  // namespace dn

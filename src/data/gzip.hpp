#pragma once
// gzip (RFC 1952) in memory, via zlib. Data files are recognised as gzip by
// their first two bytes (1f 8b), never by their name.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace dn {

bool is_gzip(std::span<const std::uint8_t> bytes);

// Decompresses every gzip member in bytes. Throws DataError "<name>: corrupt gzip data ..."
// when the stream is damaged or cut short.
std::vector<std::uint8_t> gunzip(std::span<const std::uint8_t> bytes, const std::string& name);

std::vector<std::uint8_t> gzip(std::span<const std::uint8_t> bytes);

}  // namespace dn

#include "data/tar.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/core.h>

#include "core/error.hpp"

namespace dn {

static constexpr std::size_t kBlock = 512;

static std::string field(const std::uint8_t* p, std::size_t n) {
  const auto* end = std::find(p, p + n, std::uint8_t(0));
  return std::string(reinterpret_cast<const char*>(p), std::size_t(end - p));
}

// Numeric fields are octal text, or big-endian binary when the first byte has its high bit set.
static bool parse_number(const std::uint8_t* p, std::size_t n, std::uint64_t& value) {
  value = 0;
  if (p[0] & 0x80) {
    for (std::size_t i = 1; i < n; ++i) {
      if (value >> 56) return false;
      value = value << 8 | p[i];
    }
    return true;
  }
  std::size_t i = 0;
  while (i < n && p[i] == ' ') ++i;
  for (; i < n && p[i] >= '0' && p[i] <= '7'; ++i) {
    if (value >> 60) return false;
    value = value << 3 | std::uint64_t(p[i] - '0');
  }
  return i == n || p[i] == ' ' || p[i] == 0;
}

std::optional<std::vector<std::uint8_t>> find_tar_member(std::span<const std::uint8_t> tar,
                                                         std::string_view member_path, const std::string& name) {
  std::size_t pos = 0;
  while (pos + kBlock <= tar.size()) {
    const std::uint8_t* h = tar.data() + pos;
    if (std::all_of(h, h + kBlock, [](std::uint8_t b) { return b == 0; })) return std::nullopt;  // end marker

    std::uint64_t stored_sum = 0, size = 0;
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < kBlock; ++i) sum += (i >= 148 && i < 156) ? std::uint8_t(' ') : h[i];
    if (!parse_number(h + 148, 8, stored_sum) || stored_sum != sum || !parse_number(h + 124, 12, size))
      throw DataError(fmt::format("{}: damaged tar header at offset {}", name, pos));

    const std::string prefix = std::memcmp(h + 257, "ustar", 5) == 0 ? field(h + 345, 155) : std::string();
    const std::string path = prefix.empty() ? field(h, 100) : prefix + "/" + field(h, 100);
    const char type = char(h[156]);
    pos += kBlock;
    if (size > tar.size() - pos)
      throw DataError(fmt::format("{}: truncated: {} needs {} bytes but the archive ends first", name, path, size));
    if ((type == '0' || type == '\0') && path == member_path)
      return std::vector<std::uint8_t>(tar.begin() + std::ptrdiff_t(pos), tar.begin() + std::ptrdiff_t(pos + size));
    pos += (size + kBlock - 1) / kBlock * kBlock;
  }
  if (pos < tar.size() || pos == 0) throw DataError(name + ": truncated tar archive");
  return std::nullopt;
}

}  // namespace dn

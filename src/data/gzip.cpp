#include "data/gzip.hpp"

#include <zlib.h>

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "core/error.hpp"

namespace dn {

bool is_gzip(std::span<const std::uint8_t> bytes) {
  return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

std::vector<std::uint8_t> gunzip(std::span<const std::uint8_t> bytes, const std::string& name) {
  const auto fail = [&](const std::string& why) { return DataError(name + ": corrupt gzip data (" + why + ")"); };
  if (!is_gzip(bytes)) throw fail("no gzip header");
  if (bytes.size() > std::numeric_limits<uInt>::max()) throw fail("file too large");

  std::vector<std::uint8_t> out;
  // The last four bytes hold the uncompressed size modulo 2^32: a good first guess, but
  // unchecked until the end, so a damaged or hostile file could make a few bytes reserve
  // 4 GB. Deflate expands at most 1032-fold, which bounds any true size.
  if (bytes.size() >= 18) {
    const std::size_t n = bytes.size();
    const std::size_t declared = std::uint32_t(bytes[n - 4]) | std::uint32_t(bytes[n - 3]) << 8 |
                                 std::uint32_t(bytes[n - 2]) << 16 | std::uint32_t(bytes[n - 1]) << 24;
    out.reserve(std::min(declared, n * 1032));
  }
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) throw std::runtime_error("zlib inflateInit2 failed");
  zs.next_in = const_cast<Bytef*>(bytes.data());
  zs.avail_in = static_cast<uInt>(bytes.size());
  std::uint8_t chunk[1 << 16];
  for (;;) {
    zs.next_out = chunk;
    zs.avail_out = sizeof chunk;
    const int rc = inflate(&zs, Z_NO_FLUSH);
    out.insert(out.end(), chunk, chunk + (sizeof chunk - zs.avail_out));
    if (rc == Z_STREAM_END) {
      // A file may hold several gzip members back to back; anything else after one is damage.
      const std::span<const std::uint8_t> rest(zs.next_in, zs.avail_in);
      if (rest.empty()) break;
      if (!is_gzip(rest)) {
        inflateEnd(&zs);
        throw fail(std::to_string(rest.size()) + " bytes of trailing garbage");
      }
      inflateReset(&zs);
      continue;
    }
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) {
      inflateEnd(&zs);
      throw fail("stream cut short: file truncated");
    }
    const std::string why = zs.msg ? zs.msg : "zlib error " + std::to_string(rc);
    inflateEnd(&zs);
    throw fail(why);
  }
  inflateEnd(&zs);
  return out;
}

std::vector<std::uint8_t> gzip(std::span<const std::uint8_t> bytes) {
  if (bytes.size() > std::numeric_limits<uInt>::max()) throw std::length_error("gzip: input too large");
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("zlib deflateInit2 failed");
  std::vector<std::uint8_t> out(deflateBound(&zs, static_cast<uLong>(bytes.size())) + 32);
  zs.next_in = const_cast<Bytef*>(bytes.data());
  zs.avail_in = static_cast<uInt>(bytes.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("zlib deflate failed");
  return out;
}

}  // namespace dn

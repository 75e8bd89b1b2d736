// The IDX reader (data/idx.hpp): images and labels headers and bodies, from bytes as
// read_idx_bytes returns them, and through a file, which may be gzip.
#include <span>

#include "data/idx.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  dn::fuzz::expect_documented_errors([&] { dn::parse_idx_images_header(bytes, "fuzz"); });
  dn::fuzz::expect_documented_errors([&] { dn::parse_idx_images(bytes, "fuzz"); });
  dn::fuzz::expect_documented_errors([&] { dn::parse_idx_labels(bytes, "fuzz"); });
  // Gzip input (1f 8b) goes through the decompressor as a file would.
  if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
    const auto path = dn::fuzz::scratch_file(data, size, ".idx.gz");
    dn::fuzz::expect_documented_errors([&] { dn::read_idx_images(path); });
    dn::fuzz::expect_documented_errors([&] { dn::read_idx_labels(path); });
  }
  return 0;
}

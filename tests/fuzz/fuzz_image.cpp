// Picture decoding (data/image_codec.hpp): PNG through libpng, JPEG through libjpeg-turbo.
// The pixel limit is lowered so that a header declaring a huge picture is refused
// rather than allocated (the default's 100 million pixels exceed the fuzzer's memory).
#include <span>

#include "data/image_codec.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  dn::fuzz::expect_documented_errors([&] {
    const dn::Picture p = dn::decode_picture(bytes, "fuzz", 4'000'000);
    // What callers do next: read every sample.
    float sum = 0;
    for (std::size_t i = 0; i < p.samples(); ++i) sum += p.get(i);
    if (p.bytes.size() != p.samples() * (p.bit_depth == 16 ? 2 : 1)) __builtin_trap();
    (void)sum;
  });
  return 0;
}

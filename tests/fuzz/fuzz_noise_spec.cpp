// The noise-spec parser (data/noise.hpp): "gaussian:0.5", "poisson:10", ... A spec it
// accepts must print back to itself: parse_noise(spec.str()) == spec.
#include <string>

#include "data/noise.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  dn::fuzz::expect_documented_errors([&] {
    const dn::NoiseSpec spec = dn::parse_noise(text);
    if (!(dn::parse_noise(spec.str()) == spec)) __builtin_trap();
  });
  return 0;
}

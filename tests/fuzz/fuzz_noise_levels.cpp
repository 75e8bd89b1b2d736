// The noise-level list parser (eval/classify_pipelines.hpp): "0,0.1,...,1".
#include <string>

#include "eval/classify_pipelines.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  dn::fuzz::expect_documented_errors([&] {
    const auto levels = dn::parse_noise_levels(text);
    if (levels.size() > 1000) __builtin_trap();  // documented limit
  });
  return 0;
}

#include "version.hpp"

#include <fmt/core.h>
#include <fmt/ranges.h>

#include "build_info.hpp"  // DENOISE_COMMIT, written at build time (cmake/build_info.cmake)
#include "core/error.hpp"
#include "kernels/simd/simd.hpp"

namespace dn::app {

std::string version_text() {
  std::string simd;
  try {  // names the target in use (DENOISE_SIMD pins it) and the ones available
    simd = fmt::format("{} (available: {}; DENOISE_SIMD pins one)", kernels::simd::target(),
                       fmt::join(kernels::simd::available_targets(), ", "));
  } catch (const UsageError& e) {
    simd = e.what();
  }
  return fmt::format(
      "denoise {}\ncommit: {}\ncompiler: {} {}\nbuild type: {}\nSIMD target: {}\noptional parts: {}",
      DENOISE_VERSION, DENOISE_COMMIT, DENOISE_COMPILER_ID, __VERSION__, DENOISE_BUILD_TYPE, simd,
      DENOISE_OPTIONAL_PARTS);
}

}  // namespace dn::app

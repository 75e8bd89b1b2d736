#pragma once
#include <string>

namespace dn::app {

// `denoise --version`: version, commit, compiler, build type, the SIMD target in
// use and the optional parts built in.
std::string version_text();

}  // namespace dn::app

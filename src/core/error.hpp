#pragma once
// Errors the program reports to users. Each carries its exit status so that
// the command-line shell maps them without knowing where they came from.
#include <stdexcept>
#include <string>

namespace dn {

// Bad or missing input data (files, checksums, shapes): exit status 1.
struct DataError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Bad command-line usage (unknown option value, out-of-range parameter): exit status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Training diverged (NaN or infinite loss) and the run stopped: exit status 3.
struct DivergedError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace dn

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

// A bad value of one named argument of a library call, worded as Keras words its
// errors: "epochs must be >= 1 (got 0)". The program names its own flag instead
// (--epochs) from argument(); the library never speaks of flags.
struct ArgumentError : UsageError {
  ArgumentError(std::string argument, const std::string& complaint)
      : UsageError(argument + " " + complaint), argument_(std::move(argument)), complaint_(complaint) {}
  const std::string& argument() const { return argument_; }
  const std::string& complaint() const { return complaint_; }  // the message without the argument's name

 private:
  std::string argument_, complaint_;
};

// Training diverged (NaN or infinite loss) and the run stopped: exit status 3.
struct DivergedError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Training was asked to stop (an interrupt) and left its last checkpoint to resume
// from: the program exits 130 (SIGINT) or 143 (SIGTERM).
struct InterruptedError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace dn

#pragma once
// Shared helpers for the tests: a fresh temporary folder per test, and running
// the real `denoise` program to check its output and exit status.
#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace dn::test {

// A new empty folder under the system temp dir, removed when the object dies.
struct TempDir {
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::filesystem::path path;
  std::filesystem::path operator/(const std::string& name) const { return path / name; }
};

struct CliResult {
  int status = -1;     // exit status of the program
  std::string output;  // stdout and stderr together
};

// Runs the built `denoise` executable with these arguments (no shell quoting needed).
CliResult run_denoise(const std::vector<std::string>& args);

// Runs `denoise` and, as soon as when() returns true (polled every millisecond), sends
// it the signal: a real interrupt or kill at a chosen moment. The status of a program
// killed by a signal is 128 + the signal, as a shell reports it; -1 when when() never
// became true before the program ended.
CliResult run_denoise_until(const std::vector<std::string>& args, const std::function<bool()>& when, int signal);

// The same for any program: argv[0] is its path.
CliResult run_until(const std::vector<std::string>& argv, const std::function<bool()>& when, int signal);

// Training images that make an epoch long enough to interrupt in: about 0.3 s on one
// thread in the release build, and over a second with a quarter of them in the
// sanitizer build, which runs 20-30x slower.
#ifdef __SANITIZE_ADDRESS__
inline constexpr std::size_t kInterruptibleImages = 2400;
#else
inline constexpr std::size_t kInterruptibleImages = 9600;
#endif

// The epochs finished in the checkpoint of an interrupted run to `run`, 0 while there is none.
int checkpoint_epoch(const std::filesystem::path& run);

void write_bytes(const std::filesystem::path& path, const std::string& bytes);

}  // namespace dn::test

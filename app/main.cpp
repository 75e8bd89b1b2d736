// The `denoise` program: a thin shell that parses flags and calls the library.
// Exit status: 0 ok, 1 data error, 2 usage error, 3 training diverged, 4 internal error,
// 130 / 143 training interrupted by SIGINT / SIGTERM (its checkpoint kept, to resume).
#include <algorithm>
#include <csignal>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include "commands.hpp"
#include "options.hpp"
#include "core/error.hpp"
#include "kernels/simd/simd.hpp"

namespace dn::app {

static std::vector<std::pair<int, CommandAdder>>& registry() {
  static std::vector<std::pair<int, CommandAdder>> commands;
  return commands;
}

RegisterCommand::RegisterCommand(int order, CommandAdder add) { registry().emplace_back(order, std::move(add)); }

void add_all_commands(CLI::App& app) {
  auto& commands = registry();
  std::stable_sort(commands.begin(), commands.end(), [](auto& a, auto& b) { return a.first < b.first; });
  for (auto& [order, add] : commands) add(app);
}

}  // namespace dn::app

int main(int argc, char** argv) {
  CLI::App app{"denoise: convolutional denoising autoencoders and digit prediction for noisy images"};
  app.require_subcommand(1);
  app.set_version_flag("--version", [] {
    // Names the SIMD kernels' target in use (DENOISE_SIMD pins it) and the ones available.
    try {
      return fmt::format("denoise 0.1.0\nSIMD target: {} (available: {}; DENOISE_SIMD pins one)",
                         dn::kernels::simd::target(), fmt::join(dn::kernels::simd::available_targets(), ", "));
    } catch (const dn::UsageError& e) {
      return fmt::format("denoise 0.1.0\nSIMD target: {}", e.what());
    }
  });
  dn::app::add_all_commands(app);
  try {
    // A bad DENOISE_SIMD is a usage error before any work starts (--version reports it).
    if (std::find(argv + 1, argv + argc, std::string("--version")) == argv + argc)
      dn::kernels::simd::apply_environment();
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints the message and the usage hint
    return 2;
  } catch (const dn::ArgumentError& e) {
    // The library names its argument (batch_size); the user typed a flag (--batch-size).
    std::string flag = "--" + e.argument();
    std::replace(flag.begin(), flag.end(), '_', '-');
    fmt::print(stderr, "denoise: error: {} {}\n", flag, e.complaint());
    return 2;
  } catch (const dn::UsageError& e) {
    fmt::print(stderr, "denoise: error: {}\n", e.what());
    return 2;
  } catch (const dn::DataError& e) {
    fmt::print(stderr, "denoise: error: {}\n", e.what());
    return 1;
  } catch (const dn::InterruptedError& e) {
    fmt::print(stderr, "\ndenoise: {}\n", e.what());
    const int signal = dn::app::interrupt_signal();
    return 128 + (signal ? signal : SIGINT);
  } catch (const dn::DivergedError& e) {
    fmt::print(stderr, "denoise: {}\n", e.what());
    return 3;
  } catch (const std::exception& e) {
    fmt::print(stderr, "denoise: internal error: {}\n", e.what());
    return 4;
  }
  return 0;
}

// The `denoise` program: a thin shell that parses flags and calls the library.
// Exit status: 0 ok, 1 data error, 2 usage error, 3 training diverged, 4 internal error,
// 130 / 143 training interrupted by SIGINT / SIGTERM (its checkpoint kept, to resume).
#include <algorithm>
#include <filesystem>
#include <csignal>
#include <exception>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include "cli.hpp"
#include "commands.hpp"
#include "options.hpp"
#include "core/error.hpp"
#include "core/heap.hpp"
#include "dist/communicator.hpp"
#include "kernels/simd/simd.hpp"
#include "version.hpp"

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

static std::map<const CLI::App*, std::function<void()>>& work() {
  static std::map<const CLI::App*, std::function<void()>> table;
  return table;
}

void on_run(CLI::App* cmd, std::function<void()> run) { work()[cmd] = std::move(run); }

std::function<void()> chosen_work(CLI::App& app) {
  CLI::App* at = &app;
  while (!at->get_subcommands().empty()) at = at->get_subcommands().front();
  const auto it = work().find(at);
  return it == work().end() ? std::function<void()>{} : it->second;
}

// denoise help [COMMAND...]: listed here; main reads its words itself, since
// CLI11 would take "train" in `denoise help train` for the train command.
static RegisterCommand reg_help(1000, [](CLI::App& app) {
  app.add_subcommand("help", "show the commands, or one command's flags: denoise help classify train");
});

// denoise completion bash: the completion script that scripts/setup.sh installs.
static RegisterCommand reg_completion(1010, [](CLI::App& app) {
  auto shell = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("completion", "print the bash completion script (scripts/setup.sh installs it)");
  cmd->add_option("shell", *shell, "bash (the only shell supported)")->required()->check(CLI::IsMember({"bash"}));
  // The work holds the flag's storage: the option writes into it until the app is gone.
  on_run(cmd, [&app, shell] { fmt::print("{}", bash_completion(app)); });
});

// An error's message and exit status. In a job of several processes the whole job
// ends with it, since the other ranks would otherwise wait for this one for ever.
static int fail(const std::string& message, int code) {
  if (dist::world().size() > 1) dist::Session::abort_job(message, code);
  fmt::print(stderr, "{}\n", message);
  return code;
}

}  // namespace dn::app

int main(int argc, char** argv) {
  using dn::app::fail;
  dn::keep_freed_memory();
  CLI::App app{"denoise: convolutional denoising autoencoders and digit prediction for noisy images", "denoise"};
  app.footer("Run 'denoise help COMMAND' for a command's flags. Exit status: 0 ok, 1 bad or missing data, "
             "2 usage error, 3 training diverged, 4 internal error.");
  app.set_version_flag("--version", [] { return dn::app::version_text(); }, "version, commit, compiler, SIMD target");
  dn::app::add_all_commands(app);
  const std::vector<std::string> args(argv + 1, argv + argc);
  // Started only under mpirun; it ends after main has reported any error to the job.
  std::optional<dn::dist::Session> mpi;
  try {
    mpi.emplace(argc, argv);
    // A bad DENOISE_SIMD is a usage error before any work starts (--version reports it).
    if (std::find(args.begin(), args.end(), "--version") == args.end()) dn::kernels::simd::apply_environment();
    if (!args.empty() && args[0] == "help") {
      fmt::print("{}", dn::app::help_text(app, {args.begin() + 1, args.end()}));
      return 0;
    }
    try {
      app.parse(argc, argv);
    } catch (const CLI::Success& e) {
      return app.exit(e);  // --help, --version
    } catch (const CLI::ParseError& e) {
      throw dn::UsageError(dn::app::explain_parse_error(app, args, e));
    }
    const std::function<void()> work = dn::app::chosen_work(app);
    if (!work) {
      fmt::print("{}", app.help());
      return args.empty() ? 0 : 2;
    }
    work();
  } catch (const dn::ArgumentError& e) {
    // The library names its argument (batch_size); the user typed a flag (--batch-size).
    std::string flag = "--" + e.argument();
    std::replace(flag.begin(), flag.end(), '_', '-');
    return fail(fmt::format("denoise: error: {} {}", flag, e.complaint()), 2);
  } catch (const dn::UsageError& e) {
    return fail(fmt::format("denoise: error: {}", e.what()), 2);
  } catch (const dn::DataError& e) {
    return fail(fmt::format("denoise: error: {}", e.what()), 1);
  } catch (const dn::InterruptedError& e) {
    const int signal = dn::app::interrupt_signal();
    return fail(fmt::format("\ndenoise: {}", e.what()), 128 + (signal ? signal : SIGINT));
  } catch (const dn::DivergedError& e) {
    return fail(fmt::format("denoise: {}", e.what()), 3);
  } catch (const std::filesystem::filesystem_error& e) {
    // The file system refused (a symlink loop, a permission): the user's environment, not a bug.
    return fail(fmt::format("denoise: error: {}: {}", e.path1().string(), e.code().message()), 1);
  } catch (const std::exception& e) {
    return fail(fmt::format("denoise: internal error: {}", e.what()), 4);
  }
  return 0;
}

#pragma once
// Each app/cmd_*.cpp file registers its subcommands here at start-up, so the
// program's shell (main.cpp) stays the same as commands are added.
#include <functional>

#include <CLI/CLI.hpp>

namespace dn::app {

using CommandAdder = std::function<void(CLI::App& app)>;

// order sets the place in `denoise --help`; lower comes first.
struct RegisterCommand {
  RegisterCommand(int order, CommandAdder add);
};

void add_all_commands(CLI::App& app);

}  // namespace dn::app

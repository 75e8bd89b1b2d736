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

// What a subcommand does once the whole command line has parsed. CLI11 runs its
// own callbacks before it rejects unknown arguments, so a mistyped flag would
// only be reported after the work; the program runs this instead, after parsing.
void on_run(CLI::App* cmd, std::function<void()> run);
// The work of the subcommand the command line chose (the deepest one parsed);
// empty when it has none (`denoise classify` alone).
std::function<void()> chosen_work(CLI::App& app);

}  // namespace dn::app

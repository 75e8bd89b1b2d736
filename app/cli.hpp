#pragma once
// The program's side of the command line that CLI11 does not do: "did you mean"
// for mistyped subcommands and flags, usage errors worded as the program's own,
// `denoise help`, and bash completion generated from the same flags.
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace dn::app {

// The candidates closest to `typed` by edit distance (or that it begins), best
// first, at most three; empty when none is close.
std::vector<std::string> closest_names(const std::string& typed, const std::vector<std::string>& candidates);

// The message of a CLI11 parse error as the program words it: a mistyped
// subcommand or flag named with its closest spellings, then the command's help
// pointer. args: the command line without the program name.
std::string explain_parse_error(CLI::App& app, const std::vector<std::string>& args, const CLI::ParseError& error);

// The help of the program, or of the command the words name (`denoise help
// classify train`); UsageError with the closest names for a word that names none.
std::string help_text(CLI::App& app, const std::vector<std::string>& words);

// "denoise classify train", for an app and its parents.
std::string command_path(const CLI::App& app);

// A bash completion script for every subcommand and flag of app.
std::string bash_completion(CLI::App& app);

}  // namespace dn::app

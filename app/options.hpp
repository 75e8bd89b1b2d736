#pragma once
// Flag groups shared by several subcommands, so that every command spells
// them the same way (Keras-like names, DESIGN.md section 3).
#include <string>

#include <CLI/CLI.hpp>

#include "data/dataset.hpp"

namespace dn::app {

// --dataset, --data-dir, --limit
void add_data_flags(CLI::App& cmd, DataOptions& data);
// --threads N (0 = all cores); call apply_threads before computing.
void add_threads_flag(CLI::App& cmd, int& threads);
void apply_threads(int threads);

}  // namespace dn::app

// denoise summary: the Keras-style table of a built-in model.
#include <fmt/core.h>
#include <fmt/ranges.h>

#include "commands.hpp"
#include "nn/models.hpp"
#include "nn/summary.hpp"

namespace dn::app {

static RegisterCommand reg_model(10, [](CLI::App& app) {
  struct Flags {
    ModelSpec spec;
  };
  auto flags = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("summary", "print a built-in model's layers and parameter counts (Keras style)");
  cmd->add_option("--model", flags->spec.name, fmt::format("built-in model: {}", fmt::join(model_names(), ", ")))
      ->capture_default_str();
  cmd->add_option("--activation", flags->spec.activation, "hidden activation of the seed model")->capture_default_str();
  on_run(cmd, [flags] {
    auto model = make_model(flags->spec, 0);
    fmt::print("{}", summary(*model, true));
  });
});

}  // namespace dn::app

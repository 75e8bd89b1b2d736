// denoise sweep: the seed's optimizer x activation table, several repeats per cell.
#include <fmt/core.h>

#include "commands.hpp"
#include "dist/communicator.hpp"
#include "options.hpp"
#include "experiments/sweep.hpp"

namespace dn::app {

static RegisterCommand reg_sweep(50, [](CLI::App& app) {
  struct Flags {
    SweepOptions sweep;
    std::string out;
  };
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("sweep", "train every optimizer x activation cell several times (the seed's table)");
  SweepOptions& s = f->sweep;
  cmd->add_option("--optimizers", s.optimizers, "comma-separated")->delimiter(',')->capture_default_str();
  cmd->add_option("--activations", s.activations, "comma-separated")->delimiter(',')->capture_default_str();
  cmd->add_option("--repeats", s.repeats, "runs per cell, seeds seed, seed+1, ...")->capture_default_str();
  cmd->add_option("--model", s.base.model, "denoiser model of every run (denoise help train lists them)")
      ->capture_default_str();
  cmd->add_option("--loss", s.base.loss, "binary_crossentropy, mean_squared_error or psnr")->capture_default_str();
  cmd->add_option("--epochs", s.base.epochs, "passes over the training images, each run")->capture_default_str();
  cmd->add_option("--batch-size", s.base.batch_size, "images per gradient step")->capture_default_str();
  add_noise_flag(*cmd, s.base.noise, "noise added to the inputs")->capture_default_str();
  cmd->add_option("--seed", s.base.seed, "seed of the first repeat")->capture_default_str();
  cmd->add_option("--parallel", s.parallel, "runs trained at once, one thread each (0 = one per core)")
      ->capture_default_str();
  add_data_flags(*cmd, s.base.data);
  add_training_control_flags(*cmd, s.base.controls, s.base.data);
  cmd->add_flag("--overwrite", s.overwrite, "retrain finished runs whose settings differ from these");
  cmd->add_option("--out", f->out, "sweep folder (re-running skips finished runs)")->required();
  on_run(cmd, [f] {
    dist::Communicator& world = dist::world();
    const nlohmann::json result = run_sweep(f->sweep, f->out, printing_observer(), world);
    if (world.rank() != 0) return;
    fmt::print("\n{}Wrote {}/sweep.json and sweep.md\n", format_sweep(result), f->out);
  });
});

}  // namespace dn::app

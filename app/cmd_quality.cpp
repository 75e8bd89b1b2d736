// denoise quality: the quality table of every method (noisy input, OpenCV baselines,
// denoiser run folders) over noise kinds and levels.
#include <fmt/core.h>

#include "commands.hpp"
#include "core/error.hpp"
#include "experiments/quality.hpp"
#include "options.hpp"

namespace dn::app {

namespace fs = std::filesystem;

static RegisterCommand reg_quality(35, [](CLI::App& app) {
  struct Flags {
    QualityOptions options;
    std::vector<std::string> models;
    std::string out = "quality";
    bool no_baselines = false;
    int threads = 0;
  };
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand(
      "quality", "quality table: noisy input, OpenCV baselines (tuned on validation) and denoiser runs, "
                 "PSNR and SSIM with 95% intervals over the test set at many noises");
  QualityOptions& o = f->options;
  cmd->add_option("--model", f->models, "LABEL=RUN_DIR: a denoiser run folder as a row (repeatable)");
  cmd->add_option("--noise", o.noises,
                  "columns (repeatable; default gaussian:0.1 ... gaussian:1.0, salt-pepper:0.2, speckle:0.5, "
                  "poisson:10)");
  cmd->add_flag("--no-baselines", f->no_baselines, "leave the OpenCV baselines out");
  add_data_flags(*cmd, o.data);
  cmd->add_option("--tune-images", o.tune_images, "validation images each baseline's parameter is chosen on")
      ->capture_default_str();
  cmd->add_option("--seed", o.seed, "noise seed (a run seeded so draws the same noise)")->capture_default_str();
  cmd->add_option("--picture-noise", o.picture_noise, "noise of digits.png (one of the columns)")
      ->capture_default_str();
  cmd->add_option("--out", f->out, "folder for quality.json, quality.md, quality.png, digits.png")
      ->capture_default_str();
  add_threads_flag(*cmd, f->threads);
  on_run(cmd, [f] {
    apply_threads(f->threads);
    QualityOptions options = f->options;
    options.limit = options.data.limit;  // --limit cuts the test set; tuning keeps tune_images
    options.baselines = !f->no_baselines;
    for (const std::string& m : f->models) {
      const auto eq = m.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == m.size())
        throw ArgumentError("model", fmt::format("'{}' must be LABEL=RUN_DIR", m));
      options.models.emplace_back(m.substr(0, eq), fs::path(m.substr(eq + 1)));
    }
    const QualityTable table = run_quality_table(options, f->out);
    fmt::print("{}\nWrote {}/quality.json, quality.md, quality.png, digits.png\n", table.markdown(), f->out);
  });
});

}  // namespace dn::app

// denoise apply: a trained denoiser (or a classical baseline) on your own picture files,
// written to another folder.
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string_view>

#include <fmt/core.h>

#include "commands.hpp"
#include "core/error.hpp"
#include "core/file_io.hpp"
#include "eval/apply_images.hpp"
#include "options.hpp"
#include "train/denoiser.hpp"

namespace dn::app {

// "[=====>    ] 3/10 name" redrawn in place on a terminal; nothing when stderr is a file.
static void draw_file_bar(std::size_t done, std::size_t total, const std::string& name) {
  constexpr std::size_t kWidth = 30;
  const std::size_t filled = total ? done * kWidth / total : kWidth;
  std::string bar(filled, '=');
  if (filled < kWidth) bar += '>' + std::string(kWidth - filled - 1, ' ');
  fmt::print(stderr, "\r[{}] {}/{} {:<40.40}", bar, done, total, name);
  if (done == total) fmt::print(stderr, "\n");
  std::fflush(stderr);
}

static RegisterCommand reg_apply(42, [](CLI::App& app) {
  struct Flags {
    std::string run, out, colour = "per-channel", noise = "none", reference;
    std::vector<std::string> inputs;
    bool recursive = false, compare = false;
    TileOptions tiles;
    std::uint64_t max_pixels = kDefaultMaxPixels, seed = 0;
    int threads = 0;
  };
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("apply", "denoise your own PNG or JPEG pictures (any size, channels, bit depth)");
  cmd->add_option("run", f->run,
                  "denoiser run folder (denoise train, or one of models/), or baseline:NAME:VALUE for a classical "
                  "filter run on whole pictures (baseline:median:5, baseline:gaussian_blur:0.8, "
                  "baseline:bilateral:0.2, baseline:nl_means:20)")
      ->required();
  cmd->add_option("inputs", f->inputs, "picture files or folders of them")->required();
  cmd->add_option("--out", f->out, "output folder: same names, size, channels and bit depth; apply.json summary")
      ->required();
  cmd->add_flag("-r,--recursive", f->recursive, "also take the pictures in subfolders of a folder");
  cmd->add_option("--colour,--color", f->colour,
                  "per-channel (each colour channel denoised as a gray image) or luma (only the luminance; "
                  "chroma kept)")
      ->capture_default_str();
  cmd->add_option("--tile", f->tiles.tile, "tile side in pixels (memory is one tile per thread)")->capture_default_str();
  cmd->add_option("--overlap", f->tiles.overlap,
                  "context around each tile (default: the model's receptive field radius, 7 pixels for the seed model)");
  cmd->add_option("--max-pixels", f->max_pixels, "refuse pictures that declare more pixels (decompression bombs)")
      ->capture_default_str();
  add_noise_flag(*cmd, f->noise, "add this noise first (a demo; seeded)")->capture_default_str();
  cmd->add_option("--seed", f->seed, "seed of --noise")->capture_default_str();
  cmd->add_flag("--compare", f->compare, "also write NAME.compare.png: input (noisy) | denoised");
  cmd->add_option("--reference", f->reference, "folder of the clean originals (same names): PSNR and SSIM");
  add_threads_flag(*cmd, f->threads);
  on_run(cmd, [f] {
    apply_threads(f->threads);
    ApplyOptions options;
    options.out_dir = f->out;
    const ColourMode colour = parse_colour_mode(f->colour);
    const TileOptions tiles = f->tiles;
    if (tiles.tile < 1) throw ArgumentError("tile", fmt::format("must be >= 1 (got {})", tiles.tile));
    if (tiles.overlap && *tiles.overlap < 0)
      throw ArgumentError("overlap", fmt::format("must be >= 0 (got {})", *tiles.overlap));
    options.max_pixels = f->max_pixels;
    options.noise = parse_noise(f->noise);
    options.seed = f->seed;
    options.compare = f->compare;
    options.reference_dir = f->reference;
    static constexpr std::string_view kBaseline = "baseline:";
    std::unique_ptr<Sequential> model;
    PictureDenoiser denoise;
    if (f->run.starts_with(kBaseline)) {
      const Baseline baseline = parse_baseline(f->run.substr(kBaseline.size()));
      denoise = [baseline, colour](const Picture& p) { return denoise_picture(baseline, p, colour); };
    } else {
      model = load_denoiser(f->run).model;
      denoise = [&model, colour, tiles](const Picture& p) { return denoise_picture(*model, p, colour, tiles); };
    }
    const std::vector<std::filesystem::path> paths(f->inputs.begin(), f->inputs.end());
    const std::vector<ApplyInput> inputs = collect_inputs(paths, f->recursive);
    if (inputs.empty()) throw DataError("no PNG or JPEG pictures among the inputs");

    const bool bar = isatty(STDERR_FILENO);
    ApplyObserver observer;
    observer.on_file = [bar](std::size_t done, std::size_t total, const ApplyFileResult& r) {
      if (!r.error.empty()) fmt::print(stderr, "{}denoise: error: {}\n", bar ? "\r" : "", r.error);
      if (bar) draw_file_bar(done, total, r.input.filename().string());
    };
    const auto results = apply_denoiser(denoise, inputs, options, observer);
    nlohmann::json summary = apply_summary_json(results);
    summary["denoiser"] = f->run;
    write_json_atomic(options.out_dir / "apply.json", summary);

    const std::size_t failed = summary["failed"].get<std::size_t>();
    const auto pictures = [](std::size_t n) { return fmt::format("{} picture{}", n, n == 1 ? "" : "s"); };
    fmt::print("denoised {} of {} into {} ({:.2f} s)\n", results.size() - failed, pictures(results.size()),
               options.out_dir.string(), summary["seconds"].get<double>());
    if (summary.contains("mean_psnr"))
      fmt::print("PSNR {:.2f} dB -> {:.2f} dB, SSIM {:.3f} -> {:.3f} (mean over {})\n",
                 summary["mean_input_psnr"].get<double>(), summary["mean_psnr"].get<double>(),
                 summary["mean_input_ssim"].get<double>(), summary["mean_ssim"].get<double>(),
                 pictures(results.size() - failed));
    if (failed) throw DataError(fmt::format("{} of {} failed", failed, pictures(results.size())));
  });
});

}  // namespace dn::app

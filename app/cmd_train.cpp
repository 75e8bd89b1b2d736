// denoise train | eval | show: train a denoiser into a run folder, evaluate it, picture it.
#include <cstdint>
#include <optional>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include "commands.hpp"
#include "core/error.hpp"
#include "core/file_io.hpp"
#include "dist/communicator.hpp"
#include "io/png.hpp"
#include "nn/models.hpp"
#include "options.hpp"
#include "run/run_writer.hpp"
#include "train/denoiser.hpp"
#include "train/denoiser_eval.hpp"

namespace dn::app {

namespace fs = std::filesystem;

static RegisterCommand reg_train(20, [](CLI::App& app) {
  struct Flags {
    DenoiserConfig config;
    double lr = 0;
    std::vector<double> train_noise_range;
    std::string on_nan = "stop";
    int threads = 0;
    RunFlags run;
  };
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("train", "train a denoising autoencoder (defaults: the seed experiment)");
  DenoiserConfig& c = f->config;
  cmd->add_option("--model", c.model,
                  "denoiser model: seed (the seed report's 3,279-parameter autoencoder), dncnn (residual, "
                  "predicts the noise; train with mean_squared_error), unet (small U-Net), unet-large (two "
                  "convolutions per level, 16/32/64 channels) or unet-xl (the same at 24/48/96)")
      ->capture_default_str();
  cmd->add_option("--activation", c.activation, "hidden activation: relu, softmax, sigmoid, tanh, linear")
      ->capture_default_str();
  cmd->add_option("--optimizer", c.optimizer, "sgd, adadelta, adam, rmsprop, adagrad")->capture_default_str();
  auto* lr = cmd->add_option("--lr", f->lr, "learning rate (default: the optimizer's Keras default; adadelta 1.0)");
  cmd->add_option("--loss", c.loss, "binary_crossentropy, mean_squared_error or psnr (minus the mean per-image PSNR, in dB)")->capture_default_str();
  cmd->add_option("--epochs", c.epochs, "passes over the training images")->capture_default_str();
  cmd->add_option("--batch-size", c.batch_size, "images per gradient step")->capture_default_str();
  add_noise_flag(*cmd, c.noise, "noise added to the inputs")->capture_default_str();
  auto* range = cmd->add_option("--train-noise-range", f->train_noise_range,
                                 "LO,HI: each training image's noise level drawn uniformly in [LO, HI] "
                                 "(--noise's kind); validation keeps --noise")
                    ->expected(2)
                    ->delimiter(',');
  cmd->add_flag("--fresh-noise", c.fresh_noise,
               "draw the training noise afresh every epoch (the seed draws it once); validation keeps one draw");
  cmd->add_option("--init-from", c.init_from,
                  "denoiser run folder of the same --model and --activation whose weights to start from "
                  "(fine-tuning)");
  add_data_flags(*cmd, c.data);
  cmd->add_option("--seed", c.seed, "seeds initial weights, noise and shuffling")->capture_default_str();
  add_threads_flag(*cmd, f->threads);
  cmd->add_option("--on-nan", f->on_nan, "stop or continue when the loss becomes NaN")->capture_default_str();
  add_training_control_flags(*cmd, c.controls, c.data);
  add_verbose_flag(*cmd, c.controls.verbose);
  add_run_flags(*cmd, f->run, "run folder (default runs/<timestamp>)");
  on_run(cmd, [f, lr, range] {
    apply_threads(f->threads);
    DenoiserConfig config = f->config;
    if (lr->count()) config.lr = f->lr;
    if (range->count()) config.train_noise_range = {f->train_noise_range[0], f->train_noise_range[1]};
    config.on_nan = parse_on_nan(f->on_nan);
    const RunFlags& run = f->run;
    if (run.resume.empty()) check_init_from(config, [](const DenoiserConfig& c) { load_init_from(c); });
    const fs::path out = !run.resume.empty() ? run.resume : run.out.empty() ? default_run_dir() : run.out;
    const std::vector<Callback*> callbacks = training_callbacks(config.controls.verbose);
    dist::Communicator& world = dist::world();
    try {
      const DenoiserResult r =
          !run.resume.empty()
              ? resume_denoiser(out, callbacks, world)
              : train_denoiser(config, out, callbacks, run.overwrite ? ExistingRun::overwrite : ExistingRun::refuse,
                               world);
      if (world.rank() != 0) return;
      fmt::print("{}{}", config.controls.verbose ? "\n" : "", format_denoise_metrics(r.metrics));
    } catch (const InterruptedError& e) {
      throw InterruptedError(fmt::format("{}: denoise train --resume {}", e.what(), out.string()));
    }
    print_data_parallel_report();
    fmt::print("Run folder: {}\n", out.string());
  });
});

// Runs trained with different seeds see the same noisy images only when this is given.
constexpr const char* kNoiseSeedHelp = "seeds the noise (default: the run's own --seed)";

static RegisterCommand reg_eval(30, [](CLI::App& app) {
  struct Flags {
    std::string run_dir, split = "test", noise, out;
    std::size_t limit = 0;
    std::optional<std::uint64_t> seed;
    int threads = 0;
  };
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("eval", "image metrics of a trained denoiser, beside those of its noisy input");
  cmd->add_option("run_dir", f->run_dir, "run folder written by denoise train")->required();
  cmd->add_option("--split", f->split, "train, validation or test")->capture_default_str();
  add_noise_flag(*cmd, f->noise, "noise (default: the run's)");
  cmd->add_option("--seed", f->seed, kNoiseSeedHelp);
  cmd->add_option("--limit", f->limit, "first N images of the split (0 = all)")
      ->check(non_negative())
      ->capture_default_str();
  cmd->add_option("--out", f->out, "JSON file (default RUN_DIR/metrics-SPLIT.json)");
  add_threads_flag(*cmd, f->threads);
  on_run(cmd, [f] {
    apply_threads(f->threads);
    const DenoiseEvaluation m = evaluate_denoiser_run(f->run_dir, parse_split(f->split), f->noise, f->limit, f->seed);
    // Named for the split, beside the run's own record of training (metrics.json), never over it.
    const fs::path out =
        f->out.empty() ? fs::path(f->run_dir) / fmt::format("metrics-{}.json", f->split) : fs::path(f->out);
    write_json_atomic(out, m.to_json());
    fmt::print("{}Wrote {}\n", format_denoise_metrics(m), out.string());
  });
});

static RegisterCommand reg_show(40, [](CLI::App& app) {
  struct Flags {
    std::string run_dir, out, split = "test", noise;
    std::optional<std::uint64_t> seed;
    int count = 10;
  };
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("show", "picture of noisy / denoised / clean digits for a trained denoiser");
  cmd->add_option("run_dir", f->run_dir, "run folder written by denoise train")->required();
  cmd->add_option("--count", f->count, "digits per row")->capture_default_str()->check(CLI::Range(1, 100));
  cmd->add_option("--split", f->split, "train, validation or test")->capture_default_str();
  add_noise_flag(*cmd, f->noise, "noise (default: the run's)");
  cmd->add_option("--seed", f->seed, kNoiseSeedHelp);
  cmd->add_option("--out", f->out, "picture to write: .png, .jpg or .jpeg")->required();
  on_run(cmd, [f] {
    check_picture_name(f->out, "out");
    show_denoiser_run(f->run_dir, parse_split(f->split), f->noise, f->count, f->out, f->seed);
    fmt::print("Wrote {}\n", f->out);
  });
});

}  // namespace dn::app

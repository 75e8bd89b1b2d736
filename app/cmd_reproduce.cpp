// denoise reproduce: the seed report's whole experiment (the README's main job).
#include <filesystem>

#include <fmt/core.h>

#include "commands.hpp"
#include "options.hpp"
#include "experiments/seed_experiment.hpp"

namespace dn::app {

static RegisterCommand reg_reproduce(5, [](CLI::App& app) {
  struct Flags {
    SeedExperimentOptions exp;
    int threads = 0;
    bool from_scratch = false;
    std::string out = "runs/seed-experiment";
    std::string strong_denoiser = "models/unet-large-mnist-gaussian0.1-1.0";
  };
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("reproduce", "run the seed report's experiment end to end and compare with it");
  cmd->add_option("--epochs", f->exp.train.epochs, "epochs of the seed model")->capture_default_str();
  cmd->add_option("--sweep-repeats", f->exp.sweep_repeats, "repeats per sweep cell (0 = no sweep)")
      ->capture_default_str();
  cmd->add_option("--sweep-epochs", f->exp.sweep_epochs, "epochs of each sweep run")->capture_default_str();
  cmd->add_option("--classify-epochs", f->exp.classify_epochs,
                  "epochs of the noisy- and denoised-trained digit classifiers (0 = no classifiers)")
      ->capture_default_str();
  cmd->add_option("--classify-clean-epochs", f->exp.classify_clean_epochs, "epochs of the clean-trained classifier")
      ->capture_default_str();
  cmd->add_flag("--classify-from-scratch", f->from_scratch,
                "train the noise-aware classifiers from fresh weights, not from the clean one's (give them "
                "--classify-epochs 30)");
  cmd->add_option("--classify-model", f->exp.classify_model,
                  "classifier-large, classifier-deep or classifier (Keras's small convnet)")
      ->capture_default_str();
  cmd->add_option("--classify-strong-denoiser", f->strong_denoiser,
                  "denoiser run behind which a third noise-aware classifier fine-tunes, averaged with the other two "
                  "('' = none); the shipped one is left out, with a note, where it is not found")
      ->capture_default_str();
  cmd->add_option("--classify-strong-epochs", f->exp.classify_strong_epochs,
                  "epochs of the classifier behind the strong denoiser")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--classify-draws", f->exp.classify_draws,
                  "draws of the test noise at the classifiers' noise level; the best pipeline is the best on average")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  add_data_flags(*cmd, f->exp.train.data);
  add_threads_flag(*cmd, f->threads);
  cmd->get_option("--threads")
      ->description("cores to use (0 = all): the sweep runs this many trainings at once, beside the seed model "
                    "and the classifiers, one thread each");
  cmd->add_option("--out", f->out, "folder for the runs, pictures and report")->capture_default_str();
  on_run(cmd, [f, cmd] {
    apply_threads(f->threads);
    SeedExperimentOptions exp = f->exp;
    exp.classify_fine_tune = !f->from_scratch;
    exp.classify_strong_denoiser = f->strong_denoiser;
    if (cmd->count("--classify-strong-denoiser") == 0 && !std::filesystem::exists(f->strong_denoiser)) {
      fmt::print(stderr, "denoise: note: no {} here (run from the repository's folder to use it); the digit "
                         "classifiers go without a strong denoiser\n", f->strong_denoiser);
      exp.classify_strong_denoiser.clear();
    }
    run_seed_experiment(exp, f->out, printing_observer());
  });
});

}  // namespace dn::app

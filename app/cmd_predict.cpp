// denoise predict: the digit in each picture file, with the ten probabilities.
#include <fmt/core.h>

#include "commands.hpp"
#include "core/error.hpp"
#include "eval/predict_images.hpp"
#include "options.hpp"
#include "train/classifier.hpp"
#include "train/denoiser.hpp"

namespace dn::app {

static RegisterCommand reg(46, [](CLI::App& app) {
  struct Flags {
    std::string classifier, denoiser;
    std::vector<std::string> images;
    bool json = false;
    int threads = 0;
  };
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("predict", "predict the digit in PNG or JPEG pictures (framed as MNIST's digits)");
  cmd->add_option("--classifier", f->classifier, "classifier run folder (denoise classify train)")->required();
  cmd->add_option("--denoiser", f->denoiser, "denoiser run folder: denoise each framed digit first");
  cmd->add_flag("--json", f->json, "print a JSON array instead of lines");
  add_threads_flag(*cmd, f->threads);
  cmd->add_option("images", f->images, "picture files")->required();
  on_run(cmd, [f] {
    apply_threads(f->threads);
    const LoadedClassifier classifier = load_classifier(f->classifier);
    LoadedDenoiser denoiser;
    if (!f->denoiser.empty()) denoiser = load_denoiser(f->denoiser);
    const std::vector<std::filesystem::path> paths(f->images.begin(), f->images.end());
    const auto predictions = predict_digit_files(*classifier.model, denoiser.model.get(), paths);

    std::size_t failed = 0;
    nlohmann::json all = nlohmann::json::array();
    for (const DigitPrediction& p : predictions) {
      if (!p.error.empty()) {
        ++failed;
        fmt::print(stderr, "denoise: error: {}\n", p.error);
      } else if (!f->json) {
        fmt::print("{}\n", format_digit_prediction(p));
      }
      all.push_back(digit_prediction_json(p));
    }
    if (f->json) fmt::print("{}\n", all.dump(2));
    if (failed)
      throw DataError(fmt::format("{} of {} pictures could not be predicted", failed, predictions.size()));
  });
});

}  // namespace dn::app

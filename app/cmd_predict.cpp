// denoise predict: the digit in each picture file, with the ten probabilities
// and a low-confidence flag.
#include <fmt/core.h>

#include "commands.hpp"
#include "core/error.hpp"
#include "eval/predict_images.hpp"
#include "options.hpp"
#include "train/classifier.hpp"
#include "train/denoiser.hpp"

namespace dn::app {

static RegisterCommand reg_predict(46, [](CLI::App& app) {
  struct Flags {
    std::string classifier, denoiser, save_framed;
    std::vector<std::string> images;
    bool json = false;
    PredictOptions options;
    int threads = 0;
  };
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("predict", "predict the digit in PNG or JPEG pictures (framed as MNIST's digits)");
  cmd->add_option("--classifier", f->classifier, "classifier run folder (denoise classify train)")->required();
  cmd->add_option("--denoiser", f->denoiser, "denoiser run folder: denoise each framed digit first");
  cmd->add_flag("--as-is", f->options.as_is,
                "use 28x28 pictures as given (only grayed, and inverted on a light background) instead of "
                "re-centring them by centre of mass; other sizes are refused");
  cmd->add_option("--min-confidence", f->options.min_confidence,
                  "flag a prediction as low confidence (probably not a digit) when its top probability is below "
                  "this, in [0, 1]")
      ->default_val(kDefaultMinConfidence);
  cmd->add_option("--save-framed", f->save_framed,
                  "write the 28x28 picture the classifier saw for each file (framed, and denoised with "
                  "--denoiser) as a PNG in this folder");
  cmd->add_flag("--json", f->json, "print a JSON array instead of lines");
  add_threads_flag(*cmd, f->threads);
  cmd->add_option("images", f->images, "picture files")->required();
  on_run(cmd, [f] {
    apply_threads(f->threads);
    const LoadedClassifier classifier = load_classifier(f->classifier);
    LoadedDenoiser denoiser;
    if (!f->denoiser.empty()) denoiser = load_denoiser(f->denoiser);
    const std::vector<std::filesystem::path> paths(f->images.begin(), f->images.end());
    auto predictions = predict_digit_files(*classifier.model, denoiser.model.get(), paths, f->options);
    if (!f->save_framed.empty()) save_framed_digits(predictions, f->save_framed);

    std::size_t failed = 0;
    nlohmann::json all = nlohmann::json::array();
    for (const DigitPrediction& p : predictions) {
      if (!p.error.empty()) {
        ++failed;
        fmt::print(stderr, "denoise: error: {}\n", p.error);
      } else if (!f->json) {
        fmt::print("{}\n", format_digit_prediction(p, f->options.min_confidence));
      }
      all.push_back(digit_prediction_json(p));
    }
    if (f->json) fmt::print("{}\n", all.dump(2));
    if (!f->save_framed.empty() && !f->json && failed < predictions.size())
      fmt::print("the pictures the classifier saw are in {}\n", f->save_framed);
    if (failed)
      throw DataError(fmt::format("{} of {} pictures could not be predicted", failed, predictions.size()));
  });
});

}  // namespace dn::app

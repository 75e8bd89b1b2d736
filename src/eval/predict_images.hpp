#pragma once
// Digit prediction for picture files: any PNG or JPEG of one digit, framed the
// way MNIST's digits were, then (optionally) denoised and classified.
#include <array>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tensor.hpp"
#include "io/png.hpp"
#include "nn/layer.hpp"

namespace dn {

// A picture as an MNIST digit, [28, 28] in [0, 1], white ink on black. Every
// picture is framed the same way, as MNIST's digits were: gray (alpha
// composited over white), inverted when the background (the median of the
// border pixels) is light, then
//  - any size but 28x28: the background level removed and the ink stretched
//    to a peak of 1, cropped to the ink's bounding box, scaled with area
//    averaging so the longer side is 20 pixels (aspect ratio kept), and placed
//    in a 28x28 field with its centre of mass at pixel (14, 14);
//  - 28x28: already at MNIST's scale (and maybe noisy, where a bounding box
//    would catch the noise), so only re-centred: shifted by whole pixels so the
//    centre of mass of the ink above the background lands on pixel (14, 14),
//    the uncovered border filled with the background level.
// DataError when the picture holds no ink (nothing rises kBlankPeak above the
// background, e.g. a single flat colour).
Tensor mnist_frame(const Image& image);
// --as-is: a 28x28 picture used as given, only grayed and, on a light
// background, inverted; blank pictures are still refused. ArgumentError
// ("as_is") for any other size.
Tensor mnist_as_is(const Image& image);

// Below this top probability a prediction is flagged as low confidence: the
// picture is probably not a digit, or not one the classifier can read.
inline constexpr float kDefaultMinConfidence = 0.5f;

struct PredictOptions {
  bool as_is = false;                            // mnist_as_is instead of mnist_frame
  float min_confidence = kDefaultMinConfidence;  // in [0, 1]; ArgumentError("min_confidence") otherwise
};

struct DigitPrediction {
  std::filesystem::path path;
  std::string error;  // why the file could not be used; empty when predicted
  int digit = -1;
  std::array<float, 10> probabilities{};
  bool low_confidence = false;  // the top probability is below PredictOptions::min_confidence
  Tensor seen;                  // [28, 28]: what the classifier saw (framed, then denoised if asked)
  std::filesystem::path framed_file;  // where save_framed_digits wrote `seen`; empty otherwise
};

// Reads and frames every file, denoises the framed digits when a denoiser is
// given, and classifies them. A file that cannot be read or framed gets its
// error (naming the file) and the others are still predicted.
std::vector<DigitPrediction> predict_digit_files(Layer& classifier, Layer* denoiser,
                                                 const std::vector<std::filesystem::path>& paths,
                                                 const PredictOptions& options = {});

// Writes each prediction's `seen` picture as a 28x28 gray PNG in dir (created
// if missing), named after its file (photo.jpg -> photo.png; -2, -3, ... added
// when two files share a name), each written atomically, and records the
// file in framed_file. Predictions with an error are skipped.
void save_framed_digits(std::vector<DigitPrediction>& predictions, const std::filesystem::path& dir);

// "path: 7   0:0.0001 1:0.0000 ... 9:0.0003" for a prediction made (error
// empty), with "  low confidence (top 0.31 < 0.50)" appended when flagged.
std::string format_digit_prediction(const DigitPrediction& p, float min_confidence = kDefaultMinConfidence);
// {"path", "digit", "probabilities": [10], "low_confidence"[, "framed"]} or {"path", "error"}.
nlohmann::json digit_prediction_json(const DigitPrediction& p);

}  // namespace dn

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

// A picture as an MNIST digit, [28, 28] in [0, 1], white ink on black:
// gray (alpha composited over white), inverted when the background (the
// median of the border pixels) is light, the background level removed and
// the ink stretched to a peak of 1, cropped to the ink's bounding box, scaled
// with area averaging so the longer side is 20 pixels (aspect ratio kept),
// and placed in a 28x28 field with its centre of mass at pixel (14, 14).
// A 28x28 picture is taken as already framed (an MNIST digit, noisy or not):
// it is only grayed and, on a light background, inverted.
// DataError when the picture holds no ink (a single flat colour).
Tensor mnist_frame(const Image& image);

struct DigitPrediction {
  std::filesystem::path path;
  std::string error;  // why the file could not be used; empty when predicted
  int digit = -1;
  std::array<float, 10> probabilities{};
};

// Reads and frames every file, denoises the framed digits when a denoiser is
// given, and classifies them. A file that cannot be read or framed gets its
// error (naming the file) and the others are still predicted.
std::vector<DigitPrediction> predict_digit_files(Layer& classifier, Layer* denoiser,
                                                 const std::vector<std::filesystem::path>& paths);

// "path: 7   0:0.0001 1:0.0000 ... 9:0.0003" for a prediction made (error empty).
std::string format_digit_prediction(const DigitPrediction& p);
// {"path", "digit", "probabilities": [10]} or {"path", "error"}.
nlohmann::json digit_prediction_json(const DigitPrediction& p);

}  // namespace dn

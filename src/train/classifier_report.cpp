#include "train/classifier_report.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/core.h>

#include "io/png.hpp"
#include "nn/inference.hpp"

namespace dn {

void write_predictions_picture(Layer& model, const Tensor& images, const std::vector<std::uint8_t>& labels, int count,
                               const std::filesystem::path& png) {
  constexpr int kScale = 4, kGap = 8, kFont = 2;
  const int h = images.dim(1), w = images.dim(2);
  const int n = std::min(count, images.dim(0));
  Tensor shown, probs;
  slice_rows(images, 0, std::size_t(n), shown);
  predict(model, shown, probs);
  const std::size_t classes = probs.size() / std::size_t(std::max(n, 1));
  const int cell = std::max(w * kScale, text_width("0, not 0", kFont));
  Image img(kGap + n * (cell + kGap), kGap + h * kScale + kGap + text_height(kFont) + kGap, 3, 48);
  for (int k = 0; k < n; ++k) {
    const int left = kGap + k * (cell + kGap) + (cell - w * kScale) / 2;
    const float* px = shown.data() + std::size_t(k) * std::size_t(h * w);
    for (int y = 0; y < h * kScale; ++y)
      for (int x = 0; x < w * kScale; ++x) {
        const float v = std::clamp(px[(y / kScale) * w + x / kScale], 0.0f, 1.0f);
        const auto g = std::uint8_t(std::lround(v * 255.0f));
        fill_rect(img, left + x, kGap + y, 1, 1, {g, g, g});
      }
    const float* p = probs.data() + std::size_t(k) * classes;
    const int predicted = int(std::max_element(p, p + classes) - p), truth = labels[std::size_t(k)];
    const std::string caption = predicted == truth ? fmt::format("{}", predicted)
                                                   : fmt::format("{}, not {}", predicted, truth);
    const Rgb colour = predicted == truth ? Rgb{90, 220, 90} : Rgb{255, 80, 80};
    draw_text(img, kGap + k * (cell + kGap) + (cell - text_width(caption, kFont)) / 2, 2 * kGap + h * kScale, caption,
              kFont, colour);
  }
  write_png_atomic(png, img);
}

}  // namespace dn

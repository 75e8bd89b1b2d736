#include "eval/predict_images.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>

#include <fmt/core.h>

#include "core/error.hpp"
#include "nn/inference.hpp"

namespace dn {

namespace {

constexpr int kField = 28;           // MNIST's image side
constexpr int kBox = 20;             // the side MNIST scaled each digit's longer side to
constexpr float kInkThreshold = 0.25f;  // share of the peak that counts as ink for the bounding box
constexpr float kBlankPeak = 0.05f;     // a picture whose ink never rises this far above the background is blank

// Gray in [0, 1]; transparency shows white, as a viewer on a white page shows it.
std::vector<float> gray_pixels(const Image& image) {
  const std::size_t n = std::size_t(image.width) * std::size_t(image.height), c = std::size_t(image.channels);
  std::vector<float> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t* p = &image.pixels[i * c];
    float v = c >= 3 ? 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2] : float(p[0]);
    if (c == 2 || c == 4) {
      const float alpha = p[c - 1] / 255.0f;
      v = alpha * v + (1.0f - alpha) * 255.0f;
    }
    out[i] = v / 255.0f;
  }
  return out;
}

// The median of the outermost rows and columns: the background, even where the ink touches the edge.
float border_median(const std::vector<float>& v, int w, int h) {
  std::vector<float> border;
  for (int x = 0; x < w; ++x) border.push_back(v[std::size_t(x)]), border.push_back(v[std::size_t((h - 1) * w + x)]);
  for (int y = 1; y + 1 < h; ++y) border.push_back(v[std::size_t(y * w)]), border.push_back(v[std::size_t(y * w + w - 1)]);
  auto mid = border.begin() + std::ptrdiff_t(border.size() / 2);
  std::nth_element(border.begin(), mid, border.end());
  return *mid;
}

// For each of n_out output cells, the source cells it covers and the share of
// each (overlap / cell width), so scaling averages areas in both directions.
std::vector<std::vector<std::pair<int, float>>> area_weights(int n_in, int n_out) {
  const double scale = double(n_in) / n_out;
  std::vector<std::vector<std::pair<int, float>>> weights(static_cast<std::size_t>(n_out));
  for (int o = 0; o < n_out; ++o) {
    const double lo = o * scale, hi = (o + 1) * scale;
    for (int j = int(std::floor(lo)); j < std::min(n_in, int(std::ceil(hi))); ++j) {
      const double overlap = std::min(hi, j + 1.0) - std::max(lo, double(j));
      if (overlap > 0) weights[std::size_t(o)].emplace_back(j, float(overlap / scale));
    }
  }
  return weights;
}

}  // namespace

namespace {

// Gray, light on dark: the first step of every framing. Returns the background level.
float gray_light_on_dark(const Image& image, std::vector<float>& v) {
  if (image.width <= 0 || image.height <= 0) throw DataError("empty picture");
  v = gray_pixels(image);
  float background = border_median(v, image.width, image.height);
  if (background > 0.5f) {  // dark ink on a light page: MNIST digits are light on black
    for (float& x : v) x = 1.0f - x;
    background = 1.0f - background;
  }
  return background;
}

float ink_peak(const std::vector<float>& v, float background) {
  float peak = 0;
  for (float x : v) peak = std::max(peak, x - background);
  return peak;
}

const char* const kBlank = "no digit found: the picture is blank";

// A 28x28 picture shifted by whole pixels so the mass of its ink above the background sits at (14, 14).
Tensor recentre_28(const std::vector<float>& v, float background) {
  double mass = 0, mx = 0, my = 0;
  for (int y = 0; y < kField; ++y)
    for (int x = 0; x < kField; ++x) {
      const double p = std::max(0.0f, v[std::size_t(y * kField + x)] - background);
      mass += p, mx += p * x, my += p * y;
    }
  const int dx = int(std::lround(kField / 2 - mx / mass)), dy = int(std::lround(kField / 2 - my / mass));
  Tensor t({kField, kField});
  for (int y = 0; y < kField; ++y)
    for (int x = 0; x < kField; ++x) {
      const int sx = x - dx, sy = y - dy;
      const bool inside = sx >= 0 && sx < kField && sy >= 0 && sy < kField;
      t[std::size_t(y * kField + x)] = inside ? v[std::size_t(sy * kField + sx)] : background;
    }
  return t;
}

}  // namespace

Tensor mnist_as_is(const Image& image) {
  if (image.width != kField || image.height != kField)
    throw ArgumentError("as_is", fmt::format("takes 28x28 pictures only (got {}x{})", image.width, image.height));
  std::vector<float> v;
  const float background = gray_light_on_dark(image, v);
  if (ink_peak(v, background) < kBlankPeak) throw DataError(kBlank);
  Tensor t({kField, kField});
  std::copy(v.begin(), v.end(), t.data());
  return t;
}

Tensor mnist_frame(const Image& image) {
  const int w = image.width, h = image.height;
  std::vector<float> v;
  const float background = gray_light_on_dark(image, v);
  const float peak = ink_peak(v, background);
  if (peak < kBlankPeak) throw DataError(kBlank);
  if (w == kField && h == kField) return recentre_28(v, background);

  for (float& x : v) x = std::max(0.0f, x - background);
  int x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      float& p = v[std::size_t(y * w + x)];
      p /= peak;
      if (p >= kInkThreshold) x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
    }
  const int cw = x1 - x0 + 1, ch = y1 - y0 + 1;
  const double scale = double(kBox) / std::max(cw, ch);
  const int nw = std::max(1, int(std::lround(cw * scale))), nh = std::max(1, int(std::lround(ch * scale)));

  // Scale the bounding box to nw x nh: rows first, then columns.
  const auto wx = area_weights(cw, nw), wy = area_weights(ch, nh);
  std::vector<float> rows(std::size_t(ch) * std::size_t(nw), 0.0f), box(std::size_t(nh) * std::size_t(nw), 0.0f);
  for (int y = 0; y < ch; ++y)
    for (int o = 0; o < nw; ++o)
      for (auto [j, share] : wx[std::size_t(o)])
        rows[std::size_t(y * nw + o)] += share * v[std::size_t((y0 + y) * w + x0 + j)];
  for (int o = 0; o < nh; ++o)
    for (auto [i, share] : wy[std::size_t(o)])
      for (int x = 0; x < nw; ++x) box[std::size_t(o * nw + x)] += share * rows[std::size_t(i * nw + x)];

  // Thin strokes thin out when a large picture shrinks; MNIST's strokes peak at full intensity.
  const float box_peak = *std::max_element(box.begin(), box.end());
  double mass = 0, mx = 0, my = 0;
  for (int y = 0; y < nh; ++y)
    for (int x = 0; x < nw; ++x) {
      float& p = box[std::size_t(y * nw + x)];
      p /= box_peak;
      mass += p, mx += p * x, my += p * y;
    }
  // MNIST put the mass centre, in pixel indices, at pixel (14, 14).
  const int left = int(std::lround(kField / 2 - mx / mass)), top = int(std::lround(kField / 2 - my / mass));

  Tensor t({kField, kField});
  for (int y = 0; y < nh; ++y)
    for (int x = 0; x < nw; ++x) {
      const int fx = left + x, fy = top + y;
      if (fx >= 0 && fx < kField && fy >= 0 && fy < kField) t[std::size_t(fy * kField + fx)] = box[std::size_t(y * nw + x)];
    }
  return t;
}

std::vector<DigitPrediction> predict_digit_files(Layer& classifier, Layer* denoiser,
                                                 const std::vector<std::filesystem::path>& paths,
                                                 const PredictOptions& options) {
  if (!(options.min_confidence >= 0.0f && options.min_confidence <= 1.0f))
    throw ArgumentError("min_confidence", fmt::format("must be in [0, 1] (got {})", options.min_confidence));
  std::vector<DigitPrediction> out(paths.size());
  std::vector<std::size_t> framed;  // indices of the files that became digits
  std::vector<Tensor> digits;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    out[i].path = paths[i];
    Image image;
    try {
      image = read_image(paths[i]);  // its errors name the file
    } catch (const DataError& e) {
      out[i].error = e.what();
      continue;
    }
    try {
      digits.push_back(options.as_is ? mnist_as_is(image) : mnist_frame(image));
      framed.push_back(i);
    } catch (const ArgumentError& e) {
      throw ArgumentError(e.argument(), fmt::format("{}: {}", e.complaint(), paths[i].string()));
    } catch (const DataError& e) {
      out[i].error = paths[i].string() + ": " + e.what();
    }
  }
  if (framed.empty()) return out;

  const std::size_t pixels = std::size_t(kField) * kField;
  Tensor x({int(framed.size()), kField, kField});
  for (std::size_t k = 0; k < framed.size(); ++k) std::copy_n(digits[k].data(), pixels, x.data() + k * pixels);
  if (denoiser) {
    Tensor denoised;
    predict(*denoiser, x, denoised);
    denoised.reshape(x.shape());
    x = std::move(denoised);
  }
  Tensor probs;
  predict(classifier, x, probs);
  const std::size_t classes = probs.size() / framed.size();
  if (classes != 10) throw std::invalid_argument(fmt::format("predict_digit_files: {} classifier outputs, not 10", classes));
  for (std::size_t k = 0; k < framed.size(); ++k) {
    DigitPrediction& p = out[framed[k]];
    std::copy_n(probs.data() + k * classes, classes, p.probabilities.begin());
    const auto top = std::max_element(p.probabilities.begin(), p.probabilities.end());
    p.digit = int(top - p.probabilities.begin());
    p.low_confidence = *top < options.min_confidence;
    p.seen = Tensor({kField, kField});
    std::copy_n(x.data() + k * pixels, pixels, p.seen.data());
  }
  return out;
}

void save_framed_digits(std::vector<DigitPrediction>& predictions, const std::filesystem::path& dir) {
  std::set<std::string> taken;
  for (DigitPrediction& p : predictions) {
    if (!p.error.empty()) continue;
    const std::string stem = p.path.stem().string().empty() ? "picture" : p.path.stem().string();
    std::string name = stem + ".png";
    for (int n = 2; !taken.insert(name).second; ++n) name = fmt::format("{}-{}.png", stem, n);
    p.framed_file = dir / name;
    write_png_atomic(p.framed_file, image_from_tensor(p.seen));
  }
}

std::string format_digit_prediction(const DigitPrediction& p, float min_confidence) {
  std::string line = fmt::format("{}: {}  ", p.path.string(), p.digit);
  for (int d = 0; d < 10; ++d) line += fmt::format(" {}:{:.4f}", d, p.probabilities[std::size_t(d)]);
  if (p.low_confidence)
    line += fmt::format("  low confidence (top {:.2f} < {:.2f})", p.probabilities[std::size_t(p.digit)], min_confidence);
  return line;
}

nlohmann::json digit_prediction_json(const DigitPrediction& p) {
  if (!p.error.empty()) return {{"path", p.path.string()}, {"error", p.error}};
  nlohmann::json j = {{"path", p.path.string()},
                      {"digit", p.digit},
                      {"probabilities", p.probabilities},
                      {"low_confidence", p.low_confidence}};
  if (!p.framed_file.empty()) j["framed"] = p.framed_file.string();
  return j;
}

}  // namespace dn

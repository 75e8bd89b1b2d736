#include "eval/baselines.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/core.h>
#include <fmt/ranges.h>
#include <opencv2/imgproc.hpp>
#include <opencv2/photo.hpp>

#include "core/error.hpp"

namespace dn {

const char* baseline_name(BaselineKind kind) {
  switch (kind) {
    case BaselineKind::median: return "median";
    case BaselineKind::gaussian_blur: return "gaussian_blur";
    case BaselineKind::bilateral: return "bilateral";
    case BaselineKind::nl_means: return "nl_means";
  }
  return "?";
}

const char* baseline_param_name(BaselineKind kind) {
  switch (kind) {
    case BaselineKind::median: return "ksize";
    case BaselineKind::gaussian_blur: return "sigma";
    case BaselineKind::bilateral: return "sigma_color";
    case BaselineKind::nl_means: return "h";
  }
  return "?";
}

std::vector<BaselineKind> baseline_kinds() {
  return {BaselineKind::median, BaselineKind::gaussian_blur, BaselineKind::bilateral, BaselineKind::nl_means};
}

std::vector<double> baseline_grid(BaselineKind kind) {
  switch (kind) {
    case BaselineKind::median: return {3, 5, 7};
    case BaselineKind::gaussian_blur: return {0.5, 0.75, 1.0, 1.25, 1.5, 2.0};
    case BaselineKind::bilateral: return {0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5};
    case BaselineKind::nl_means: return {10, 20, 35, 50, 70, 100, 140};
  }
  return {};
}

static void check_param(const Baseline& b) {
  const double p = b.param;
  const bool ok = b.kind == BaselineKind::median ? (p >= 3 && p == std::floor(p) && int(p) % 2 == 1 && p <= 255)
                                                 : (std::isfinite(p) && p > 0);
  if (!ok)
    throw UsageError(fmt::format("{}: {} must be {} (got {})", baseline_name(b.kind), baseline_param_name(b.kind),
                                 b.kind == BaselineKind::median ? "an odd integer >= 3" : "positive and finite", p));
}

Baseline parse_baseline(const std::string& text) {
  const std::size_t colon = text.find(':');
  const std::string name = text.substr(0, colon);
  std::vector<std::string> names;
  for (BaselineKind kind : baseline_kinds()) {
    names.emplace_back(baseline_name(kind));
    if (name != names.back()) continue;
    const std::string value = colon == std::string::npos ? "" : text.substr(colon + 1);
    Baseline b{kind, 0};
    try {
      std::size_t used = 0;
      b.param = std::stod(value, &used);
      if (used != value.size()) throw std::invalid_argument(value);
    } catch (const std::logic_error&) {
      throw UsageError(fmt::format("baseline '{}': write {}:{} with a number, e.g. {}:{}", text, name,
                                   baseline_param_name(kind), name, baseline_grid(kind)[1]));
    }
    check_param(b);
    return b;
  }
  throw UsageError(fmt::format("baseline '{}': unknown; the baselines are {} (each as NAME:VALUE)", text,
                               fmt::join(names, ", ")));
}

static cv::Mat to_u8(const cv::Mat& f) {
  cv::Mat u8;
  f.convertTo(u8, CV_8U, 255.0);  // rounds and saturates
  return u8;
}

// One image, float [0, 1] in, float out.
static void apply_one(const Baseline& b, const cv::Mat& in, cv::Mat& out) {
  switch (b.kind) {
    case BaselineKind::median: {
      cv::Mat u8;
      cv::medianBlur(to_u8(in), u8, static_cast<int>(b.param));
      u8.convertTo(out, CV_32F, 1.0 / 255.0);
      break;
    }
    case BaselineKind::gaussian_blur: {
      const int k = 2 * static_cast<int>(std::ceil(3.0 * b.param)) + 1;
      cv::GaussianBlur(in, out, cv::Size(k, k), b.param, b.param);
      break;
    }
    case BaselineKind::bilateral:
      cv::bilateralFilter(in, out, 5, b.param, 1.5);
      break;
    case BaselineKind::nl_means: {
      cv::Mat u8;
      cv::fastNlMeansDenoising(to_u8(in), u8, static_cast<float>(b.param), 5, 11);
      u8.convertTo(out, CV_32F, 1.0 / 255.0);
      break;
    }
  }
}

// [N, H, W(, 1)] -> same shape, images in parallel (OpenCV's own threads are off).
void apply_baseline(const Baseline& baseline, const Tensor& noisy, Tensor& out) {
  check_param(baseline);
  if (noisy.rank() < 3 || (noisy.rank() == 4 && noisy.dim(3) != 1) || noisy.rank() > 4)
    throw DataError(fmt::format("{}: expects gray images (N, H, W) or (N, H, W, 1), got {}",
                                baseline_name(baseline.kind), shape_str(noisy.shape())));
  const int n = noisy.dim(0), h = noisy.dim(1), w = noisy.dim(2);
  out.resize(noisy.shape());
  const std::size_t pixels = static_cast<std::size_t>(h) * static_cast<std::size_t>(w);
  cv::setNumThreads(0);
#pragma omp parallel for schedule(dynamic, 16)
  for (int i = 0; i < n; ++i) {
    const cv::Mat in(h, w, CV_32F, const_cast<float*>(noisy.data() + std::size_t(i) * pixels));
    cv::Mat result;
    apply_one(baseline, in, result);
    cv::Mat dst(h, w, CV_32F, out.data() + std::size_t(i) * pixels);
    result.copyTo(dst);
  }
}

}  // namespace dn

#pragma once
// Classical denoisers through OpenCV, the baselines a neural denoiser has to beat:
//   median          cv::medianBlur, ksize x ksize window (the parameter: 3, 5, 7);
//   gaussian_blur   cv::GaussianBlur, sigma (the parameter), window 2*ceil(3 sigma) + 1;
//   bilateral       cv::bilateralFilter, 5x5 neighbourhood, sigmaSpace 1.5, sigmaColor
//                   (the parameter, in the [0, 1] pixel range);
//   nl_means        cv::fastNlMeansDenoising, h (the parameter, in 8-bit grey levels),
//                   5x5 patches, 11x11 search window (OpenCV's default 7x7 and 21x21
//                   took 18 ms per 28x28 digit, too slow for tables of 10,000 images,
//                   and searched well beyond a digit's strokes).
// Images are [N, H, W] (or [N, H, W, 1]) in [0, 1]; median and non-local means work on
// 8-bit pictures (what OpenCV's medianBlur above 5 and fastNlMeans take), so their input
// is rounded to 1/255 steps and their output is in such steps. Borders: OpenCV's default
// (reflect-101), medianBlur replicates. This is the one file that includes OpenCV.
#include <string>
#include <vector>

#include "core/tensor.hpp"

namespace dn {

enum class BaselineKind { median, gaussian_blur, bilateral, nl_means };

struct Baseline {
  BaselineKind kind = BaselineKind::median;
  double param = 3;  // see above
};

const char* baseline_name(BaselineKind kind);   // "median", "gaussian_blur", "bilateral", "nl_means"
const char* baseline_param_name(BaselineKind kind);  // "ksize", "sigma", "sigma_color", "h"
std::vector<BaselineKind> baseline_kinds();
// The parameter values tried when a baseline is tuned, smallest first.
std::vector<double> baseline_grid(BaselineKind kind);

// "NAME:VALUE" (median:5, gaussian_blur:0.8, bilateral:0.2, nl_means:20) -> the baseline;
// UsageError quoting the text and naming the choices for an unknown name or a bad value.
Baseline parse_baseline(const std::string& text);

// out = the baseline applied to each image of noisy (same shape). UsageError for a
// parameter OpenCV would refuse (an even or < 3 median size, a sigma or h <= 0).
void apply_baseline(const Baseline& baseline, const Tensor& noisy, Tensor& out);

}  // namespace dn

#include "experiments/quality.hpp"

#include <chrono>
#include <algorithm>
#include <cmath>
#include <functional>

#include <fmt/core.h>

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "data/noise_streams.hpp"
#include "eval/baselines.hpp"
#include "eval/image_metrics.hpp"
#include "io/plot.hpp"
#include "nn/inference.hpp"
#include "train/denoiser.hpp"

namespace dn {

namespace fs = std::filesystem;

MeanCI mean_ci95(std::span<const double> values) {
  MeanCI r;
  const std::size_t n = values.size();
  if (n == 0) return r;
  double sum = 0;
  for (double v : values) sum += v;
  r.mean = sum / double(n);
  if (n < 2) return r;
  double ss = 0;
  for (double v : values) ss += (v - r.mean) * (v - r.mean);
  r.half_width = 1.96 * std::sqrt(ss / double(n - 1)) / std::sqrt(double(n));
  return r;
}

std::vector<std::string> default_quality_noises() {
  std::vector<std::string> out;
  for (int i = 1; i <= 10; ++i) out.push_back(fmt::format("gaussian:{}", i == 10 ? std::string("1.0") : fmt::format("0.{}", i)));
  out.insert(out.end(), {"salt-pepper:0.2", "speckle:0.5", "poisson:10"});
  return out;
}

// Per-image PSNR and SSIM of denoised [N, H, W] against clean, and the pooled metrics.
static QualityCell score(const Tensor& denoised, const Tensor& clean) {
  const int n = clean.dim(0), h = clean.dim(1), w = clean.dim(2);
  const std::size_t pixels = static_cast<std::size_t>(h) * static_cast<std::size_t>(w);
  std::vector<double> psnr(static_cast<std::size_t>(n)), ssim_values(static_cast<std::size_t>(n));
#pragma omp parallel for schedule(static)
  for (int i = 0; i < n; ++i) {
    const float* x = denoised.data() + std::size_t(i) * pixels;
    const float* y = clean.data() + std::size_t(i) * pixels;
    double se = 0;
    for (std::size_t j = 0; j < pixels; ++j) se += (double(x[j]) - y[j]) * (double(x[j]) - y[j]);
    psnr[std::size_t(i)] = psnr_from_mse(se / double(pixels));
    ssim_values[std::size_t(i)] = ssim(x, y, h, w);
  }
  QualityCell cell;
  cell.psnr = mean_ci95(psnr);
  cell.ssim = mean_ci95(ssim_values);
  const ImageQuality pooled = image_quality(denoised, clean);
  cell.mse = pooled.mse;
  cell.psnr_set = pooled.psnr_set;
  cell.binary_accuracy = pooled.binary_accuracy;
  cell.binary_accuracy_ceiling = pooled.binary_accuracy_ceiling;
  return cell;
}

static double mean_psnr(const Tensor& denoised, const Tensor& clean) {
  const std::size_t n = static_cast<std::size_t>(clean.dim(0)), pixels = clean.size() / n;
  double sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double se = 0;
    for (std::size_t j = 0; j < pixels; ++j) {
      const double d = double(denoised[i * pixels + j]) - clean[i * pixels + j];
      se += d * d;
    }
    sum += psnr_from_mse(se / double(pixels));
  }
  return sum / double(n);
}

// A method: maps noisy images to denoised ones of the same shape.
using Denoise = std::function<void(const Tensor& noisy, Tensor& out)>;

// Runs a method over noisy and scores it, timing the method alone.
static QualityCell measure(const Denoise& method, const Tensor& noisy, const Tensor& clean, Tensor& out) {
  const auto start = std::chrono::steady_clock::now();
  method(noisy, out);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out.reshape(clean.shape());
  QualityCell cell = score(out, clean);
  cell.seconds_per_image = seconds / double(clean.dim(0));
  return cell;
}

// The grid value with the highest mean PSNR on the tuning images (the smallest on ties).
static std::pair<double, double> tune(BaselineKind kind, const Tensor& noisy, const Tensor& clean) {
  double best = -1, best_psnr = -1e300;
  Tensor out;
  for (double p : baseline_grid(kind)) {
    apply_baseline({kind, p}, noisy, out);
    const double v = mean_psnr(out, clean);
    if (v > best_psnr) best = p, best_psnr = v;
  }
  return {best, best_psnr};
}

QualityResult measure_quality(const QualityOptions& options, const Tensor& clean, const Tensor& tune_clean) {
  QualityResult result;
  QualityTable& table = result.table;
  table.noises = options.noises.empty() ? default_quality_noises() : options.noises;
  std::vector<NoiseSpec> specs;
  for (const auto& n : table.noises) specs.push_back(parse_noise(n));
  const NoiseSpec picture_spec = parse_noise(options.picture_noise);
  std::size_t picture_column = table.noises.size();
  for (std::size_t c = 0; c < specs.size(); ++c)
    if (specs[c] == picture_spec) picture_column = c;
  if (picture_column == table.noises.size())
    throw ArgumentError("picture_noise", fmt::format("'{}' must be one of the table's noises", options.picture_noise));
  if (tune_clean.empty() || clean.empty()) throw ArgumentError("tune_images", "the test and tuning sets need images");
  const std::size_t n_test = static_cast<std::size_t>(clean.dim(0));
  table.dataset = options.data.dataset;
  table.test_images = n_test;
  table.tune_images = static_cast<std::size_t>(tune_clean.dim(0));
  table.seed = options.seed;

  std::vector<Tensor> noisy, tune_noisy;
  for (const NoiseSpec& s : specs) {
    noisy.push_back(noisy_images(clean, s, options.seed, Split::test));
    tune_noisy.push_back(noisy_images(tune_clean, s, options.seed, Split::validation));
  }

  const std::size_t shown = std::min<std::size_t>(static_cast<std::size_t>(options.picture_count), n_test);
  std::vector<Tensor> picture_rows(2);
  std::vector<std::string> picture_labels = {"clean", "noisy"};
  slice_rows(clean, 0, shown, picture_rows[0]);
  slice_rows(noisy[picture_column], 0, shown, picture_rows[1]);
  // Adds a row's cell for every column, and its digits to the picture.
  auto run_row = [&](QualityRow row, const std::function<Denoise(std::size_t column, QualityCell& cell)>& method_at) {
    Tensor out;
    for (std::size_t c = 0; c < specs.size(); ++c) {
      QualityCell tuned;
      const Denoise method = method_at(c, tuned);
      QualityCell cell = measure(method, noisy[c], clean, out);
      cell.param = tuned.param;
      cell.tune_psnr = tuned.tune_psnr;
      row.cells.push_back(cell);
      if (c == picture_column && row.kind != "input") {
        Tensor digits;
        slice_rows(out, 0, shown, digits);
        picture_rows.push_back(std::move(digits));
        picture_labels.push_back(row.method);
      }
    }
    table.rows.push_back(std::move(row));
  };

  run_row({"noisy input", "input", "", "", {}}, [](std::size_t, QualityCell&) -> Denoise {
    return [](const Tensor& x, Tensor& y) { y = x; };
  });
  if (options.baselines)
    for (BaselineKind kind : baseline_kinds())
      run_row({baseline_name(kind), "baseline", baseline_param_name(kind), "", {}},
              [&](std::size_t c, QualityCell& tuned) -> Denoise {
                const auto [param, psnr] = tune(kind, tune_noisy[c], tune_clean);
                tuned.param = param;
                tuned.tune_psnr = psnr;
                return [kind, param](const Tensor& x, Tensor& y) { apply_baseline({kind, param}, x, y); };
              });
  for (const auto& [label, run_dir] : options.models) {
    LoadedDenoiser run = load_denoiser(run_dir);
    Layer* model = run.model.get();
    run_row({label, "model", "", run_dir.string(), {}}, [model](std::size_t, QualityCell&) -> Denoise {
      return [model](const Tensor& x, Tensor& y) { predict(*model, x, y); };
    });
  }

  result.digits = make_grid(picture_rows, picture_labels, 3);
  return result;
}

QualityTable run_quality_table(const QualityOptions& options, const fs::path& out_dir) {
  if (options.tune_images == 0) throw ArgumentError("tune_images", "must be at least 1 (got 0)");
  DataOptions data_options = options.data;
  data_options.limit = 0;
  Splits data = load_splits(data_options);
  Tensor clean, tune_clean;
  slice_rows(data.test.images, 0, options.limit ? std::min(options.limit, data.test.size()) : data.test.size(), clean);
  slice_rows(data.validation.images, 0, std::min(options.tune_images, data.validation.size()), tune_clean);
  data = {};
  const QualityResult result = measure_quality(options, clean, tune_clean);
  fs::create_directories(out_dir);
  write_json_atomic(out_dir / "quality.json", result.table.to_json());
  write_file_atomic(out_dir / "quality.md", result.table.markdown());
  write_line_plot(out_dir / "quality.png", result.table.psnr_plot());  // and quality.svg
  write_png_atomic(out_dir / "digits.png", result.digits);
  return result.table;
}

nlohmann::json QualityTable::to_json() const {
  nlohmann::json rows_json = nlohmann::json::array();
  for (const QualityRow& row : rows) {
    nlohmann::json cells = nlohmann::json::object();
    for (std::size_t c = 0; c < noises.size(); ++c) {
      const QualityCell& q = row.cells[c];
      nlohmann::json cell = {{"psnr", q.psnr.mean},
                             {"psnr_ci95", q.psnr.half_width},
                             {"ssim", q.ssim.mean},
                             {"ssim_ci95", q.ssim.half_width},
                             {"mse", q.mse},
                             {"psnr_set", q.psnr_set},
                             {"binary_accuracy", q.binary_accuracy},
                             {"binary_accuracy_ceiling", q.binary_accuracy_ceiling},
                             {"seconds_per_image", q.seconds_per_image}};
      if (q.param) cell[row.param_name] = *q.param, cell["validation_psnr"] = *q.tune_psnr;
      cells[noises[c]] = cell;
    }
    nlohmann::json r = {{"method", row.method}, {"kind", row.kind}, {"cells", cells}};
    if (!row.source.empty()) r["run"] = row.source;
    rows_json.push_back(r);
  }
  return {{"dataset", dataset},   {"split", "test"}, {"test_images", test_images}, {"tune_split", "validation"},
          {"tune_images", tune_images}, {"seed", seed}, {"noises", noises}, {"rows", rows_json}};
}

std::string QualityTable::markdown(const std::vector<std::string>& only_noises) const {
  std::vector<std::size_t> cols;
  for (std::size_t c = 0; c < noises.size(); ++c)
    if (only_noises.empty() || std::find(only_noises.begin(), only_noises.end(), noises[c]) != only_noises.end())
      cols.push_back(c);
  std::string out = fmt::format(
      "{} test set, {} images; cells: mean PSNR (dB) ± 95% CI / mean SSIM ± 95% CI [ms per image]; baselines' "
      "parameter (tuned on {} validation images) in parentheses.\n\n| method |",
      dataset, test_images, tune_images);
  for (std::size_t c : cols) out += fmt::format(" {} |", noises[c]);
  out += "\n|---|";
  for (std::size_t i = 0; i < cols.size(); ++i) out += "---|";
  out += "\n";
  for (const QualityRow& row : rows) {
    out += fmt::format("| {} |", row.method);
    for (std::size_t c : cols) {
      const QualityCell& q = row.cells[c];
      out += fmt::format(" {:.2f} ± {:.2f} / {:.3f} ± {:.3f} [{:.3f}]", q.psnr.mean, q.psnr.half_width, q.ssim.mean,
                         q.ssim.half_width, 1e3 * q.seconds_per_image);
      if (q.param) out += fmt::format(" ({}={:g})", row.param_name, *q.param);
      out += " |";
    }
    out += "\n";
  }
  return out;
}

LinePlot QualityTable::psnr_plot() const {
  LinePlot plot;
  plot.title = fmt::format("{}: mean PSNR on {} test images, gaussian noise", dataset, test_images);
  plot.x_label = "gaussian noise factor";
  plot.y_label = "PSNR (dB)";
  for (const QualityRow& row : rows) {
    PlotSeries s;
    s.label = row.method;
    for (std::size_t c = 0; c < noises.size(); ++c) {
      const NoiseSpec spec = parse_noise(noises[c]);
      if (spec.kind != NoiseSpec::Kind::gaussian) continue;
      s.x.push_back(spec.param);
      s.y.push_back(row.cells[c].psnr.mean);
    }
    plot.series.push_back(std::move(s));
  }
  return plot;
}

}  // namespace dn

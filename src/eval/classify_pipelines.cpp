#include "eval/classify_pipelines.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

#include <fmt/core.h>

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "data/noise.hpp"
#include "eval/image_metrics.hpp"
#include "io/plot.hpp"
#include "nn/inference.hpp"

namespace dn {

namespace {

constexpr std::size_t kMaxLevels = 1000;

struct PipelineNames {
  const char* name;
  const char* label;  // table column and legend
};
// In enum Pipeline's order, which is also the tables' column order.
constexpr PipelineNames kPipelines[] = {{"clean_on_noisy", "clean-trained on noisy"},
                                        {"clean_on_denoised", "clean-trained on denoised"},
                                        {"noisy_on_noisy", "noisy-trained on noisy"},
                                        {"denoised_on_denoised", "denoised-trained on denoised"},
                                        {"ensemble", "noisy- and denoised-trained, averaged"},
                                        {"ensemble_of_many", "many classifiers, averaged"}};

double parse_level(const std::string& token, const std::string& text) {
  double v = 0;
  const char* end = token.data() + token.size();
  const auto [ptr, ec] = std::from_chars(token.data(), end, v);
  if (token.empty() || ec != std::errc() || ptr != end || !std::isfinite(v) || v < 0)
    throw ArgumentError("noise_levels", "'" + text + "': '" + token + "' is not a non-negative number");
  return v;
}

double round9(double v) { return std::round(v * 1e9) / 1e9; }

// Levels printed with the decimals the finest of them needs: 0.0, 0.1, ... 1.0.
int level_decimals(const std::vector<LevelResult>& levels) {
  int decimals = 1;
  for (const auto& row : levels) {
    const double v = row.level;
    while (decimals < 6 && std::abs(std::round(v * std::pow(10, decimals)) - v * std::pow(10, decimals)) > 1e-6)
      ++decimals;
  }
  return decimals;
}

}  // namespace

const char* pipeline_name(Pipeline p) { return kPipelines[static_cast<int>(p)].name; }
const char* pipeline_label(Pipeline p) { return kPipelines[static_cast<int>(p)].label; }

bool ClassifyReport::has(Pipeline p) const { return std::find(pipelines.begin(), pipelines.end(), p) != pipelines.end(); }

double ClassifyReport::accuracy(std::size_t row, Pipeline p) const {
  const auto at = std::find(pipelines.begin(), pipelines.end(), p);
  if (at == pipelines.end()) throw std::out_of_range(std::string("pipeline not evaluated: ") + pipeline_name(p));
  return levels.at(row).accuracy[static_cast<std::size_t>(at - pipelines.begin())];
}

nlohmann::json ClassifyReport::to_json() const {
  nlohmann::json names = nlohmann::json::array(), rows = nlohmann::json::array();
  for (Pipeline p : pipelines) names.push_back(pipeline_name(p));
  for (const LevelResult& row : levels) {
    nlohmann::json accuracy = nlohmann::json::object(), confusion = nlohmann::json::object();
    for (std::size_t i = 0; i < pipelines.size(); ++i) {
      accuracy[pipeline_name(pipelines[i])] = row.accuracy[i];
      confusion[pipeline_name(pipelines[i])] = row.confusion[i].rows();
    }
    rows.push_back({{"level", row.level}, {"accuracy", accuracy}, {"confusion", confusion}});
  }
  return {{"noise_kind", noise_kind}, {"noise_seed", noise_seed}, {"count", count}, {"tta_shift", tta_shift},
          {"pipelines", names}, {"levels", rows}};
}

void shift_images(const Tensor& x, int dy, int dx, Tensor& out) {
  const int n = x.dim(0), h = x.dim(1), w = x.dim(2);
  out.resize(x.shape());
  out.zero();
  const int i0 = std::max(0, dy), i1 = std::min(h, h + dy), j0 = std::max(0, dx), j1 = std::min(w, w + dx);
  for (int s = 0; s < n; ++s) {
    const float* src = x.data() + std::size_t(s) * h * w;
    float* dst = out.data() + std::size_t(s) * h * w;
    for (int i = i0; i < i1; ++i)
      for (int j = j0; j < j1; ++j) dst[i * w + j] = src[(i - dy) * w + (j - dx)];
  }
}

void predict_with_shifts(Layer& model, const Tensor& x, int shift, Tensor& probs) {
  predict(model, x, probs);
  if (shift == 0) return;
  Tensor moved, view_probs;
  const int views[4][2] = {{shift, 0}, {-shift, 0}, {0, shift}, {0, -shift}};
  for (const auto& [dy, dx] : views) {
    shift_images(x, dy, dx, moved);
    predict(model, moved, view_probs);
    for (std::size_t i = 0; i < probs.size(); ++i) probs[i] += view_probs[i];
  }
  for (std::size_t i = 0; i < probs.size(); ++i) probs[i] /= 5.0f;
}

std::vector<double> parse_noise_levels(const std::string& text) {
  std::vector<std::string> tokens;
  for (std::size_t begin = 0;;) {
    const std::size_t comma = text.find(',', begin);
    std::string token = text.substr(begin, comma == std::string::npos ? std::string::npos : comma - begin);
    const auto first = token.find_first_not_of(' '), last = token.find_last_not_of(' ');
    tokens.push_back(first == std::string::npos ? "" : token.substr(first, last - first + 1));
    if (comma == std::string::npos) break;
    begin = comma + 1;
  }
  std::vector<double> levels;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] != "...") {
      levels.push_back(parse_level(tokens[i], text));
      continue;
    }
    if (levels.size() < 2 || i < 2 || tokens[i - 2] == "..." || i + 1 >= tokens.size())
      throw ArgumentError("noise_levels", "'" + text + "': '...' needs two numbers before it and one after");
    const double start = levels.back(), step = start - levels[levels.size() - 2];
    const double stop = parse_level(tokens[++i], text);
    if (!(step > 0) || stop < start)
      throw ArgumentError("noise_levels", "'" + text + "': '...' needs increasing numbers around it");
    const double steps = std::round((stop - start) / step);
    if (std::abs(start + steps * step - stop) > step * 1e-6)
      throw ArgumentError("noise_levels",
                          fmt::format("'{}': steps of {} from {} do not reach {}", text, step, start, stop));
    if (steps > double(kMaxLevels)) throw ArgumentError("noise_levels", "'" + text + "': more than 1000 levels");
    for (int k = 1; k <= int(steps); ++k) levels.push_back(round9(start + k * step));
  }
  if (levels.size() > kMaxLevels) throw ArgumentError("noise_levels", "'" + text + "': more than 1000 levels");
  return levels;
}

ClassifyReport evaluate_classify_pipelines(const ClassifyModels& models, const Dataset& test, const NoiseLevels& noise,
                                           int tta_shift,
                                           const std::function<void(const ClassifyReport&)>& on_level) {
  if (!models.clean_classifier) throw std::invalid_argument("evaluate_classify_pipelines: no clean classifier");
  if (noise.levels.empty()) throw ArgumentError("noise_levels", "must hold at least one level (got none)");
  if (models.denoised_classifier && !models.denoiser)
    throw ArgumentError("denoiser", "is needed to evaluate a classifier trained on denoised images (got none)");
  if (tta_shift < 0 || tta_shift >= std::min(test.images.dim(1), test.images.dim(2)))
    throw ArgumentError("tta_shift", fmt::format("must be 0 (no test-time augmentation) or a shift smaller than the "
                                                 "{}x{} images (got {})",
                                                 test.images.dim(1), test.images.dim(2), tta_shift));
  if (models.many.size() == 1)
    throw ArgumentError("ensemble", "must hold two classifiers or more to average (got one)");
  std::vector<NoiseSpec> specs;  // all checked before the first (slow) evaluation
  for (double level : noise.levels) specs.push_back(parse_noise(fmt::format("{}:{}", noise.kind, level)));

  ClassifyReport report;
  report.noise_kind = noise.kind;
  report.noise_seed = noise.seed;
  report.count = test.size();
  report.tta_shift = tta_shift;
  report.pipelines = {Pipeline::clean_on_noisy};
  if (models.denoiser) report.pipelines.push_back(Pipeline::clean_on_denoised);
  if (models.noisy_classifier) report.pipelines.push_back(Pipeline::noisy_on_noisy);
  if (models.denoised_classifier) report.pipelines.push_back(Pipeline::denoised_on_denoised);
  const bool ensemble = models.noisy_classifier && models.denoised_classifier;
  if (ensemble) report.pipelines.push_back(Pipeline::ensemble);
  if (!models.many.empty()) report.pipelines.push_back(Pipeline::ensemble_of_many);
  const int classes = test.num_classes;
  // Every distinct denoiser, run once per level: denoisers[0] is models.denoiser (when given).
  std::vector<Layer*> denoisers;
  if (models.denoiser) denoisers.push_back(models.denoiser);
  for (const EnsembleMember& m : models.many)
    if (m.denoiser && std::find(denoisers.begin(), denoisers.end(), m.denoiser) == denoisers.end())
      denoisers.push_back(m.denoiser);

  Tensor noisy, probs, noisy_probs, denoised_probs;
  std::vector<Tensor> denoised_by(denoisers.size());
  for (std::size_t l = 0; l < specs.size(); ++l) {
    add_noise(specs[l], test.images, noisy, noise.seed, 0);
    for (std::size_t d = 0; d < denoisers.size(); ++d) {  // once: the views are moved after denoising
      predict(*denoisers[d], noisy, denoised_by[d]);
      denoised_by[d].reshape(noisy.shape());
    }
    LevelResult row;
    row.level = noise.levels[l];
    row.accuracy.assign(report.pipelines.size(), 0.0);
    row.confusion.assign(report.pipelines.size(), ConfusionMatrix(classes));
    const auto score = [&](Pipeline p, const Tensor& pred) {
      const auto i = static_cast<std::size_t>(
          std::find(report.pipelines.begin(), report.pipelines.end(), p) - report.pipelines.begin());
      row.confusion[i].add(pred, test.labels);
      row.accuracy[i] = row.confusion[i].accuracy();
    };
    predict_with_shifts(*models.clean_classifier, noisy, tta_shift, probs);
    score(Pipeline::clean_on_noisy, probs);
    if (models.denoiser) {
      const Tensor& denoised = denoised_by[0];
      predict_with_shifts(*models.clean_classifier, denoised, tta_shift, probs);
      score(Pipeline::clean_on_denoised, probs);
      if (models.denoised_classifier) {
        predict_with_shifts(*models.denoised_classifier, denoised, tta_shift, denoised_probs);
        score(Pipeline::denoised_on_denoised, denoised_probs);
      }
    }
    if (models.noisy_classifier) {
      predict_with_shifts(*models.noisy_classifier, noisy, tta_shift, noisy_probs);
      score(Pipeline::noisy_on_noisy, noisy_probs);
    }
    if (ensemble) {  // the mean of the two classifiers' probabilities
      probs.resize(noisy_probs.shape());
      for (std::size_t i = 0; i < probs.size(); ++i) probs[i] = 0.5f * (noisy_probs[i] + denoised_probs[i]);
      score(Pipeline::ensemble, probs);
    }
    if (!models.many.empty()) {
      Tensor member_probs;
      for (std::size_t k = 0; k < models.many.size(); ++k) {
        const EnsembleMember& m = models.many[k];
        // A member that is also the noisy- or denoised-trained pipeline on the same
        // input already has its probabilities: the same bits, not computed twice.
        const Tensor* member = nullptr;
        if (m.classifier == models.noisy_classifier && !m.denoiser) member = &noisy_probs;
        if (m.classifier == models.denoised_classifier && m.denoiser && m.denoiser == models.denoiser)
          member = &denoised_probs;
        if (!member) {
          const auto d = std::size_t(std::find(denoisers.begin(), denoisers.end(), m.denoiser) - denoisers.begin());
          predict_with_shifts(*m.classifier, m.denoiser ? denoised_by[d] : noisy, tta_shift, member_probs);
          member = &member_probs;
        }
        if (k == 0) {
          probs = *member;
        } else {
          for (std::size_t i = 0; i < probs.size(); ++i) probs[i] += (*member)[i];
        }
      }
      for (std::size_t i = 0; i < probs.size(); ++i) probs[i] /= float(models.many.size());
      score(Pipeline::ensemble_of_many, probs);
    }
    report.levels.push_back(std::move(row));
    if (on_level) on_level(report);
  }
  return report;
}

std::string format_level_line(const ClassifyReport& report) {
  const LevelResult& row = report.levels.back();
  std::string line = fmt::format("{} {:<4}", report.noise_kind, row.level);
  for (std::size_t i = 0; i < report.pipelines.size(); ++i)
    line += fmt::format("  {} {:.2f}%", pipeline_name(report.pipelines[i]), 100 * row.accuracy[i]);
  return line;
}

std::string format_classify_table(const ClassifyReport& report) {
  const bool recovery = report.has(Pipeline::clean_on_noisy) && report.has(Pipeline::clean_on_denoised);
  std::string header = fmt::format("| {} noise |", report.noise_kind);
  std::string rule = "|---:|";
  for (Pipeline p : report.pipelines) {
    header += fmt::format(" {} |", pipeline_label(p));
    rule += "---:|";
    if (recovery && p == Pipeline::clean_on_denoised) header += " recovered by denoising |", rule += "---:|";
  }
  std::string out = fmt::format("Digit accuracy (%) on {} test images\n\n{}\n{}\n", report.count, header, rule);
  const int decimals = level_decimals(report.levels);
  for (std::size_t r = 0; r < report.levels.size(); ++r) {
    std::string line = fmt::format("| {:.{}f} |", report.levels[r].level, decimals);
    for (Pipeline p : report.pipelines) {
      line += fmt::format(" {:.2f} |", 100 * report.accuracy(r, p));
      if (recovery && p == Pipeline::clean_on_denoised)
        line += fmt::format(" {:+.2f} points |", 100 * (report.accuracy(r, Pipeline::clean_on_denoised) -
                                                         report.accuracy(r, Pipeline::clean_on_noisy)));
    }
    out += line + "\n";
  }
  return out;
}

LinePlot plot_classify(const ClassifyReport& report) {
  LinePlot plot;
  plot.title = fmt::format("Digit accuracy under {} noise ({} test images)", report.noise_kind, report.count);
  plot.x_label = "noise level";
  plot.y_label = "accuracy (%)";
  plot.y_min = 0.0;
  plot.y_max = 100.0;
  plot.width = 900;
  for (Pipeline p : report.pipelines) {
    PlotSeries s{pipeline_label(p), {}, {}};
    for (std::size_t r = 0; r < report.levels.size(); ++r) {
      s.x.push_back(report.levels[r].level);
      s.y.push_back(100 * report.accuracy(r, p));
    }
    plot.series.push_back(std::move(s));
  }
  return plot;
}

void write_classify_report(const ClassifyReport& report, const nlohmann::json& json, const std::filesystem::path& dir) {
  write_json_atomic(dir / "classify.json", json);
  write_line_plot(dir / "classify.png", plot_classify(report));  // and classify.svg
  write_file_atomic(dir / "classify.md",
                    format_classify_table(report) + "\n![Digit accuracy against noise level](classify.png)\n");
}

}  // namespace dn

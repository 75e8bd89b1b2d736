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

struct Pipeline {
  const char* name;
  const char* label;  // table column and legend
};
constexpr Pipeline kPipelines[] = {{"clean_on_noisy", "clean-trained on noisy"},
                                   {"clean_on_denoised", "clean-trained on denoised"},
                                   {"noisy_on_noisy", "noisy-trained on noisy"},
                                   {"denoised_on_denoised", "denoised-trained on denoised"},
                                   {"ensemble", "noisy- and denoised-trained, averaged"}};

double parse_level(const std::string& token, const std::string& text) {
  double v = 0;
  const char* end = token.data() + token.size();
  const auto [ptr, ec] = std::from_chars(token.data(), end, v);
  if (token.empty() || ec != std::errc() || ptr != end || !std::isfinite(v) || v < 0)
    throw UsageError("--noise-levels '" + text + "': '" + token + "' is not a non-negative number");
  return v;
}

double round9(double v) { return std::round(v * 1e9) / 1e9; }

// Levels printed with the decimals the finest of them needs: 0.0, 0.1, ... 1.0.
int level_decimals(const nlohmann::json& levels) {
  int decimals = 1;
  for (const auto& row : levels) {
    const double v = row.at("level").get<double>();
    while (decimals < 6 && std::abs(std::round(v * std::pow(10, decimals)) - v * std::pow(10, decimals)) > 1e-6)
      ++decimals;
  }
  return decimals;
}

}  // namespace

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
      throw UsageError("--noise-levels '" + text + "': '...' needs two numbers before it and one after");
    const double start = levels.back(), step = start - levels[levels.size() - 2];
    const double stop = parse_level(tokens[++i], text);
    if (!(step > 0) || stop < start)
      throw UsageError("--noise-levels '" + text + "': '...' needs increasing numbers around it");
    const double steps = std::round((stop - start) / step);
    if (std::abs(start + steps * step - stop) > step * 1e-6)
      throw UsageError(fmt::format("--noise-levels '{}': steps of {} from {} do not reach {}", text, step, start, stop));
    if (steps > double(kMaxLevels)) throw UsageError("--noise-levels '" + text + "': more than 1000 levels");
    for (int k = 1; k <= int(steps); ++k) levels.push_back(round9(start + k * step));
  }
  if (levels.size() > kMaxLevels) throw UsageError("--noise-levels '" + text + "': more than 1000 levels");
  return levels;
}

nlohmann::json evaluate_classify_pipelines(const ClassifyModels& models, const Dataset& test,
                                           const NoiseLevels& noise, int verbose) {
  if (!models.clean_classifier) throw std::invalid_argument("evaluate_classify_pipelines: no clean classifier");
  if (noise.levels.empty()) throw UsageError("no noise levels to evaluate");
  if (models.denoised_classifier && !models.denoiser)
    throw UsageError("a classifier trained on denoised images needs the denoiser (--denoiser)");
  std::vector<NoiseSpec> specs;  // all checked before the first (slow) evaluation
  for (double level : noise.levels) specs.push_back(parse_noise(fmt::format("{}:{}", noise.kind, level)));

  nlohmann::json pipelines = {"clean_on_noisy"};
  if (models.denoiser) pipelines.push_back("clean_on_denoised");
  if (models.noisy_classifier) pipelines.push_back("noisy_on_noisy");
  if (models.denoised_classifier) pipelines.push_back("denoised_on_denoised");
  const bool ensemble = models.noisy_classifier && models.denoised_classifier;
  if (ensemble) pipelines.push_back("ensemble");
  nlohmann::json result = {{"noise_kind", noise.kind},
                           {"noise_seed", noise.seed},
                           {"count", test.size()},
                           {"pipelines", pipelines},
                           {"levels", nlohmann::json::array()}};
  Tensor noisy, denoised, probs, noisy_probs, denoised_probs;
  for (std::size_t l = 0; l < specs.size(); ++l) {
    add_noise(specs[l], test.images, noisy, noise.seed, 0);
    nlohmann::json accuracy, confusion;
    const auto score = [&](const char* name, const Tensor& p) {
      ConfusionMatrix cm(kNumClasses);
      cm.add(p, test.labels);
      accuracy[name] = cm.accuracy();
      confusion[name] = cm.rows();
    };
    predict(*models.clean_classifier, noisy, probs);
    score("clean_on_noisy", probs);
    if (models.denoiser) {
      predict(*models.denoiser, noisy, denoised);
      denoised.reshape(noisy.shape());
      predict(*models.clean_classifier, denoised, probs);
      score("clean_on_denoised", probs);
      if (models.denoised_classifier) {
        predict(*models.denoised_classifier, denoised, denoised_probs);
        score("denoised_on_denoised", denoised_probs);
      }
    }
    if (models.noisy_classifier) {
      predict(*models.noisy_classifier, noisy, noisy_probs);
      score("noisy_on_noisy", noisy_probs);
    }
    if (ensemble) {  // the mean of the two classifiers' probabilities
      probs.resize(noisy_probs.shape());
      for (std::size_t i = 0; i < probs.size(); ++i) probs[i] = 0.5f * (noisy_probs[i] + denoised_probs[i]);
      score("ensemble", probs);
    }
    if (verbose) {
      std::string line = fmt::format("{} {:<4}", noise.kind, noise.levels[l]);
      for (const auto& name : pipelines)
        line += fmt::format("  {} {:.2f}%", name.get<std::string>(), 100 * accuracy[name.get<std::string>()].get<double>());
      fmt::print("{}\n", line);
    }
    result["levels"].push_back({{"level", noise.levels[l]}, {"accuracy", accuracy}, {"confusion", confusion}});
  }
  return result;
}

std::string format_classify_table(const nlohmann::json& result) {
  const auto& pipelines = result.at("pipelines");
  const auto has = [&](const char* name) {
    return std::find(pipelines.begin(), pipelines.end(), name) != pipelines.end();
  };
  const bool recovery = has("clean_on_noisy") && has("clean_on_denoised");
  std::string header = fmt::format("| {} noise |", result.at("noise_kind").get<std::string>());
  std::string rule = "|---:|";
  for (const Pipeline& p : kPipelines) {
    if (!has(p.name)) continue;
    header += fmt::format(" {} |", p.label);
    rule += "---:|";
    if (recovery && std::string(p.name) == "clean_on_denoised") header += " recovered by denoising |", rule += "---:|";
  }
  std::string out = fmt::format("Digit accuracy (%) on {} test images\n\n{}\n{}\n", result.at("count").get<std::size_t>(),
                                header, rule);
  const int decimals = level_decimals(result.at("levels"));
  for (const auto& row : result.at("levels")) {
    const auto& acc = row.at("accuracy");
    std::string line = fmt::format("| {:.{}f} |", row.at("level").get<double>(), decimals);
    for (const Pipeline& p : kPipelines) {
      if (!has(p.name)) continue;
      line += fmt::format(" {:.2f} |", 100 * acc.at(p.name).get<double>());
      if (recovery && std::string(p.name) == "clean_on_denoised")
        line += fmt::format(" {:+.2f} points |",
                            100 * (acc.at("clean_on_denoised").get<double>() - acc.at("clean_on_noisy").get<double>()));
    }
    out += line + "\n";
  }
  return out;
}

Image plot_classify(const nlohmann::json& result) {
  LinePlot plot;
  plot.title = fmt::format("Digit accuracy under {} noise ({} test images)", result.at("noise_kind").get<std::string>(),
                           result.at("count").get<std::size_t>());
  plot.x_label = "noise level";
  plot.y_label = "accuracy (%)";
  plot.y_min = 0.0;
  plot.y_max = 100.0;
  plot.width = 900;
  for (const Pipeline& p : kPipelines) {
    const auto& pipelines = result.at("pipelines");
    if (std::find(pipelines.begin(), pipelines.end(), p.name) == pipelines.end()) continue;
    PlotSeries s{p.label, {}, {}};
    for (const auto& row : result.at("levels")) {
      s.x.push_back(row.at("level").get<double>());
      s.y.push_back(100 * row.at("accuracy").at(p.name).get<double>());
    }
    plot.series.push_back(std::move(s));
  }
  return render_line_plot(plot);
}

void write_classify_report(const nlohmann::json& result, const std::filesystem::path& dir) {
  write_json_atomic(dir / "classify.json", result);
  write_png_atomic(dir / "classify.png", plot_classify(result));
  write_file_atomic(dir / "classify.md",
                    format_classify_table(result) + "\n![Digit accuracy against noise level](classify.png)\n");
}

}  // namespace dn

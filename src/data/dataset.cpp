#include "data/dataset.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <stdexcept>

#include <fmt/core.h>

#include "core/error.hpp"
#include "core/json_integer.hpp"
#include "core/rng.hpp"
#include "data/idx.hpp"
#include "data/folder_dataset.hpp"
#include "data/registry.hpp"

namespace dn {

namespace fs = std::filesystem;

fs::path default_data_dir(const std::string& dataset) { return dataset_loader(dataset).default_dir(); }

fs::path data_dir(const DataOptions& options) {
  return options.data_dir.empty() ? dataset_loader(options)->default_dir() : fs::path(options.data_dir);
}

static DataLocation location(const DataOptions& options) { return {data_dir(options), options.data_dir.empty()}; }

Dataset load_data_file(const DataOptions& options, DataFile which) {
  return dataset_loader(options)->load(location(options), which);
}

Dataset subset(const Dataset& data, std::size_t begin, std::size_t count) {
  if (begin > data.size() || count > data.size() - begin)
    throw std::out_of_range(fmt::format("subset [{}, {}) of a dataset of {}", begin, begin + count, data.size()));
  Dataset out;
  const std::size_t pixels = std::size_t(data.height()) * std::size_t(data.width());
  out.images = Tensor({int(count), data.height(), data.width()});
  if (count) std::memcpy(out.images.data(), data.images.data() + begin * pixels, count * pixels * sizeof(float));
  out.labels.assign(data.labels.begin() + std::ptrdiff_t(begin), data.labels.begin() + std::ptrdiff_t(begin + count));
  out.num_classes = data.num_classes;
  return out;
}

PackedDataset subset(const PackedDataset& data, std::size_t begin, std::size_t count) {
  if (begin > data.size() || count > data.size() - begin)
    throw std::out_of_range(fmt::format("subset [{}, {}) of a dataset of {}", begin, begin + count, data.size()));
  PackedDataset out;
  out.images = data.images.rows(begin, count);
  out.labels.assign(data.labels.begin() + std::ptrdiff_t(begin), data.labels.begin() + std::ptrdiff_t(begin + count));
  out.num_classes = data.num_classes;
  return out;
}

// Where the seed's splits lie in the files: validation = the last twelfth of
// the training file, train = the rest; the first `limit` of each when limit > 0.
struct SplitRanges {
  std::size_t train, validation_begin, validation, test;
};

static SplitRanges split_ranges(std::size_t train_file, std::size_t test_file, std::size_t limit,
                               std::optional<double> validation_split = std::nullopt) {
  std::size_t validation = train_file >= 2 ? std::max<std::size_t>(1, train_file / 12) : 0;
  if (validation_split)  // as Keras: split_at = int(N * (1 - F)); at least one image each side
    validation = std::clamp<std::size_t>(
        train_file - static_cast<std::size_t>(static_cast<double>(train_file) * (1.0 - *validation_split)), 1,
        train_file >= 2 ? train_file - 1 : 1);
  const auto first = [limit](std::size_t count) { return limit ? std::min(limit, count) : count; };
  return {first(train_file - validation), train_file - validation, first(validation), first(test_file)};
}

void validate_data_options(const DataOptions& options) {
  if (options.validation_split && !(*options.validation_split > 0.0 && *options.validation_split < 1.0))
    throw ArgumentError("validation_split",
                        fmt::format("must be a fraction between 0 and 1, both excluded (got {})", *options.validation_split));
}

Splits make_splits(const Dataset& train_file, const Dataset& test_file, std::size_t limit,
                   std::optional<double> validation_split) {
  const SplitRanges r = split_ranges(train_file.size(), test_file.size(), limit, validation_split);
  Splits s;
  s.train = subset(train_file, 0, r.train);
  s.validation = subset(train_file, r.validation_begin, r.validation);
  s.test = subset(test_file, 0, r.test);
  return s;
}

// A folder with a validation folder of its own: all of the train file trains, and the
// test file (that folder) is the validation split too.
static bool separate_validation(const DataOptions& options) {
  return options.dataset.starts_with(kFolderPrefix) && !options.validation_dir.empty();
}

Splits load_splits(const DataOptions& options) {
  const Dataset train = load_data_file(options, DataFile::train);  // train first: its errors come first
  Dataset test = load_data_file(options, DataFile::test);
  if (!separate_validation(options)) return make_splits(train, test, options.limit, options.validation_split);
  const auto first = [&](const Dataset& d) {
    return subset(d, 0, options.limit ? std::min(options.limit, d.size()) : d.size());
  };
  Splits s;
  s.train = first(train);
  s.validation = first(test);
  s.test = s.validation;
  return s;
}

void write_data_options(const DataOptions& options, nlohmann::json& config) {
  config["dataset"] = options.dataset;
  config["data_dir"] = options.data_dir;
  config["limit"] = options.limit;
  config["validation_split"] = options.validation_split ? nlohmann::json(*options.validation_split) : nlohmann::json();
  config["patch"] = options.patch;
  config["flips"] = options.flips;
  config["validation_dir"] = options.validation_dir;
}

DataOptions read_data_options(const nlohmann::json& config) {
  DataOptions o;
  o.dataset = config.at("dataset").get<std::string>();
  o.data_dir = config.at("data_dir").get<std::string>();
  o.limit = json_integer<std::size_t>(config.at("limit"), "limit");
  if (config.contains("validation_split") && !config["validation_split"].is_null())
    o.validation_split = config["validation_split"].get<double>();
  if (config.contains("patch")) o.patch = json_integer<int>(config["patch"], "patch");
  o.flips = config.value("flips", o.flips);
  o.validation_dir = config.value("validation_dir", o.validation_dir);
  return o;
}

PackedSplits load_packed_splits(const DataOptions& options) {
  const auto loader_ptr = dataset_loader(options);
  const DatasetLoader& loader = *loader_ptr;
  PackedSplits s;
  if (separate_validation(options)) {
    const auto first = [&](const PackedDataset& d) {
      return subset(d, 0, options.limit ? std::min(options.limit, d.size()) : d.size());
    };
    s.train = first(loader.load_packed(location(options), DataFile::train));
    s.validation = first(loader.load_packed(location(options), DataFile::test));
    s.test = s.validation;
    return s;
  }
  {
    const PackedDataset train = loader.load_packed(location(options), DataFile::train);  // train first: its errors come first
    const SplitRanges r = split_ranges(train.size(), 0, options.limit, options.validation_split);
    s.train = subset(train, 0, r.train);
    s.validation = subset(train, r.validation_begin, r.validation);
  }  // the whole file goes before the test file is read
  const PackedDataset test = loader.load_packed(location(options), DataFile::test);
  s.test = subset(test, 0, split_ranges(0, test.size(), options.limit).test);
  return s;
}

// Seven-segment layout: a top, b top right, c bottom right, d bottom, e bottom left, f top left, g middle.
static constexpr int kSide = 28, kDigits = 10;
static constexpr std::array<const char*, kDigits> kSegments = {"abcdef", "bc",     "abged", "abgcd", "fgbc",
                                                                   "afgcd",  "afgedc", "abc",   "abcdefg", "abcdfg"};

Dataset make_synthetic_digits(std::size_t count, std::uint64_t seed) {
  Dataset data;
  data.images = Tensor({int(count), kSide, kSide});
  data.labels.resize(count);
  data.num_classes = kDigits;
  for (std::size_t i = 0; i < count; ++i) {
    Rng rng(seed, i);
    const int label = int(i % kDigits);
    const int w = 12 + int(rng.below(3)), h = 18 + int(rng.below(3)), t = 2 + int(rng.below(2));
    const int x0 = (kSide - w) / 2 + int(rng.below(3)) - 1, y0 = (kSide - h) / 2 + int(rng.below(3)) - 1;
    const int mid = y0 + (h - t) / 2;
    float* img = data.images.data() + i * kSide * kSide;
    const auto fill = [img](int x, int y, int width, int height) {
      for (int r = std::max(0, y); r < std::min(kSide, y + height); ++r)
        for (int c = std::max(0, x); c < std::min(kSide, x + width); ++c) img[r * kSide + c] = 1.0f;
    };
    for (const char* seg = kSegments[std::size_t(label)]; *seg; ++seg) {
      switch (*seg) {
        case 'a': fill(x0, y0, w, t); break;
        case 'b': fill(x0 + w - t, y0, t, mid + t - y0); break;
        case 'c': fill(x0 + w - t, mid, t, y0 + h - mid); break;
        case 'd': fill(x0, y0 + h - t, w, t); break;
        case 'e': fill(x0, mid, t, y0 + h - mid); break;
        case 'f': fill(x0, y0, t, mid + t - y0); break;
        case 'g': fill(x0, mid, w, t); break;
      }
    }
    data.labels[i] = std::uint8_t(label);
  }
  return data;
}

void write_data_folder(const fs::path& dir, const Dataset& train, const Dataset& test, bool compress) {
  const std::string ext = compress ? ".gz" : "";
  write_idx_images(dir / (kTrainImagesFile + ext), train.images, compress);
  write_idx_labels(dir / (kTrainLabelsFile + ext), train.labels, compress);
  write_idx_images(dir / (kTestImagesFile + ext), test.images, compress);
  write_idx_labels(dir / (kTestLabelsFile + ext), test.labels, compress);
}

}  // namespace dn

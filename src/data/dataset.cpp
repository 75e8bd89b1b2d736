#include "data/dataset.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include <fmt/core.h>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "data/checksum.hpp"
#include "data/idx.hpp"

namespace dn {

namespace fs = std::filesystem;

std::vector<std::string> dataset_names() { return {"mnist", "fashion-mnist"}; }

static void check_dataset_name(const std::string& dataset) {
  if (dataset != "mnist" && dataset != "fashion-mnist")
    throw UsageError("unknown dataset '" + dataset + "' (expected mnist or fashion-mnist)");
}

fs::path default_data_dir(const std::string& dataset) {
  check_dataset_name(dataset);
  const char* env = std::getenv("DENOISE_DATA");
  const fs::path root = env && *env ? fs::path(env) : fs::path();
  if (dataset == "mnist") return root.empty() ? fs::path("data") / "mnist" : root / "mnist";
  std::error_code ec;
  if (!root.empty() && fs::is_directory(root / "fashion-mnist", ec)) return root / "fashion-mnist";
  return "/usr/share/datasets/fashion-mnist";
}

fs::path data_dir(const DataOptions& options) {
  check_dataset_name(options.dataset);
  return options.data_dir.empty() ? default_data_dir(options.dataset) : fs::path(options.data_dir);
}

// The raw file if present, else its .gz; otherwise a DataError that says how to get the data.
static fs::path find_data_file(const DataOptions& options, const fs::path& dir, const std::string& base) {
  std::error_code ec;
  for (const fs::path& candidate : {dir / base, dir / (base + ".gz")})
    if (fs::exists(candidate, ec)) return candidate;
  std::string message = fs::is_directory(dir, ec)
                            ? fmt::format("{}: missing {} (or {}.gz)", dir.string(), base, base)
                            : fmt::format("{}: data folder not found", dir.string());
  if (options.dataset == "mnist")
    message += "; fetch MNIST with: denoise data fetch mnist" +
               (options.data_dir.empty() ? std::string() : " --data-dir " + options.data_dir);
  else if (options.data_dir.empty())
    message += "; install Fashion-MNIST with: apt-get install dataset-fashion-mnist";
  throw DataError(message);
}

// A pair of IDX files read and checked, the images still as the file's bytes.
struct RawPair {
  std::string images_name;                // for messages
  std::vector<std::uint8_t> image_bytes;  // header included
  std::array<int, 3> dims{};              // N, H, W
  std::vector<std::uint8_t> labels;
};

static RawPair read_pair(const fs::path& images_path, const fs::path& labels_path, bool verify_mnist) {
  const auto read = [&](const fs::path& path) {
    auto bytes = read_idx_bytes(path);
    // The published sums are of the uncompressed originals, so hash after gunzip.
    if (verify_mnist) {
      std::string base = path.filename().string();
      if (base.ends_with(".gz")) base.resize(base.size() - 3);
      try {
        verify_sha256(bytes, mnist_sha256(base), path.string());
      } catch (const DataError& e) {
        throw DataError(std::string(e.what()) + "; fetch MNIST again with: denoise data fetch mnist");
      }
    }
    return bytes;
  };
  RawPair raw;
  raw.images_name = images_path.string();
  raw.image_bytes = read(images_path);
  raw.dims = parse_idx_images_header(raw.image_bytes, raw.images_name);
  raw.labels = parse_idx_labels(read(labels_path), labels_path.string());
  const std::size_t count = std::size_t(raw.dims[0]);
  if (count != raw.labels.size())
    throw DataError(fmt::format("{} holds {} images but {} holds {} labels", images_path.string(), count,
                                labels_path.string(), raw.labels.size()));
  const auto bad = std::find_if(raw.labels.begin(), raw.labels.end(), [](std::uint8_t l) { return l >= kNumClasses; });
  if (bad != raw.labels.end())
    throw DataError(fmt::format("{}: label {} at index {} is not a class 0-9", labels_path.string(), int(*bad),
                                bad - raw.labels.begin()));
  return raw;
}

static Dataset to_dataset(RawPair raw) {
  Dataset data;
  data.images = parse_idx_images(raw.image_bytes, raw.images_name);
  data.labels = std::move(raw.labels);
  return data;
}

Dataset load_dataset_file_pair(const fs::path& images_path, const fs::path& labels_path) {
  return to_dataset(read_pair(images_path, labels_path, false));
}

static RawPair read_data_file(const DataOptions& options, DataFile which) {
  const fs::path dir = data_dir(options);
  const bool train = which == DataFile::train;
  const fs::path images = find_data_file(options, dir, train ? kTrainImagesFile : kTestImagesFile);
  const fs::path labels = find_data_file(options, dir, train ? kTrainLabelsFile : kTestLabelsFile);
  return read_pair(images, labels, options.dataset == "mnist" && options.data_dir.empty());
}

Dataset load_data_file(const DataOptions& options, DataFile which) {
  return to_dataset(read_data_file(options, which));
}

Dataset subset(const Dataset& data, std::size_t begin, std::size_t count) {
  if (begin > data.size() || count > data.size() - begin)
    throw std::out_of_range(fmt::format("subset [{}, {}) of a dataset of {}", begin, begin + count, data.size()));
  Dataset out;
  const std::size_t pixels = std::size_t(data.height()) * std::size_t(data.width());
  out.images = Tensor({int(count), data.height(), data.width()});
  if (count) std::memcpy(out.images.data(), data.images.data() + begin * pixels, count * pixels * sizeof(float));
  out.labels.assign(data.labels.begin() + std::ptrdiff_t(begin), data.labels.begin() + std::ptrdiff_t(begin + count));
  return out;
}

// Where the seed's splits lie in the files: validation = the last twelfth of
// the training file, train = the rest; the first `limit` of each when limit > 0.
struct SplitRanges {
  std::size_t train, validation_begin, validation, test;
};

static SplitRanges split_ranges(std::size_t train_file, std::size_t test_file, std::size_t limit) {
  const std::size_t validation = train_file >= 2 ? std::max<std::size_t>(1, train_file / 12) : 0;
  const auto first = [limit](std::size_t count) { return limit ? std::min(limit, count) : count; };
  return {first(train_file - validation), train_file - validation, first(validation), first(test_file)};
}

Splits make_splits(const Dataset& train_file, const Dataset& test_file, std::size_t limit) {
  const SplitRanges r = split_ranges(train_file.size(), test_file.size(), limit);
  Splits s;
  s.train = subset(train_file, 0, r.train);
  s.validation = subset(train_file, r.validation_begin, r.validation);
  s.test = subset(test_file, 0, r.test);
  return s;
}

Splits load_splits(const DataOptions& options) {
  const Dataset train = load_data_file(options, DataFile::train);  // train first: its errors come first
  return make_splits(train, load_data_file(options, DataFile::test), options.limit);
}

// Images [begin, begin + count) of a file read by read_pair, straight from its bytes.
static PackedDataset packed_subset(const RawPair& raw, std::size_t begin, std::size_t count) {
  const std::size_t pixels = std::size_t(raw.dims[1]) * std::size_t(raw.dims[2]);
  PackedDataset out;
  out.images = PackedImages::from_bytes(
      std::span(raw.image_bytes).subspan(kIdxImagesHeader + begin * pixels, count * pixels),
      {int(count), raw.dims[1], raw.dims[2]});
  out.labels.assign(raw.labels.begin() + std::ptrdiff_t(begin), raw.labels.begin() + std::ptrdiff_t(begin + count));
  return out;
}

PackedSplits load_packed_splits(const DataOptions& options) {
  PackedSplits s;
  {
    const RawPair train = read_data_file(options, DataFile::train);  // train first: its errors come first
    const SplitRanges r = split_ranges(train.labels.size(), 0, options.limit);
    s.train = packed_subset(train, 0, r.train);
    s.validation = packed_subset(train, r.validation_begin, r.validation);
  }  // the file's bytes go before the test file is read
  const RawPair test = read_data_file(options, DataFile::test);
  s.test = packed_subset(test, 0, split_ranges(0, test.labels.size(), options.limit).test);
  return s;
}

// Seven-segment layout: a top, b top right, c bottom right, d bottom, e bottom left, f top left, g middle.
static constexpr int kSide = 28;
static constexpr std::array<const char*, kNumClasses> kSegments = {"abcdef", "bc",     "abged", "abgcd", "fgbc",
                                                                   "afgcd",  "afgedc", "abc",   "abcdefg", "abcdfg"};

Dataset make_synthetic_digits(std::size_t count, std::uint64_t seed) {
  Dataset data;
  data.images = Tensor({int(count), kSide, kSide});
  data.labels.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    Rng rng(seed, i);
    const int label = int(i % kNumClasses);
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

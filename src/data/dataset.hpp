#pragma once
// Labelled image datasets (MNIST, Fashion-MNIST, or any folder of IDX files
// named like them), the seed's train/validation/test splits, and a small
// synthetic digit set for tests.
#include <cstddef>
#include <optional>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tensor.hpp"
#include "data/packed_images.hpp"

namespace dn {

// The MNIST family's class count, for code that does not yet read Dataset::num_classes.
inline constexpr int kNumClasses = 10;

// The original file names; a data folder holds each one raw or with ".gz" added.
inline constexpr const char* kTrainImagesFile = "train-images-idx3-ubyte";
inline constexpr const char* kTrainLabelsFile = "train-labels-idx1-ubyte";
inline constexpr const char* kTestImagesFile = "t10k-images-idx3-ubyte";
inline constexpr const char* kTestLabelsFile = "t10k-labels-idx1-ubyte";

// Grayscale images with class labels; the class count and the image shape come
// from the data (its loader), not from constants.
struct Dataset {
  Tensor images;                     // [N, H, W], pixels in [0, 1]
  std::vector<std::uint8_t> labels;  // N class indices, 0 to num_classes - 1
  int num_classes = 0;               // set by whoever makes the dataset (its loader)

  std::size_t size() const { return labels.size(); }
  int height() const { return images.dim(1); }
  int width() const { return images.dim(2); }
  int channels() const { return 1; }  // one channel: images hold no channel axis
  // (height, width, channels), channels last as Keras's input_shape.
  Shape image_shape() const { return {height(), width(), channels()}; }
};

struct Splits {
  Dataset train, validation, test;
};

struct DataOptions {
  std::string dataset = "mnist";  // one of dataset_names(), or folder:PATH (data/folder_dataset.hpp)
  std::string data_dir;           // empty = the dataset's default folder
  std::size_t limit = 0;          // keep the first N of each split; 0 = all
  // The last fraction of the training file that validates (Keras's
  // validation_split: the first floor(N * (1 - F)) images train). Empty: the
  // seed's split, the last twelfth (5,000 of MNIST's 60,000).
  std::optional<double> validation_split = std::nullopt;
  // folder:PATH only: patch side, random flips, a separate validation folder, and the seed
  // of the picture order, crops and flips (the run's seed).
  int patch = 64;
  bool flips = false;
  std::string validation_dir = {};  // an initializer: older {dataset, dir, limit} aggregates stay warning-free
  std::uint64_t seed = 0;
};
// ArgumentError("validation_split", ...) unless it is empty or in (0, 1).
void validate_data_options(const DataOptions& options);

// The options as a run's config.json records them (dataset, data_dir, limit,
// validation_split, patch, flips, validation_dir), and back: keys added after a
// folder was written take their defaults. nlohmann::json's exceptions for a
// missing dataset, data_dir or limit, or a mistyped key.
void write_data_options(const DataOptions& options, nlohmann::json& config);
DataOptions read_data_options(const nlohmann::json& config);

// The registry's names (data/registry.hpp): {"mnist", "fashion-mnist"}.
std::vector<std::string> dataset_names();

// The loader's default folder. mnist: $DENOISE_DATA/mnist, else data/mnist under
// the current folder (where `denoise data fetch mnist` puts it). fashion-mnist:
// $DENOISE_DATA/fashion-mnist when it exists, else /usr/share/datasets/fashion-mnist
// (Debian's dataset-fashion-mnist). UsageError for an unknown dataset name.
std::filesystem::path default_data_dir(const std::string& dataset);
std::filesystem::path data_dir(const DataOptions& options);  // data_dir if given, else the default

// Reads a pair of IDX files of the MNIST family (10 classes); DataError when they
// disagree in count or a label is not 0-9.
Dataset load_dataset_file_pair(const std::filesystem::path& images_path, const std::filesystem::path& labels_path);

// One of the two files as shipped (train: all 60,000 MNIST images), through the
// dataset's loader. MNIST in its default folder is checked against the published
// SHA-256 sums; a folder given with data_dir is taken as it is. Missing data gives
// a DataError that says how to fetch it.
enum class DataFile { train, test };
Dataset load_data_file(const DataOptions& options, DataFile which);

// The seed's splits: validation = the last twelfth of the training file (the
// last 5,000 of MNIST's 60,000; at least one image), or its last validation_split
// when given; train = the rest, test = the test file. limit > 0 keeps the first
// `limit` images of each split.
Splits make_splits(const Dataset& train_file, const Dataset& test_file, std::size_t limit = 0,
                   std::optional<double> validation_split = std::nullopt);
Splits load_splits(const DataOptions& options);

// load_splits with each split's images kept as the file's bytes (PixelEncoding::u8,
// decoding to exactly load_splits's floats), never holding a whole file as float:
// a quarter of the memory, for training on all of a dataset.
struct PackedDataset {
  PackedImages images;               // [N, H, W], u8
  std::vector<std::uint8_t> labels;  // N class indices, 0 to num_classes - 1
  int num_classes = 0;

  std::size_t size() const { return labels.size(); }
  int height() const { return images.dim(1); }
  int width() const { return images.dim(2); }
  int channels() const { return 1; }
  Shape image_shape() const { return {height(), width(), channels()}; }
};
struct PackedSplits {
  PackedDataset train, validation, test;
};
PackedSplits load_packed_splits(const DataOptions& options);

// Images [begin, begin + count); std::out_of_range when that runs past the end.
Dataset subset(const Dataset& data, std::size_t begin, std::size_t count);
PackedDataset subset(const PackedDataset& data, std::size_t begin, std::size_t count);

// 28x28 seven-segment digits in 10 classes (image i has label i % 10),
// randomly sized, shifted and thickened per image; every pixel is exactly 0 or 1.
// The same (count, seed) always gives the same images.
Dataset make_synthetic_digits(std::size_t count, std::uint64_t seed);

// Writes the four IDX files under their original names (".gz" added when compress).
void write_data_folder(const std::filesystem::path& dir, const Dataset& train, const Dataset& test,
                       bool compress = false);

}  // namespace dn

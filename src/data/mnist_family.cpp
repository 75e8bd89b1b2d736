#include "data/mnist_family.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>

#include <fmt/core.h>

#include "core/error.hpp"
#include "data/checksum.hpp"
#include "data/idx.hpp"

namespace dn {

namespace fs = std::filesystem;

// A pair of IDX files read and checked, the images still as the file's bytes.
struct RawPair {
  std::string images_name;                // for messages
  std::vector<std::uint8_t> image_bytes;  // header included
  std::array<int, 3> dims{};              // N, H, W
  std::vector<std::uint8_t> labels;
  int num_classes = 0;
};

// Reads both files; `verify` checks each against loader's published sums (null: none).
static RawPair read_pair(const fs::path& images_path, const fs::path& labels_path, int num_classes,
                         const IdxFolderLoader* verify) {
  const auto read = [&](const fs::path& path) {
    auto bytes = read_idx_bytes(path);
    // The published sums are of the uncompressed originals, so hash after gunzip.
    if (verify) {
      std::string base = path.filename().string();
      if (base.ends_with(".gz")) base.resize(base.size() - 3);
      try {
        verify_sha256(bytes, verify->published_sha256(base), path.string());
      } catch (const DataError& e) {
        throw DataError(std::string(e.what()) + verify->damaged_hint());
      }
    }
    return bytes;
  };
  RawPair raw;
  raw.images_name = images_path.string();
  raw.image_bytes = read(images_path);
  raw.dims = parse_idx_images_header(raw.image_bytes, raw.images_name);
  raw.labels = parse_idx_labels(read(labels_path), labels_path.string());
  raw.num_classes = num_classes;
  const std::size_t count = std::size_t(raw.dims[0]);
  if (count != raw.labels.size())
    throw DataError(fmt::format("{} holds {} images but {} holds {} labels", images_path.string(), count,
                                labels_path.string(), raw.labels.size()));
  const auto bad = std::find_if(raw.labels.begin(), raw.labels.end(), [&](std::uint8_t l) { return l >= num_classes; });
  if (bad != raw.labels.end())
    throw DataError(fmt::format("{}: label {} at index {} is not a class 0-{}", labels_path.string(), int(*bad),
                                bad - raw.labels.begin(), num_classes - 1));
  return raw;
}

static Dataset to_dataset(RawPair raw) {
  Dataset data;
  data.images = parse_idx_images(raw.image_bytes, raw.images_name);
  data.labels = std::move(raw.labels);
  data.num_classes = raw.num_classes;
  return data;
}

static PackedDataset to_packed_dataset(RawPair raw) {
  PackedDataset data;
  data.images = PackedImages::from_bytes(std::span(raw.image_bytes).subspan(kIdxImagesHeader),
                                         {raw.dims[0], raw.dims[1], raw.dims[2]});
  data.labels = std::move(raw.labels);
  data.num_classes = raw.num_classes;
  return data;
}

// The MNIST family's labels; a pair of files read without a loader is taken as one of it.
Dataset load_dataset_file_pair(const fs::path& images_path, const fs::path& labels_path) {
  return to_dataset(read_pair(images_path, labels_path, kNumClasses, nullptr));
}

// The raw file if present, else its .gz; otherwise a DataError that says how to get the data.
static fs::path find_data_file(const IdxFolderLoader& loader, const DataLocation& where, const std::string& base) {
  std::error_code ec;
  for (const fs::path& candidate : {where.dir / base, where.dir / (base + ".gz")})
    if (fs::exists(candidate, ec)) return candidate;
  const std::string message = fs::is_directory(where.dir, ec)
                                  ? fmt::format("{}: missing {} (or {}.gz)", where.dir.string(), base, base)
                                  : fmt::format("{}: data folder not found", where.dir.string());
  throw DataError(message + loader.missing_hint(where));
}

static RawPair read_data_file(const IdxFolderLoader& loader, const DataLocation& where, DataFile which) {
  const bool train = which == DataFile::train;
  const fs::path images = find_data_file(loader, where, train ? kTrainImagesFile : kTestImagesFile);
  const fs::path labels = find_data_file(loader, where, train ? kTrainLabelsFile : kTestLabelsFile);
  const bool verify = where.is_default && !loader.published_sha256(kTrainImagesFile).empty();
  return read_pair(images, labels, loader.num_classes(), verify ? &loader : nullptr);
}

Dataset IdxFolderLoader::load(const DataLocation& where, DataFile which) const {
  return to_dataset(read_data_file(*this, where, which));
}

PackedDataset IdxFolderLoader::load_packed(const DataLocation& where, DataFile which) const {
  return to_packed_dataset(read_data_file(*this, where, which));
}

static fs::path denoise_data_root() {
  const char* env = std::getenv("DENOISE_DATA");
  return env && *env ? fs::path(env) : fs::path();
}

fs::path MnistLoader::default_dir() const {
  const fs::path root = denoise_data_root();
  return root.empty() ? fs::path("data") / "mnist" : root / "mnist";
}

std::string_view MnistLoader::published_sha256(std::string_view file_name) const { return mnist_sha256(file_name); }

std::string MnistLoader::missing_hint(const DataLocation& where) const {
  return "; fetch MNIST with: denoise data fetch mnist" +
         (where.is_default ? std::string() : " --data-dir " + where.dir.string());
}

std::string MnistLoader::damaged_hint() const { return "; fetch MNIST again with: denoise data fetch mnist"; }

fs::path FashionMnistLoader::default_dir() const {
  const fs::path root = denoise_data_root();
  std::error_code ec;
  if (!root.empty() && fs::is_directory(root / "fashion-mnist", ec)) return root / "fashion-mnist";
  return "/usr/share/datasets/fashion-mnist";
}

std::string FashionMnistLoader::missing_hint(const DataLocation& where) const {
  return where.is_default ? "; install Fashion-MNIST with: apt-get install dataset-fashion-mnist" : "";
}

}  // namespace dn

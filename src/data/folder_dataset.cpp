#include "data/folder_dataset.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/core.h>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "data/image_codec.hpp"

namespace dn {

namespace fs = std::filesystem;

FolderLoader::FolderLoader(const DataOptions& options)
    : dir_(options.dataset.substr(std::string(kFolderPrefix).size())), options_(options) {
  if (dir_.empty()) throw ArgumentError("dataset", "folder: needs a path, as in folder:photos/ (got 'folder:')");
  if (options.patch < 8) throw ArgumentError("patch", fmt::format("must be >= 8 (got {})", options.patch));
}

static std::vector<fs::path> picture_files(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw DataError(dir.string() + ": not found (a folder of PNG or JPEG pictures)");
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    std::string ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
    if (e.is_regular_file() && (ext == ".png" || ext == ".jpg" || ext == ".jpeg")) files.push_back(e.path());
  }
  if (files.empty()) throw DataError(dir.string() + ": holds no PNG or JPEG pictures");
  std::sort(files.begin(), files.end());
  return files;
}

// The picture's luminance as bytes, row-major.
static std::vector<std::uint8_t> gray_bytes(const Picture& p) {
  std::vector<std::uint8_t> gray(std::size_t(p.width) * std::size_t(p.height));
  const std::size_t c = std::size_t(p.channels);
  for (std::size_t i = 0; i < gray.size(); ++i) {
    const float v = p.colour_channels() >= 3
                        ? 0.299f * p.get(i * c) + 0.587f * p.get(i * c + 1) + 0.114f * p.get(i * c + 2)
                        : p.get(i * c);
    gray[i] = std::uint8_t(std::lround(std::clamp(v, 0.0f, 1.0f) * 255.0f));
  }
  return gray;
}

PackedDataset load_folder_patches(const fs::path& dir, int patch, bool flips, std::uint64_t seed) {
  std::vector<fs::path> files = picture_files(dir);
  Rng order(seed, 0x666f6c646572);  // its own stream: "folder"
  for (std::size_t i = files.size(); i > 1; --i) std::swap(files[i - 1], files[order.below(i)]);

  std::vector<std::uint8_t> patches;
  std::size_t count = 0;
  const std::size_t side = std::size_t(patch);
  for (std::size_t f = 0; f < files.size(); ++f) {
    const Picture picture = read_picture(files[f]);
    if (picture.width < patch || picture.height < patch)
      throw DataError(fmt::format("{}: {}x{} is smaller than the {}x{} patches", files[f].string(), picture.width,
                                  picture.height, patch, patch));
    const std::vector<std::uint8_t> gray = gray_bytes(picture);
    const std::size_t n = std::max<std::size_t>(
        1, std::size_t(picture.width) * std::size_t(picture.height) / (side * side));
    Rng rng(seed, f + 1);
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t y0 = rng.below(std::size_t(picture.height - patch) + 1);
      const std::size_t x0 = rng.below(std::size_t(picture.width - patch) + 1);
      const bool flip_x = flips && rng.below(2), flip_y = flips && rng.below(2);
      for (std::size_t r = 0; r < side; ++r)
        for (std::size_t c = 0; c < side; ++c) {
          const std::size_t sy = y0 + (flip_y ? side - 1 - r : r), sx = x0 + (flip_x ? side - 1 - c : c);
          patches.push_back(gray[sy * std::size_t(picture.width) + sx]);
        }
      ++count;
    }
  }
  PackedDataset out;
  out.images = PackedImages::from_bytes(patches, {int(count), patch, patch});
  out.labels.assign(count, 0);
  out.num_classes = 1;
  return out;
}

PackedDataset FolderLoader::load_packed(const DataLocation& /*where*/, DataFile which) const {
  // The test file of a folder is its validation: the separate folder, or the held-out
  // twelfth of the training patches (load_packed_splits cuts it from the train file).
  if (which == DataFile::test && separate_validation())
    return load_folder_patches(options_.validation_dir, options_.patch, false, options_.seed + 1);
  PackedDataset all = load_folder_patches(dir_, options_.patch, options_.flips, options_.seed);
  if (which == DataFile::train || all.size() < 2) return all;
  const std::size_t validation = std::max<std::size_t>(1, all.size() / 12);
  return subset(all, all.size() - validation, validation);
}

Dataset FolderLoader::load(const DataLocation& where, DataFile which) const {
  const PackedDataset packed = load_packed(where, which);
  Dataset out;
  out.images = packed.images.unpack();
  out.labels = packed.labels;
  out.num_classes = packed.num_classes;
  return out;
}

}  // namespace dn

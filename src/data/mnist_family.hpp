#pragma once
// The MNIST family: a folder holding the four IDX files under MNIST's names
// (kTrainImagesFile, ...), each raw or gzipped, with labels 0-9. MNIST and
// Fashion-MNIST share the format and differ in where they live, whether
// checksums are published, and how a user gets them.
#include <string>
#include <string_view>

#include "data/registry.hpp"

namespace dn {

class IdxFolderLoader : public DatasetLoader {
 public:
  int num_classes() const override { return 10; }
  Dataset load(const DataLocation& where, DataFile which) const override;
  PackedDataset load_packed(const DataLocation& where, DataFile which) const override;

  // The published SHA-256 of an uncompressed file, checked in the default folder; empty when none is published.
  virtual std::string_view published_sha256(std::string_view /*file_name*/) const { return {}; }
  // Appended to a DataError for missing files ("; fetch ... with: ..."), and for damaged ones.
  virtual std::string missing_hint(const DataLocation& where) const = 0;
  virtual std::string damaged_hint() const { return {}; }
};

// $DENOISE_DATA/mnist, else data/mnist (where `denoise data fetch mnist` puts it);
// the four files must match the published SHA-256 sums there.
class MnistLoader final : public IdxFolderLoader {
 public:
  std::string name() const override { return "mnist"; }
  std::string description() const override { return "handwritten digits 0-9, 28x28 grayscale"; }
  std::filesystem::path default_dir() const override;
  std::string_view published_sha256(std::string_view file_name) const override;
  std::string missing_hint(const DataLocation& where) const override;
  std::string damaged_hint() const override;
};

// $DENOISE_DATA/fashion-mnist when that folder exists, else
// /usr/share/datasets/fashion-mnist (Debian's package dataset-fashion-mnist).
class FashionMnistLoader final : public IdxFolderLoader {
 public:
  std::string name() const override { return "fashion-mnist"; }
  std::string description() const override { return "Zalando's clothing images in 10 classes, 28x28 grayscale"; }
  std::filesystem::path default_dir() const override;
  std::string missing_hint(const DataLocation& where) const override;
};

}  // namespace dn

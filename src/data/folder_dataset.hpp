#pragma once
// Training on your own pictures: --dataset folder:PATH.
//
// Every PNG and JPEG under PATH (subfolders included), any size, gray or colour (colour is
// taken as its luminance, 16-bit samples rounded to 8 bits), becomes square patches of
// DataOptions::patch pixels cut at random places, one per patch x patch pixels of the picture
// (at least one). Pictures are decoded one at a time and only their patches kept, as bytes, so
// a folder of large photographs trains in the memory of its patches (4 KB per 64x64
// patch), however large the pictures. Everything is seeded by DataOptions::seed: the order of the pictures
// (so the validation split, the last twelfth of the patches, comes from a seeded choice of
// pictures, one of which may straddle the cut), the crops and, with DataOptions::flips, a random horizontal and vertical flip of
// each patch. DataOptions::validation_dir names a folder of validation pictures instead; it
// is then the test split too. The test split is otherwise the validation one.
#include <string>

#include "data/registry.hpp"

namespace dn {

inline constexpr const char* kFolderPrefix = "folder:";

class FolderLoader final : public DatasetLoader {
 public:
  explicit FolderLoader(const DataOptions& options);

  std::string name() const override { return kFolderPrefix + dir_.string(); }
  std::string description() const override { return "your own PNG/JPEG pictures, cut into random square patches"; }
  int num_classes() const override { return 1; }
  std::filesystem::path default_dir() const override { return dir_; }
  Dataset load(const DataLocation& where, DataFile which) const override;
  PackedDataset load_packed(const DataLocation& where, DataFile which) const override;

  // Whether validation comes from a folder of its own (then the train file is all training).
  bool separate_validation() const { return !options_.validation_dir.empty(); }

 private:
  std::filesystem::path dir_;
  DataOptions options_;
};

// The patches of one folder as load_packed cuts them (exposed for tests).
PackedDataset load_folder_patches(const std::filesystem::path& dir, int patch, bool flips, std::uint64_t seed);

}  // namespace dn

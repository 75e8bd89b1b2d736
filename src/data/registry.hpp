#pragma once
// The datasets known by name. Each name has a DatasetLoader that knows where
// the data lives by default, how to check it, and how to read its training and
// test files; dataset.hpp's functions go through it. A new kind of data (a
// folder of images, say) is one more loader in dataset_registry().
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.hpp"

namespace dn {

// Where a dataset's files are. Published checksums are checked only in the
// default folder, where `denoise data fetch` keeps the real files; a folder
// given explicitly is taken as it is.
struct DataLocation {
  std::filesystem::path dir;
  bool is_default = true;
};

class DatasetLoader {
 public:
  virtual ~DatasetLoader() = default;

  virtual std::string name() const = 0;         // the value of DataOptions::dataset
  virtual std::string description() const = 0;  // one line, for help texts
  virtual int num_classes() const = 0;          // labels run from 0 to num_classes() - 1
  virtual std::filesystem::path default_dir() const = 0;

  // One file as shipped, all its images; its num_classes is this loader's.
  // DataError when the data is missing (saying how to get it), damaged or malformed.
  virtual Dataset load(const DataLocation& where, DataFile which) const = 0;
  // The same images kept as 8-bit pixels (PixelEncoding::u8, decoding to load's floats).
  virtual PackedDataset load_packed(const DataLocation& where, DataFile which) const = 0;
};

// Every loader, in the order help texts list them: mnist, fashion-mnist.
const std::vector<std::unique_ptr<DatasetLoader>>& dataset_registry();

// Each name with its description, for help texts:
// "mnist (handwritten digits 0-9, 28x28 grayscale) or fashion-mnist (...)".
std::string datasets_help();

// The loader named `name`; UsageError "dataset must be one of mnist, fashion-mnist (got 'foo')" otherwise.
const DatasetLoader& dataset_loader(const std::string& name);
// The loader for options.dataset: a registered one, or a FolderLoader made for folder:PATH.
std::shared_ptr<const DatasetLoader> dataset_loader(const DataOptions& options);
// Whether the name is a registered dataset or folder:PATH.
bool is_dataset_name(const std::string& name);

}  // namespace dn

#include "data/registry.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "data/folder_dataset.hpp"
#include "data/mnist_family.hpp"

namespace dn {

const std::vector<std::unique_ptr<DatasetLoader>>& dataset_registry() {
  static const auto loaders = [] {
    std::vector<std::unique_ptr<DatasetLoader>> all;
    all.push_back(std::make_unique<MnistLoader>());
    all.push_back(std::make_unique<FashionMnistLoader>());
    return all;
  }();
  return loaders;
}

std::vector<std::string> dataset_names() {
  std::vector<std::string> names;
  for (const auto& loader : dataset_registry()) names.push_back(loader->name());
  return names;
}

std::string datasets_help() {
  const auto& all = dataset_registry();
  std::string help;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (i > 0) help += i + 1 == all.size() ? " or " : ", ";
    help += all[i]->name() + " (" + all[i]->description() + ")";
  }
  return help + ", or folder:PATH (your own PNG/JPEG pictures, cut into random --patch squares)";
}

const DatasetLoader& dataset_loader(const std::string& name) {
  std::string choices;
  for (const auto& loader : dataset_registry()) {
    if (loader->name() == name) return *loader;
    choices += (choices.empty() ? "" : ", ") + loader->name();
  }
  throw ArgumentError("dataset", "must be one of " + choices + " or folder:PATH (got '" + name + "')");
}

bool is_dataset_name(const std::string& name) {
  if (name.starts_with(kFolderPrefix)) return true;
  const auto names = dataset_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::shared_ptr<const DatasetLoader> dataset_loader(const DataOptions& options) {
  if (options.dataset.starts_with(kFolderPrefix)) return std::make_shared<FolderLoader>(options);
  return {std::shared_ptr<void>(), &dataset_loader(options.dataset)};  // registered: not owned
}

}  // namespace dn

#pragma once
// Weights in the safetensors format, readable by Python's `safetensors` package:
//
//   8 bytes    N, the header length, unsigned little-endian
//   N bytes    JSON header: {"__metadata__": {string: string, ...},
//                            name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...}
//              padded with spaces so that the data starts 8-byte aligned
//   the rest   the tensors' raw little-endian bytes; offsets count from the start of this
//              buffer, and the tensors cover it exactly, without holes or overlaps
//
// Only float32 (F32) tensors are written and loaded. Every problem with a file is a
// DataError that names the file.
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.hpp"

namespace dn {

// Writes the tensors in the given order, atomically (a temporary file renamed into place).
// Names must be unique and not "__metadata__" (std::invalid_argument otherwise).
void save_safetensors(const std::filesystem::path& path,
                      const std::vector<std::pair<std::string, const Tensor*>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Every tensor in the file, after checking the whole file.
std::map<std::string, Tensor> load_safetensors(const std::filesystem::path& path);

// The header's "__metadata__" (empty when absent), after checking the whole file.
std::map<std::string, std::string> read_safetensors_metadata(const std::filesystem::path& path);

// Fills each expected tensor from the file's tensor of the same name. The file must hold
// exactly these names, each F32 with the expected shape; otherwise nothing is changed and
// one DataError lists every mismatch, e.g. "model.safetensors: does not match this model:
// missing 'conv2d/kernel'; 'dense/bias' has shape (10,) but the model expects (12,)".
void load_into(const std::filesystem::path& path, const std::vector<std::pair<std::string, Tensor*>>& expected);

}  // namespace dn

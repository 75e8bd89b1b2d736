#include "io/safetensors.hpp"

#include <algorithm>
#include <bit>
#include <climits>
#include <cstdint>
#include <cstring>
#include <set>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/file_io.hpp"

namespace dn {

namespace fs = std::filesystem;

// Tensor bytes are copied as they lie in memory, which is the file's byte order only here.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace {

constexpr const char* kMetadataKey = "__metadata__";

// Element sizes of the dtypes the format defines; anything else is not a safetensors file.
std::size_t dtype_size(const std::string& dtype) {
  static const std::map<std::string, std::size_t> sizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
      {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4},     {"I64", 8},     {"U64", 8}, {"F64", 8}};
  const auto it = sizes.find(dtype);
  return it == sizes.end() ? 0 : it->second;
}

struct Entry {
  std::string name;
  std::string dtype;
  Shape shape;
  std::size_t begin = 0, end = 0;  // byte offsets into the data section
};

struct ParsedFile {
  std::vector<std::uint8_t> bytes;
  std::size_t data_start = 0;
  std::vector<Entry> entries;  // in name order
  std::map<std::string, std::string> metadata;
};

[[noreturn]] void fail(const fs::path& path, const std::string& problem) {
  throw DataError(path.string() + ": " + problem);
}

std::size_t json_size(const nlohmann::json& j) {
  // nlohmann stores non-negative integers as unsigned or signed; floats and negatives are rejected.
  if (j.is_number_unsigned()) return j.get<std::size_t>();
  if (j.is_number_integer() && j.get<std::int64_t>() >= 0) return static_cast<std::size_t>(j.get<std::int64_t>());
  throw std::invalid_argument("not a non-negative integer");
}

Entry parse_entry(const fs::path& path, const std::string& name, const nlohmann::json& j) {
  const std::string where = "tensor '" + name + "'";
  if (!j.is_object()) fail(path, where + " is not described by a JSON object");
  const auto dtype = j.find("dtype");
  const auto shape = j.find("shape");
  const auto offsets = j.find("data_offsets");
  if (dtype == j.end() || !dtype->is_string()) fail(path, where + " has no \"dtype\" string");
  if (shape == j.end() || !shape->is_array()) fail(path, where + " has no \"shape\" array");
  if (offsets == j.end() || !offsets->is_array() || offsets->size() != 2)
    fail(path, where + " has no \"data_offsets\" pair");
  Entry e;
  e.name = name;
  e.dtype = dtype->get<std::string>();
  const std::size_t elem = dtype_size(e.dtype);
  if (elem == 0) fail(path, where + " has unknown dtype \"" + e.dtype + "\"");
  std::size_t count = 1;
  try {
    for (const auto& d : *shape) {
      const std::size_t dim = json_size(d);
      if (dim > static_cast<std::size_t>(INT_MAX)) throw std::invalid_argument("too large");
      if (dim != 0 && count > SIZE_MAX / elem / dim) throw std::invalid_argument("too large");
      count *= dim;
      e.shape.push_back(static_cast<int>(dim));
    }
  } catch (const std::invalid_argument&) {
    fail(path, where + " has an invalid shape " + shape->dump());
  }
  try {
    e.begin = json_size((*offsets)[0]);
    e.end = json_size((*offsets)[1]);
  } catch (const std::invalid_argument&) {
    fail(path, where + " has invalid data_offsets " + offsets->dump());
  }
  if (e.end < e.begin) fail(path, where + " has data_offsets " + offsets->dump() + " that end before they begin");
  if (e.end - e.begin != count * elem)
    fail(path, where + " has " + std::to_string(e.end - e.begin) + " bytes of data, but " + e.dtype + " shape " +
                   shape_str(e.shape) + " needs " + std::to_string(count * elem));
  return e;
}

ParsedFile parse_file(const fs::path& path) {
  ParsedFile f;
  f.bytes = read_file_bytes(path);
  const std::size_t size = f.bytes.size();
  if (size < 8)
    fail(path, "too short to be a safetensors file (" + std::to_string(size) + " bytes, the header length alone is 8)");
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | f.bytes[static_cast<std::size_t>(i)];
  if (header_len > size - 8)
    fail(path, "header length " + std::to_string(header_len) + " runs past the end of the file (" +
                   std::to_string(size) + " bytes): truncated or not a safetensors file");
  f.data_start = 8 + static_cast<std::size_t>(header_len);
  const char* text = reinterpret_cast<const char*>(f.bytes.data() + 8);
  if (header_len == 0 || text[0] != '{') fail(path, "header is not a JSON object: not a safetensors file");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text, text + header_len);
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for a number like 8E8888
    fail(path, std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) fail(path, "header is not a JSON object");

  for (const auto& [name, value] : header.items()) {
    if (name == kMetadataKey) {
      if (!value.is_object()) fail(path, "\"__metadata__\" is not a JSON object");
      for (const auto& [key, v] : value.items()) {
        if (!v.is_string()) fail(path, "\"__metadata__\" value of '" + key + "' is not a string");
        f.metadata[key] = v.get<std::string>();
      }
    } else {
      f.entries.push_back(parse_entry(path, name, value));
    }
  }

  // The tensors must tile the data section exactly: in offset order, each begins where
  // the previous one ended and the last ends at the end of the file.
  const std::size_t data_size = size - f.data_start;
  std::vector<const Entry*> by_offset;
  for (const Entry& e : f.entries) {
    if (e.end > data_size)
      fail(path, "tensor '" + e.name + "' data ends at byte " + std::to_string(e.end) + " but the data section has " +
                     std::to_string(data_size) + " bytes: truncated file");
    by_offset.push_back(&e);
  }
  std::stable_sort(by_offset.begin(), by_offset.end(),
                   [](const Entry* a, const Entry* b) { return a->begin != b->begin ? a->begin < b->begin : a->end < b->end; });
  std::size_t covered = 0;
  const Entry* previous = nullptr;
  for (const Entry* e : by_offset) {
    if (e->begin < covered) fail(path, "tensors '" + previous->name + "' and '" + e->name + "' overlap");
    if (e->begin > covered)
      fail(path, "data section has a gap of " + std::to_string(e->begin - covered) + " bytes before tensor '" +
                     e->name + "'");
    covered = e->end;
    previous = e;
  }
  if (covered != data_size)
    fail(path, std::to_string(data_size - covered) + " bytes after the last tensor belong to no tensor");
  return f;
}

void copy_data(const ParsedFile& f, const Entry& e, float* dst) {
  if (e.end > e.begin) std::memcpy(dst, f.bytes.data() + f.data_start + e.begin, e.end - e.begin);
}

}  // namespace

void save_safetensors(const fs::path& path, const std::vector<std::pair<std::string, const Tensor*>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  std::set<std::string> names;
  std::size_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name.empty() || name == kMetadataKey || !names.insert(name).second)
      throw std::invalid_argument("save_safetensors: tensor name '" + name + "' is empty, reserved or repeated");
    if (!tensor) throw std::invalid_argument("save_safetensors: tensor '" + name + "' is null");
    const std::size_t bytes = tensor->size() * sizeof(float);
    header[name] = {{"dtype", "F32"}, {"shape", tensor->shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data then starts 8-byte aligned

  std::string out;
  out.reserve(8 + text.size() + offset);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((static_cast<std::uint64_t>(text.size()) >> (8 * i)) & 0xff));
  out += text;
  for (const auto& [name, tensor] : tensors)
    if (!tensor->empty()) out.append(reinterpret_cast<const char*>(tensor->data()), tensor->size() * sizeof(float));
  write_file_atomic(path, out);
}

std::map<std::string, Tensor> load_safetensors(const fs::path& path) {
  const ParsedFile f = parse_file(path);
  std::map<std::string, Tensor> out;
  for (const Entry& e : f.entries) {
    if (e.dtype != "F32") fail(path, "tensor '" + e.name + "' has dtype " + e.dtype + "; only F32 is supported");
    Tensor t(e.shape);
    copy_data(f, e, t.data());
    out.emplace(e.name, std::move(t));
  }
  return out;
}

std::map<std::string, std::string> read_safetensors_metadata(const fs::path& path) { return parse_file(path).metadata; }

void load_into(const fs::path& path, const std::vector<std::pair<std::string, Tensor*>>& expected) {
  const ParsedFile f = parse_file(path);
  std::map<std::string, const Entry*> in_file;
  for (const Entry& e : f.entries) in_file[e.name] = &e;

  std::vector<std::string> problems;
  std::set<std::string> wanted;
  for (const auto& [name, tensor] : expected) {
    if (!tensor || !wanted.insert(name).second)
      throw std::invalid_argument("load_into: tensor '" + name + "' is null or repeated");
    const auto it = in_file.find(name);
    if (it == in_file.end()) {
      problems.push_back("missing '" + name + "'");
    } else if (it->second->dtype != "F32") {
      problems.push_back("'" + name + "' has dtype " + it->second->dtype + " but the model expects F32");
    } else if (it->second->shape != tensor->shape()) {
      problems.push_back("'" + name + "' has shape " + shape_str(it->second->shape) + " but the model expects " +
                         shape_str(tensor->shape()));
    }
  }
  for (const Entry& e : f.entries)
    if (!wanted.count(e.name)) problems.push_back("unexpected '" + e.name + "'");
  if (!problems.empty()) {
    std::string message = "does not match this model: ";
    for (std::size_t i = 0; i < problems.size(); ++i) message += (i ? "; " : "") + problems[i];
    fail(path, message);
  }
  // Into the model's own buffers, which keep their addresses.
  for (const auto& [name, tensor] : expected) copy_data(f, *in_file.at(name), tensor->data());
}

}  // namespace dn

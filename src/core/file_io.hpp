#pragma once
// Whole-file reading and all-or-nothing writing: outputs go to a temporary file
// beside the target and are renamed into place, so a crash or an error never
// leaves a half-written result.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace dn {

// Throws DataError naming the file when it is missing, unreadable or not a regular
// file (a folder, FIFO or device).
std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& path);
std::string read_file_text(const std::filesystem::path& path);

// The folder and its parents, as create_directories; DataError "<dir>: cannot create folder: <why>".
void create_folder(const std::filesystem::path& dir);
// Write to "<path>.tmp.<pid>", flush to disk (fsync), then rename over path. Creates parent folders.
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);
// fsync of a folder: makes the renames and creations inside it durable.
void sync_folder(const std::filesystem::path& dir);
void write_json_atomic(const std::filesystem::path& path, const nlohmann::json& j);
nlohmann::json read_json(const std::filesystem::path& path);

}  // namespace dn

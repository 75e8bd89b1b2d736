#include "data/archive.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <memory>

#include <fmt/core.h>

#include "core/error.hpp"

namespace dn {

std::optional<std::vector<std::uint8_t>> find_archive_member(std::span<const std::uint8_t> archive,
                                                             std::string_view member_path, const std::string& name) {
  const std::unique_ptr<struct archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
  if (!a) throw std::bad_alloc();
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  const auto fail = [&](const char* what) {
    const char* why = archive_error_string(a.get());
    return DataError(fmt::format("{}: {}: {}", name, what, why ? why : "unknown error"));
  };
  if (archive_read_open_memory(a.get(), archive.data(), archive.size()) != ARCHIVE_OK)
    throw fail("not a tar archive, or a damaged one");
  archive_entry* entry = nullptr;
  for (;;) {
    const int status = archive_read_next_header(a.get(), &entry);
    if (status == ARCHIVE_EOF) return std::nullopt;
    if (status != ARCHIVE_OK) throw fail("damaged archive");
    const char* path = archive_entry_pathname(entry);
    if (!path || member_path != path || archive_entry_filetype(entry) != AE_IFREG) continue;
    // The size comes from the header: refused when it claims more than the archive could hold.
    const la_int64_t size = archive_entry_size(entry);
    std::vector<std::uint8_t> out;
    out.reserve(size > 0 && std::uint64_t(size) <= (std::uint64_t(1) << 32) ? std::size_t(size) : 0);
    std::uint8_t buffer[1 << 16];
    for (;;) {
      const la_ssize_t n = archive_read_data(a.get(), buffer, sizeof buffer);
      if (n < 0) throw fail("damaged archive");
      if (n == 0) break;
      out.insert(out.end(), buffer, buffer + n);
    }
    if (archive_entry_size_is_set(entry) && la_int64_t(out.size()) != size)
      throw DataError(fmt::format("{}: truncated archive: {} holds {} of its {} bytes", name, member_path, out.size(), size));
    return out;
  }
}

}  // namespace dn

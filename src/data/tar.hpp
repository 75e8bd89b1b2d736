#pragma once
// Reading one file out of an uncompressed tar archive (ustar, as `npm pack`
// writes inside its .tgz). Enough for fetching data; not a general tar tool.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dn {

// The contents of the regular file stored under member_path, or nullopt when the
// archive has none. DataError naming the archive when a header is damaged or the
// archive is cut short.
std::optional<std::vector<std::uint8_t>> find_tar_member(std::span<const std::uint8_t> tar,
                                                         std::string_view member_path, const std::string& name);

}  // namespace dn

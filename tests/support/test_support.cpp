#include "support/test_support.hpp"

#include <sys/wait.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <random>
#include <stdexcept>

#include "run/run_writer.hpp"
#include "train/checkpoint.hpp"

namespace dn::test {

namespace fs = std::filesystem;

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  std::random_device rd;
  path = fs::temp_directory_path() /
         ("denoise-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
          std::to_string(rd() % 100000));
  fs::create_directories(path);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path, ec);
}

CliResult run_denoise(const std::vector<std::string>& args) {
  int pipefd[2];
  if (::pipe(pipefd) != 0) throw std::runtime_error("pipe failed");
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipefd[1], 1);
    ::dup2(pipefd[1], 2);
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    std::vector<char*> argv;
    std::string exe = DENOISE_EXE;
    argv.push_back(exe.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(exe.c_str(), argv.data());
    _exit(127);
  }
  ::close(pipefd[1]);
  CliResult r;
  std::array<char, 4096> buf;
  ssize_t n;
  while ((n = ::read(pipefd[0], buf.data(), buf.size())) > 0) r.output.append(buf.data(), static_cast<std::size_t>(n));
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

CliResult run_until(const std::vector<std::string>& args, const std::function<bool()>& when, int signal) {
  const std::filesystem::path log = std::filesystem::temp_directory_path() /
                                    ("run-until-" + std::to_string(::getpid()) + ".log");
  pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::close(fd);
    std::vector<char*> argv;
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  bool sent = false;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (!sent && when()) {
      ::kill(pid, signal);
      sent = true;
    }
    ::usleep(1000);
  }
  CliResult r;
  std::ifstream in(log);
  r.output.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  std::filesystem::remove(log);
  r.status = !sent ? -1 : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  return r;
}

CliResult run_denoise_until(const std::vector<std::string>& args, const std::function<bool()>& when, int signal) {
  std::vector<std::string> argv = {DENOISE_EXE};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_until(argv, when, signal);
}

int checkpoint_epoch(const fs::path& run) {
  try {
    return read_checkpoint(staging_folder(run) / kCheckpointFile).epoch;
  } catch (const std::exception&) {
    return 0;
  }
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace dn::test

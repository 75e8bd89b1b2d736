// The one file that calls MPI. Without MPI in the build, world() is the single
// process, and a Session refuses to be one of several.
#include "dist/communicator.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <thread>

#include <fmt/core.h>

#include "core/error.hpp"

#ifdef DENOISE_WITH_MPI
#include <mpi.h>

#include "dist/watchdog.hpp"
#endif

namespace dn::dist {

namespace {

// Launchers announce themselves: Open MPI's mpirun, then PMIx / PMI (MPICH, Slurm's srun).
bool launched_by_mpirun() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"})
    if (std::getenv(name)) return true;
  return false;
}

}  // namespace

#ifdef DENOISE_WITH_MPI

namespace {

// DENOISE_MPI_TIMEOUT in seconds (default 600); UsageError for anything but a positive number.
std::chrono::milliseconds collective_timeout() {
  const char* text = std::getenv("DENOISE_MPI_TIMEOUT");
  if (!text) return std::chrono::minutes(10);
  char* end = nullptr;
  const double seconds = std::strtod(text, &end);
  if (end == text || *end != '\0' || !(seconds > 0 && seconds < 1e9))
    throw UsageError(fmt::format("DENOISE_MPI_TIMEOUT must be a positive number of seconds (got '{}')", text));
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

// MPI's errors come back as codes (MPI_ERRORS_RETURN) and become exceptions that
// end the job with MPI's own text.
void check(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw std::runtime_error(fmt::format("{} failed: {}", call, std::string(text, std::size_t(length))));
}

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(std::chrono::milliseconds timeout)
      : watchdog_(timeout, [this](const std::string& what, double seconds) {
          // MPI is not called from this thread (MPI_THREAD_FUNNELED): ending the process
          // without MPI_Finalize makes mpirun end the whole job.
          std::fprintf(stderr,
                       "denoise (rank %d): error: %s waited more than %.0f s for the other ranks (one may be stuck; "
                       "DENOISE_MPI_TIMEOUT sets the limit); ending the job\n",
                       rank_, what.c_str(), seconds);
          std::fflush(stderr);
          std::_Exit(4);
        }) {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void broadcast(float* data, std::size_t n, int root) override {
    Deadline d(watchdog_, "broadcast");
    check(MPI_Bcast(data, count(n), MPI_FLOAT, root, MPI_COMM_WORLD), "MPI_Bcast");
  }
  void allreduce_sum(float* data, std::size_t n) override { allreduce(data, n, MPI_FLOAT); }
  void allreduce_sum(double* data, std::size_t n) override { allreduce(data, n, MPI_DOUBLE); }

  std::vector<std::string> gather(const std::string& text) override {
    int length = count(text.size());
    std::vector<int> lengths(rank_ == 0 ? std::size_t(size_) : 0);
    check(MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Gather");
    std::vector<int> offsets(lengths.size());
    std::string all;
    if (rank_ == 0) {
      for (std::size_t r = 1; r < lengths.size(); ++r) offsets[r] = offsets[r - 1] + lengths[r - 1];
      all.resize(std::size_t(offsets.back() + lengths.back()));
    }
    check(MPI_Gatherv(text.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(), MPI_CHAR, 0,
                      MPI_COMM_WORLD),
          "MPI_Gatherv");
    std::vector<std::string> texts;
    for (std::size_t r = 0; r < lengths.size(); ++r) texts.push_back(all.substr(std::size_t(offsets[r]), std::size_t(lengths[r])));
    return texts;
  }

  void barrier() override {
    Deadline d(watchdog_, "barrier");
    check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
  }

 private:
  struct Deadline {
    Deadline(Watchdog& w, const char* what) : watchdog(w) { watchdog.arm(what); }
    ~Deadline() { watchdog.disarm(); }
    Watchdog& watchdog;
  };

  static int count(std::size_t n) {
    if (n > std::size_t(INT32_MAX)) throw std::length_error("MPI message of more than 2^31 elements");
    return static_cast<int>(n);
  }

  void allreduce(void* data, std::size_t n, MPI_Datatype type) {
    Deadline d(watchdog_, "allreduce");
    const auto start = std::chrono::steady_clock::now();
    check(MPI_Allreduce(MPI_IN_PLACE, data, count(n), type, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
    stats_.allreduce_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ++stats_.allreduce_calls;
  }

  int rank_ = 0, size_ = 1;
  Watchdog watchdog_;
};

std::unique_ptr<MpiCommunicator>& world_communicator() {
  static std::unique_ptr<MpiCommunicator> communicator;
  return communicator;
}

}  // namespace

bool mpi_built_in() { return true; }

Communicator& world() {
  if (auto& w = world_communicator()) return *w;
  return local();
}

Session::Session(int& argc, char**& argv) {
  if (!launched_by_mpirun()) return;
  const std::chrono::milliseconds timeout = collective_timeout();
  int provided = 0;
  // Only the main thread calls MPI; OpenMP threads and the watchdog never do.
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
    throw std::runtime_error("MPI_Init_thread failed");
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  world_communicator() = std::make_unique<MpiCommunicator>(timeout);
}

Session::~Session() {
  if (!world_communicator()) return;
  world_communicator().reset();
  MPI_Finalize();
}

void Session::abort_job(const std::string& message, int code) {
  const int rank = world().rank();
  if (rank != 0) std::this_thread::sleep_for(std::chrono::seconds(2));
  fmt::print(stderr, "{}\n", rank == 0 ? message : fmt::format("[rank {}] {}", rank, message));
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

#else  // built without MPI: every process is alone

bool mpi_built_in() { return false; }
Communicator& world() { return local(); }
// N copies of a program without MPI would each train alone and race for the same
// run folder: refused, saying why.
Session::Session(int&, char**&) {
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  if (!size) size = std::getenv("PMI_SIZE");
  if (launched_by_mpirun() && size && std::atoi(size) > 1)
    throw UsageError(fmt::format("this denoise was built without MPI, so {} processes under mpirun would each work "
                                 "alone; build it with MPI installed (libopenmpi-dev) or run one process",
                                 size));
}
Session::~Session() = default;
void Session::abort_job(const std::string& message, int code) {
  fmt::print(stderr, "{}\n", message);
  std::fflush(stderr);
  std::_Exit(code);
}

#endif

}  // namespace dn::dist

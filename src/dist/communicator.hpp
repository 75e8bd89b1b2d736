#pragma once
// The few collective operations that data-parallel training and distributed sweeps
// need, behind one small interface. MPI (mpi_communicator.cpp) is the only
// implementation that talks to other processes; a program not started by mpirun, or
// built without MPI, gets the single-process one, so the rest of the code has no #ifdefs.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dn::dist {

// Time spent inside the collectives, for a run's report (the scaling table).
struct CollectiveStats {
  std::int64_t allreduce_calls = 0;
  double allreduce_seconds = 0;  // includes waiting for the slowest rank
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;  // 0 ... size() - 1; rank 0 writes files and reports
  virtual int size() const = 0;
  // data[0, n) of rank `root` on every rank.
  virtual void broadcast(float* data, std::size_t n, int root = 0) = 0;
  // Element-wise sum over all ranks, in place, the same on every rank.
  virtual void allreduce_sum(float* data, std::size_t n) = 0;
  virtual void allreduce_sum(double* data, std::size_t n) = 0;
  // Every rank's text in rank order on rank 0 (other ranks get an empty list). Waits
  // as long as the slowest rank works: no timeout.
  virtual std::vector<std::string> gather(const std::string& text) = 0;
  virtual void barrier() = 0;

  const CollectiveStats& stats() const { return stats_; }

 protected:
  CollectiveStats stats_;
};

// One process alone: the collectives copy nothing and never wait.
Communicator& local();

// Every process of the job (MPI_COMM_WORLD) once a Session has started MPI; local()
// otherwise.
Communicator& world();

// Whether this build has MPI in it (denoise --version, tests that need mpirun).
bool mpi_built_in();

// MPI's lifetime in a program. Starts MPI only when the process was launched by
// mpirun (Open MPI, MPICH or a PMI launcher say so in the environment), so a plain
// run never pays for it. Collectives other than gather end the job with a message
// when they wait longer than DENOISE_MPI_TIMEOUT seconds (default 600) for another
// rank: a rank stuck without dying would otherwise hang the job for ever.
class Session {
 public:
  // UsageError for a DENOISE_MPI_TIMEOUT that is not a positive number, or, in a
  // build without MPI, for being one of several processes under mpirun.
  Session(int& argc, char**& argv);
  ~Session();  // MPI_Finalize
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Ends the whole job after a failure in this process, with `message` on stderr and
  // `code` as mpirun's exit status. Rank 0 speaks for the job: another rank waits two
  // seconds first, so that when every rank fails alike (a bad flag) only rank 0's
  // message shows, and says which rank it is when rank 0 has not ended the job.
  [[noreturn]] static void abort_job(const std::string& message, int code);
};

}  // namespace dn::dist

#pragma once
// Work that runs beside the calling thread, on one OpenMP thread of its own. Results are
// bit-identical for any thread count, so independent trainings side by side with one
// thread each use several cores at no cost in reproducibility, and they never wait at a
// barrier for a thread that a busy machine has descheduled (two threads of one training
// on a loaded 2-core machine took three times as long as one).
//
// Work side by side fails together: each failure sets a shared flag, which the
// trainings' ExperimentObserver::stop_requested reads (ExperimentObserver::or_when), so
// the others stop after their current step instead of running to their end.
#include <atomic>
#include <exception>
#include <functional>
#include <thread>
#include <vector>

namespace dn {

class Beside {
 public:
  // failed (may be null) is set when work throws.
  explicit Beside(std::function<void()> work, std::atomic<bool>* failed = nullptr);
  Beside(const Beside&) = delete;
  Beside& operator=(const Beside&) = delete;
  ~Beside();  // waits for the work; what it threw is lost unless join() was called

  // Waits for the work and rethrows what it threw.
  void join();

 private:
  std::exception_ptr failure_;
  std::thread thread_;
};

// What the parts of a side-by-side job threw, and the one to report: the first that is
// not an InterruptedError, since a run stopped because another failed throws one of
// those; else the first (the user stopped the job).
class Failures {
 public:
  explicit Failures(std::atomic<bool>& failed) : failed_(&failed) {}
  // Runs part on the calling thread; what it throws is kept and sets the flag.
  void run(const std::function<void()>& part);
  void rethrow_cause() const;  // nothing when nothing failed

 private:
  std::atomic<bool>* failed_;
  std::vector<std::exception_ptr> thrown_;
};

}  // namespace dn

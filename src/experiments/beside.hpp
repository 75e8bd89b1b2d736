#pragma once
// Work that runs beside the calling thread, on one OpenMP thread of its own. Results are
// bit-identical for any thread count, so independent trainings side by side with one
// thread each use several cores at no cost in reproducibility, and they never wait at a
// barrier for a thread that a busy machine has descheduled (two threads of one training
// on a loaded 2-core machine took three times as long as one).
#include <exception>
#include <functional>
#include <thread>

namespace dn {

class Beside {
 public:
  explicit Beside(std::function<void()> work);
  Beside(const Beside&) = delete;
  Beside& operator=(const Beside&) = delete;
  ~Beside();  // waits for the work; what it threw is lost unless join() was called

  // Waits for the work and rethrows what it threw.
  void join();

 private:
  std::exception_ptr failure_;
  std::thread thread_;
};

}  // namespace dn

#include "experiments/beside.hpp"

#include <omp.h>

namespace dn {

Beside::Beside(std::function<void()> work)
    : thread_([this, work = std::move(work)] {
        omp_set_num_threads(1);  // this thread's own setting: the caller's stays
        try {
          work();
        } catch (...) {
          failure_ = std::current_exception();
        }
      }) {}

Beside::~Beside() {
  if (thread_.joinable()) thread_.join();
}

void Beside::join() {
  thread_.join();
  if (failure_) std::rethrow_exception(failure_);
}

}  // namespace dn

#include "experiments/beside.hpp"

#include <omp.h>

#include "core/error.hpp"

namespace dn {

Beside::Beside(std::function<void()> work, std::atomic<bool>* failed)
    : thread_([this, failed, work = std::move(work)] {
        omp_set_num_threads(1);  // this thread's own setting: the caller's stays
        try {
          work();
        } catch (...) {
          failure_ = std::current_exception();
          if (failed) *failed = true;
        }
      }) {}

Beside::~Beside() {
  if (thread_.joinable()) thread_.join();
}

void Beside::join() {
  thread_.join();
  if (failure_) std::rethrow_exception(failure_);
}

void Failures::run(const std::function<void()>& part) {
  try {
    part();
  } catch (...) {
    thrown_.push_back(std::current_exception());
    *failed_ = true;
  }
}

void Failures::rethrow_cause() const {
  for (const std::exception_ptr& e : thrown_) try {
      std::rethrow_exception(e);
    } catch (const InterruptedError&) {
    } catch (...) {
      throw;
    }
  if (!thrown_.empty()) std::rethrow_exception(thrown_.front());
}

}  // namespace dn

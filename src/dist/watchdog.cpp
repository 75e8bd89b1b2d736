#include "dist/watchdog.hpp"

namespace dn::dist {

Watchdog::Watchdog(std::chrono::milliseconds timeout, Expire on_expire)
    : timeout_(timeout), on_expire_(std::move(on_expire)), thread_([this] { watch(); }) {}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(mutex_);
    quit_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void Watchdog::arm(std::string what) {
  {
    std::lock_guard lock(mutex_);
    armed_ = true;
    ++generation_;
    what_ = std::move(what);
  }
  changed_.notify_all();
}

void Watchdog::disarm() {
  std::lock_guard lock(mutex_);
  armed_ = false;
}

void Watchdog::watch() {
  std::unique_lock lock(mutex_);
  while (!quit_) {
    changed_.wait(lock, [&] { return quit_ || armed_; });
    if (quit_) break;
    const std::uint64_t generation = generation_;
    const bool done = changed_.wait_for(lock, timeout_, [&] { return quit_ || !armed_ || generation_ != generation; });
    if (!done) {
      armed_ = false;
      const std::string what = what_;
      lock.unlock();
      on_expire_(what, std::chrono::duration<double>(timeout_).count());
      lock.lock();
    }
  }
}

}  // namespace dn::dist

#pragma once
// A deadline for blocking calls: arm() before one, disarm() after it; when a call
// outlives the timeout, on_expire runs on the watchdog's thread with what arm() named.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace dn::dist {

class Watchdog {
 public:
  using Expire = std::function<void(const std::string& what, double seconds)>;
  Watchdog(std::chrono::milliseconds timeout, Expire on_expire);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void arm(std::string what);
  void disarm();

 private:
  void watch();
  std::chrono::milliseconds timeout_;
  Expire on_expire_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool armed_ = false, quit_ = false;
  std::uint64_t generation_ = 0;  // counts arms, so a re-arm restarts the clock
  std::string what_;
  std::thread thread_;
};

}  // namespace dn::dist

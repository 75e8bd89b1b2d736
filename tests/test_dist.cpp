// src/dist/ without mpirun: the single-process communicator and the watchdog that ends
// a job whose collective waits too long (tests/test_mpi.cpp runs the real thing).
#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "dist/communicator.hpp"
#include "dist/watchdog.hpp"

namespace dn::dist {
namespace {

using namespace std::chrono_literals;

TEST(Local, IsOneProcessWhoseCollectivesChangeNothing) {
  Communicator& c = local();
  EXPECT_EQ(c.rank(), 0);
  EXPECT_EQ(c.size(), 1);
  float values[3] = {1.5f, -2.0f, 3.0f};
  c.allreduce_sum(values, 3);
  c.broadcast(values, 3);
  EXPECT_EQ(values[0], 1.5f);
  EXPECT_EQ(values[1], -2.0f);
  EXPECT_EQ(c.gather("{\"a\":1}"), std::vector<std::string>{"{\"a\":1}"});
}

TEST(Local, IsTheWorldOfAProgramNotStartedByMpirun) { EXPECT_EQ(&world(), &local()); }

TEST(Watchdog, NamesTheCallThatOutlivedItsTimeout) {
  std::atomic<int> fired{0};
  std::string what;
  Watchdog dog(50ms, [&](const std::string& w, double seconds) {
    what = w;
    EXPECT_NEAR(seconds, 0.05, 1e-9);
    ++fired;
  });
  dog.arm("allreduce");
  for (int i = 0; i < 200 && !fired; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(what, "allreduce");
}

TEST(Watchdog, StaysQuietForCallsThatFinishInTime) {
  std::atomic<int> fired{0};
  Watchdog dog(200ms, [&](const std::string&, double) { ++fired; });
  for (int i = 0; i < 5; ++i) {  // re-arming restarts the clock: 5 x 60 ms outlasts one timeout
    dog.arm("broadcast");
    std::this_thread::sleep_for(60ms);
    dog.disarm();
  }
  std::this_thread::sleep_for(250ms);
  EXPECT_EQ(fired, 0);
}

}  // namespace
}  // namespace dn::dist

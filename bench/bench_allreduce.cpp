// The cost of data-parallel training's one exchange per step, without the training:
// rank 0's time for an allreduce of the seed model's gradient buffer (3,281 floats,
// 13 KB) and classifier-large's (468,684 floats, 1.9 MB), each call started right
// after a barrier so that no rank waits for a slower one. Prints min and median.
//
//   mpirun -np 2 build/bench/bench_allreduce [ITERATIONS]
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "dist/communicator.hpp"

int main(int argc, char** argv) {
  const dn::dist::Session mpi(argc, argv);
  dn::dist::Communicator& world = dn::dist::world();
  const int iterations = argc > 1 ? std::max(1, std::atoi(argv[1])) : 200;
  for (const auto& [name, floats] : {std::pair<std::string, std::size_t>{"seed", 3281},
                                     std::pair<std::string, std::size_t>{"classifier-large", 468684}}) {
    std::vector<float> buffer(floats, 1.0f);
    std::vector<double> us;
    for (int i = 0; i < iterations + 10; ++i) {  // the first 10 warm up the transport
      world.barrier();
      const auto start = std::chrono::steady_clock::now();
      world.allreduce_sum(buffer.data(), buffer.size());
      const double t = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
      if (i >= 10) us.push_back(t);
    }
    std::sort(us.begin(), us.end());
    if (world.rank() == 0)
      fmt::print("{} ranks, {} gradient ({} bytes): allreduce min {:.1f} us, median {:.1f} us\n", world.size(), name,
                 4 * floats, us.front(), us[us.size() / 2]);
  }
}

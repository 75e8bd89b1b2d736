#pragma once
// A small, fast, seedable generator (xoshiro256**, seeded by splitmix64).
// Its output is fixed by the seed on every platform, unlike std::normal_distribution,
// so noise and initial weights are reproducible. Parallel code derives one stream
// per item (Rng(seed, item)) so results do not depend on the thread count.
#include <array>
#include <cstdint>

namespace dn {

class Rng {
 public:
  explicit Rng(std::uint64_t seed, std::uint64_t stream = 0);
  std::uint64_t next_u64();
  double uniform();                          // [0, 1)
  double uniform(double lo, double hi);      // [lo, hi)
  double normal();                           // N(0, 1), Box-Muller
  std::uint64_t below(std::uint64_t n);      // [0, n), unbiased
  std::uint64_t poisson(double mean);

  // The whole state, to save a generator mid-stream and carry on later exactly
  // where it was (a training checkpoint): the four words, the spare normal's flag
  // and its bits.
  std::array<std::uint64_t, 6> state() const;
  void set_state(const std::array<std::uint64_t, 6>& state);

 private:
  std::uint64_t s_[4];
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace dn

#pragma once
// The machine's multiply-add peak on the SIMD target in use, measured.

namespace dn::bench {

// Float multiply-adds per second that `threads` threads reach at once, each running
// independent chains of fused multiply-adds on the target's widest vectors (the best
// of three short passes).
double multiply_add_peak(int threads);

}  // namespace dn::bench

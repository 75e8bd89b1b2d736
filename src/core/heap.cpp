#include "core/heap.hpp"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace dn {

bool keep_freed_memory() {
#if defined(__GLIBC__)
  // Above 1 GiB an allocation still gets its own mapping (a dataset that large is read
  // once); below, blocks come from the heap, and the heap's top is trimmed only past 1 GiB
  // free. Fixed thresholds also end glibc's adaptive ones, which trim between steps.
  constexpr int kOneGiB = 1 << 30;
  return mallopt(M_MMAP_THRESHOLD, kOneGiB) == 1 && mallopt(M_TRIM_THRESHOLD, kOneGiB) == 1;
#else
  return false;
#endif
}

}  // namespace dn

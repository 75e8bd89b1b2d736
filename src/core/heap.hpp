#pragma once
// How the process's heap treats freed memory (glibc's malloc; elsewhere a no-op).

namespace dn {

// Keeps freed memory in the process for the next allocation instead of handing it back
// to the kernel. Training frees and allocates the same large tensors over and over;
// glibc's defaults return them (munmap, trimming the heap's top) and the next step
// faults them in again page by page, zeroed by the kernel: 4-7% of a classifier's or
// U-Net's training epoch in `denoise` on a virtual machine where a page fault costs
// about 12 us. The price: the process keeps its peak memory until it exits. For
// programs (denoise, the benchmarks) to call once, at start; a library leaves its
// host's heap alone. Returns whether the allocator took it.
bool keep_freed_memory();

}  // namespace dn

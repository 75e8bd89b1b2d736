#pragma once
// Scratch memory a layer keeps between calls. It grows to the largest request and
// is then reused, so steady-state training steps allocate nothing.
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>
#include <vector>

namespace dn {

class Workspace {
 public:
  Workspace() = default;
  // A copy starts empty: scratch contents never outlive a call, so a copied layer
  // needs none of them.
  Workspace(const Workspace& /*other*/) {}
  Workspace& operator=(const Workspace& /*other*/) { return *this; }
  Workspace(Workspace&&) noexcept = default;
  Workspace& operator=(Workspace&&) noexcept = default;

  // At least n floats, 64-byte aligned; contents unspecified.
  float* floats(std::size_t n) { return shared_.floats(n); }

  // At least n floats for each of `threads` threads, each thread's own buffer (64-byte
  // aligned, contents unspecified); call outside the parallel region. A thread's buffer
  // starts at the same address whatever the call asks for, so the forward and backward
  // passes, which ask for different sizes, find its lines in the cache of the core that
  // used them last rather than pulling them across from another core's.
  float* const* per_thread(int threads, std::size_t n) {
    if (threads > static_cast<int>(own_.size())) {
      own_.resize(static_cast<std::size_t>(threads));
      starts_.resize(own_.size());
    }
    for (std::size_t t = 0; t < static_cast<std::size_t>(threads); ++t) starts_[t] = own_[t].floats(n);
    return starts_.data();
  }

 private:
  class Buffer {
   public:
    float* floats(std::size_t n) {
      if (n > capacity_) {
        const std::size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
        auto* p = static_cast<float*>(std::aligned_alloc(64, bytes));
        if (!p) throw std::bad_alloc();
        buf_.reset(p);
        capacity_ = bytes / sizeof(float);
      }
      return buf_.get();
    }

   private:
    struct Free {
      void operator()(float* p) const { std::free(p); }
    };
    std::unique_ptr<float[], Free> buf_;
    std::size_t capacity_ = 0;
  };
  Buffer shared_;
  std::vector<Buffer> own_;
  std::vector<float*> starts_;
};

}  // namespace dn

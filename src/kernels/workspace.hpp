#pragma once
// Scratch memory a layer keeps between calls. It grows to the largest request and
// is then reused, so steady-state training steps allocate nothing.
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>

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

}  // namespace dn

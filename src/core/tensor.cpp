#include "core/tensor.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

namespace dn {

std::string shape_str(const Shape& s) {
  std::string out = "(";
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += s[i] == kNone ? std::string("None") : std::to_string(s[i]);
  }
  if (s.size() == 1) out += ",";
  return out + ")";
}

std::size_t shape_size(const Shape& s) {
  std::size_t n = 1;
  for (int d : s) {
    if (d < 0) throw std::invalid_argument("negative dimension in shape " + shape_str(s));
    n *= static_cast<std::size_t>(d);
  }
  return n;
}

void Tensor::AlignedFree::operator()(float* p) const { std::free(p); }

Tensor::Tensor(Shape shape) : Tensor(std::move(shape), 0.0f) {}

Tensor::Tensor(Shape shape, float value) {
  resize(std::move(shape));
  fill(value);
}

Tensor::Tensor(const Tensor& other) { *this = other; }

Tensor& Tensor::operator=(const Tensor& other) {
  if (this == &other) return *this;
  // The size, not the shape's product: a default tensor has no shape and no data.
  reserve(other.size_);
  shape_ = other.shape_;
  size_ = other.size_;
  if (size_) std::memcpy(data_.get(), other.data_.get(), size_ * sizeof(float));
  return *this;
}

void Tensor::reserve(std::size_t n) {
  if (n <= capacity_) return;
  // Round up to whole cache lines so that aligned_alloc's size rule holds.
  std::size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
  auto* p = static_cast<float*>(std::aligned_alloc(64, bytes));
  if (!p) throw std::bad_alloc();
  data_.reset(p);
  capacity_ = bytes / sizeof(float);
}

void Tensor::resize(Shape shape) {
  const std::size_t n = shape_size(shape);
  reserve(n);
  shape_ = std::move(shape);
  size_ = n;
}

void Tensor::reshape(Shape shape) {
  if (shape_size(shape) != size_)
    throw std::invalid_argument("cannot reshape " + shape_str(shape_) + " to " + shape_str(shape));
  shape_ = std::move(shape);
}

void Tensor::fill(float value) { std::fill(data_.get(), data_.get() + size_, value); }

}  // namespace dn

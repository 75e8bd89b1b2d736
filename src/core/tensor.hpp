#pragma once
// A dense float32 tensor with 64-byte aligned storage.
//
// Layout: row-major, image batches are NHWC (batch, height, width, channels),
// the layout Keras uses and the one that let the prototypes run without reorders
// (DESIGN.md section 5). Per-sample shapes elsewhere are (H, W, C).
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace dn {

using Shape = std::vector<int>;

// Keras's None in a per-sample shape: an axis whose size is only known when a tensor
// arrives. A fully convolutional model is built with height and width free,
// model.build({kNone, kNone}), and its layers' output shapes carry kNone where the
// size follows from the input's. Tensors themselves never hold it.
inline constexpr int kNone = -1;

std::string shape_str(const Shape& s);     // "(28, 28, 1)"; kNone as "None"
std::size_t shape_size(const Shape& s);    // product of the dims (1 for rank 0)

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape);            // zero-filled
  Tensor(Shape shape, float value);
  Tensor(const Tensor& other);
  Tensor& operator=(const Tensor& other);
  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(Tensor&&) noexcept = default;

  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int dim(int i) const { return shape_[static_cast<std::size_t>(i < 0 ? i + rank() : i)]; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  float& operator[](std::size_t i) { return data_[i]; }
  float operator[](std::size_t i) const { return data_[i]; }

  // Change the shape; storage is reused when large enough. Contents are
  // unspecified afterwards unless the size is unchanged.
  void resize(Shape shape);
  // Same data, new shape of equal size.
  void reshape(Shape shape);
  void fill(float value);
  void zero() { fill(0.0f); }

 private:
  void reserve(std::size_t n);  // storage for at least n floats; contents lost when it grows

  struct AlignedFree {
    void operator()(float* p) const;
  };
  Shape shape_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
  std::unique_ptr<float[], AlignedFree> data_;
};

}  // namespace dn

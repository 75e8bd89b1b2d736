#pragma once
// One-channel images of any size through a fully convolutional model, in overlapping
// tiles so that memory stays bounded however large the image.
//
// The image is padded at the bottom and right (repeating its last row and column) to at
// least 32 pixels a side and a multiple of the model's size multiple m (2 for the seed model: one pooling), and cut into
// windows of at most (tile + 2 overlap) pixels a side whose origins are multiples of m, so
// that every window's pooling grid lines up with the whole image's. Each window keeps
// only its core of tile x tile pixels; a window at the image's edge touches the edge, where
// the model sees the same "same" zero padding as on the whole image. Where the overlap
// covers the model's receptive field, the result is the whole image's inference; by
// default it is the field's radius, worked out from the model's layers.
#include <functional>
#include <optional>

#include "core/tensor.hpp"
#include "nn/layer.hpp"

namespace dn {

struct TileOptions {
  int tile = 512;                // core side in pixels, rounded up to the size multiple
  std::optional<int> overlap;    // context on each side, rounded up to the size multiple; unset: receptive_radius
};

// How far (in input pixels) an output pixel can see from its own position: the sum over
// the layers of each kernel's reach times the stride product before it ("same" kernels
// reach (k-1)/2 rounded up, pools and other "valid" kernels k-1, upsampling s-1). Read
// from the model's config; nested layers (containers, skip branches) count as one chain,
// which can only over-estimate. 7 for the seed model.
int receptive_radius(Layer& model);

// The smallest m in 1, 2, 4, ..., 32 such that the model maps an input of 33m x 33m pixels
// to an output of the same size (one channel in, one out). DataError for a model that
// takes no such input or does not keep the size.
int model_size_multiple(Layer& model);

// Reads `count` pixels of row y starting at column x0 (all inside the image), as floats.
using RowReader = std::function<void(int y, int x0, int count, float* out)>;
// Receives `count` output pixels of row y starting at column x0 (inside the image). Called
// from several threads at once, for disjoint pixels.
using RowWriter = std::function<void(int y, int x0, int count, const float* values)>;

// Runs model over the height x width image that read gives, tile by tile (windows spread over
// the OpenMP threads, each thread with its own copy of the model), handing every output pixel
// to write exactly once. Memory: one window's activations per thread.
// ArgumentError for tile < 1 or overlap < 0.
void predict_tiled(Layer& model, int height, int width, const TileOptions& options, const RowReader& read,
                   const RowWriter& write);

// An image [H, W] in, its denoised [H, W] out, through predict_tiled.
Tensor predict_image_tiled(Layer& model, const Tensor& image, const TileOptions& options);
// The same in one window: pad to the size multiple, predict, crop. The oracle for the tiles.
Tensor predict_image_whole(Layer& model, const Tensor& image);

}  // namespace dn

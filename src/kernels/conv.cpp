#include "kernels/conv.hpp"

#include <omp.h>

#include <algorithm>
#include <stdexcept>

#include <fmt/core.h>

#include "core/error.hpp"
#include "kernels/gemm.hpp"
#include "kernels/simd/simd.hpp"

namespace dn {

Padding parse_padding(const std::string& name) {
  if (name == "same") return Padding::same;
  if (name == "valid") return Padding::valid;
  throw UsageError(fmt::format("unknown padding '{}' (valid: same, valid)", name));
}

std::string padding_name(Padding padding) { return padding == Padding::same ? "same" : "valid"; }

namespace {

struct Axis {
  int out;
  int pad_before;
};

Axis conv_axis(int in, int k, int stride, Padding padding) {
  if (padding == Padding::valid) return {in >= k ? (in - k) / stride + 1 : 0, 0};
  const int out = (in + stride - 1) / stride;
  const int total = std::max((out - 1) * stride + k - in, 0);
  return {out, total / 2};
}

}  // namespace

ConvGeometry conv_geometry(int N, int H, int W, int C, int O, int KH, int KW, int stride_h, int stride_w,
                           Padding padding) {
  if (N < 0 || H < 1 || W < 1 || C < 1 || O < 1 || KH < 1 || KW < 1 || stride_h < 1 || stride_w < 1)
    throw UsageError(fmt::format("convolution: invalid sizes (input {}x{}x{}, {} filters, kernel {}x{}, strides {}x{})",
                                 H, W, C, O, KH, KW, stride_h, stride_w));
  const Axis rows = conv_axis(H, KH, stride_h, padding);
  const Axis cols = conv_axis(W, KW, stride_w, padding);
  if (rows.out < 1 || cols.out < 1)
    throw UsageError(fmt::format("convolution: kernel {}x{} does not fit input {}x{} with padding {}", KH, KW, H, W,
                                 padding_name(padding)));
  ConvGeometry g;
  g.N = N, g.H = H, g.W = W, g.C = C;
  g.OH = rows.out, g.OW = cols.out, g.O = O;
  g.KH = KH, g.KW = KW;
  g.stride_h = stride_h, g.stride_w = stride_w;
  g.pad_top = rows.pad_before, g.pad_left = cols.pad_before;
  return g;
}

ConvGeometry conv_transpose_geometry(int N, int H, int W, int C, int filters, int KH, int KW, int stride_h,
                                     int stride_w, Padding padding) {
  auto out = [padding](int in, int k, int s) {
    return padding == Padding::same ? in * s : in * s + std::max(k - s, 0);
  };
  ConvGeometry g = conv_geometry(N, out(H, KH, stride_h), out(W, KW, stride_w), filters, C, KH, KW, stride_h,
                                 stride_w, padding);
  // Keras's output-size rule is the inverse of the conv rule for every size.
  if (g.OH != H || g.OW != W) throw std::logic_error("conv_transpose_geometry: sizes do not invert");
  return g;
}

namespace kernels {

namespace {

constexpr std::size_t kChunkBytes = 256 * 1024;  // an im2col block that stays in L2
// Backward-weights adds a partial gradient per chunk: with one-sample chunks of a
// 64-channel 3x3 layer, summing them cost a fifth of the GEMMs (classifier-large's
// backward 6% faster with this budget).
constexpr std::size_t kWeightChunkBytes = 1024 * 1024;
constexpr std::size_t kMinChunkRows = 256;       // smaller GEMMs waste their call overhead
constexpr int kMinChunks = 8;                    // enough chunks to keep a few threads busy
constexpr int kWeightPieceRows = 256;            // rows of a pointwise weight gradient per GEMM

// Output rows are cut into chunks of a few whole samples or, for large images, into
// parts of one sample. Chunks of different groups never share a sample, so the
// backward-data scatter can run groups in parallel without races.
struct Chunks {
  int samples = 1;  // samples per group
  int parts = 1;    // chunks per group (> 1 only when samples == 1)
  int groups = 0;
  std::size_t max_rows = 0;
  int count() const { return groups * parts; }
};

struct Rows {
  std::size_t begin, end;
  int size() const { return static_cast<int>(end - begin); }
};

bool pointwise(const ConvGeometry& g) {  // im2col would copy x unchanged
  return g.KH == 1 && g.KW == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_top == 0 && g.pad_left == 0;
}

Chunks plan(const ConvGeometry& g, std::size_t chunk_bytes = kChunkBytes) {
  const std::size_t per_sample = static_cast<std::size_t>(g.OH) * g.OW;
  const std::size_t target = std::max<std::size_t>(1, chunk_bytes / (sizeof(float) * g.patch()));
  const std::size_t n = static_cast<std::size_t>(g.N);
  Chunks c;
  if (per_sample > target) {
    c.parts = static_cast<int>((per_sample + target - 1) / target);
    c.max_rows = (per_sample + c.parts - 1) / c.parts;
  } else {
    // As many samples as fit the cache budget, but no more than leaves kMinChunks
    // chunks, unless that would make chunks shorter than kMinChunkRows.
    const std::size_t spread = std::max<std::size_t>(n / kMinChunks, (kMinChunkRows + per_sample - 1) / per_sample);
    const std::size_t s =
        std::clamp<std::size_t>(std::min(target / per_sample, spread), 1, std::max<std::size_t>(n, 1));
    c.samples = static_cast<int>(s);
    c.max_rows = s * per_sample;
  }
  c.groups = static_cast<int>((n + c.samples - 1) / c.samples);
  return c;
}

// The same with one sample per group: a library GEMM's sums may round differently with
// the number of rows it is given (OpenBLAS's kernels for some CPUs do: its Haswell kernel
// on an AMD EPYC, not its SkylakeX one), and a sample's result must not depend on the
// batch it came in.
Chunks plan_per_sample(const ConvGeometry& g) {
  Chunks c = plan(g);
  if (c.parts == 1 && c.samples > 1) {
    c.samples = 1;
    c.max_rows = static_cast<std::size_t>(g.OH) * g.OW;
    c.groups = g.N;
  }
  return c;
}

Rows chunk_rows(const ConvGeometry& g, const Chunks& c, int chunk) {
  const std::size_t per_sample = static_cast<std::size_t>(g.OH) * g.OW;
  const std::size_t group = static_cast<std::size_t>(chunk / c.parts);
  if (c.parts == 1) {
    const std::size_t n0 = group * c.samples;
    const std::size_t n1 = std::min<std::size_t>(g.N, n0 + c.samples);
    return {n0 * per_sample, n1 * per_sample};
  }
  const std::size_t part = static_cast<std::size_t>(chunk % c.parts);
  return {group * per_sample + part * per_sample / c.parts, group * per_sample + (part + 1) * per_sample / c.parts};
}

// For output row r, calls fn(kh, kw_begin, kw_end, offset) for every kernel row kh that
// lands inside the input: taps kw in [kw_begin, kw_end) fall inside too and are
// contiguous in memory from x[offset] (KW neighbours are neighbouring pixels).
template <class Fn>
void for_each_tap_run(const ConvGeometry& g, std::size_t r, Fn&& fn) {
  const std::size_t per_sample = static_cast<std::size_t>(g.OH) * g.OW;
  const std::size_t n = r / per_sample;
  const int p = static_cast<int>(r % per_sample);
  const int oh = p / g.OW, ow = p % g.OW;
  const int iw0 = ow * g.stride_w - g.pad_left;
  const int kw_begin = std::max(0, -iw0), kw_end = std::min(g.KW, g.W - iw0);
  if (kw_begin >= kw_end) return;
  for (int kh = 0; kh < g.KH; ++kh) {
    const int ih = oh * g.stride_h - g.pad_top + kh;
    if (ih < 0 || ih >= g.H) continue;
    fn(kh, kw_begin, kw_end, ((n * g.H + ih) * g.W + iw0 + kw_begin) * g.C);
  }
}

// col[r - rows.begin] = the patch of x under output row r, in (kh, kw, c) order, with
// zeros for taps in the padding (written once: only the gaps between copied runs).
void im2col(const ConvGeometry& g, const float* x, Rows rows, float* col) {
  const std::size_t K = g.patch();
  const std::size_t kernel_row = static_cast<std::size_t>(g.KW) * g.C;
  for (std::size_t r = rows.begin; r < rows.end; ++r) {
    float* dst = col + (r - rows.begin) * K;
    float* filled = dst;  // everything before this is written
    for_each_tap_run(g, r, [&](int kh, int kw0, int kw1, std::size_t src) {
      float* run = dst + kh * kernel_row + static_cast<std::size_t>(kw0) * g.C;
      const std::size_t len = static_cast<std::size_t>(kw1 - kw0) * g.C;
      std::fill(filled, run, 0.0f);
      std::copy(x + src, x + src + len, run);
      filled = run + len;
    });
    std::fill(filled, dst + K, 0.0f);
  }
}

// dx += the transpose of im2col applied to col.
void col2im_add(const ConvGeometry& g, const float* col, Rows rows, float* dx) {
  const std::size_t K = g.patch();
  for (std::size_t r = rows.begin; r < rows.end; ++r) {
    const float* src = col + (r - rows.begin) * K;
    for_each_tap_run(g, r, [&](int kh, int kw0, int kw1, std::size_t dst) {
      const float* s = src + (static_cast<std::size_t>(kh) * g.KW + kw0) * g.C;
      float* d = dx + dst;
      const std::size_t len = static_cast<std::size_t>(kw1 - kw0) * g.C;
      for (std::size_t i = 0; i < len; ++i) d[i] += s[i];
    });
  }
}

float* thread_slice(float* base, std::size_t floats) { return base + omp_get_thread_num() * floats; }

}  // namespace

namespace portable {

void conv2d_forward(const ConvGeometry& g, const float* x, const float* w, const float* bias, Activation act,
                    float* y, Workspace& ws) {
  const Chunks c = plan_per_sample(g);
  const int K = static_cast<int>(g.patch());
  const bool direct = pointwise(g);
  const std::size_t slice = direct ? 0 : c.max_rows * K;
  float* cols = ws.floats(slice * omp_get_max_threads());
#pragma omp parallel for schedule(static) if (c.count() > 1)
  for (int i = 0; i < c.count(); ++i) {
    const Rows rows = chunk_rows(g, c, i);
    const float* col = x + rows.begin * K;
    if (!direct) {
      float* buf = thread_slice(cols, slice);
      im2col(g, x, rows, buf);
      col = buf;
    }
    float* out = y + rows.begin * g.O;
    sgemm(false, false, rows.size(), g.O, K, col, K, w, g.O, 0.0f, out, g.O);
    bias_activation(out, rows.size(), g.O, bias, act);
  }
}

void conv2d_backward_data(const ConvGeometry& g, const float* dy, const float* w, const float* bias,
                          Activation act, float* dx, Workspace& ws) {
  const Chunks c = plan_per_sample(g);
  const int K = static_cast<int>(g.patch());
  const bool direct = pointwise(g);
  const std::size_t slice = direct ? 0 : c.max_rows * K;
  const std::size_t sample_size = static_cast<std::size_t>(g.H) * g.W * g.C;
  float* cols = ws.floats(slice * omp_get_max_threads());
#pragma omp parallel for schedule(static) if (c.groups > 1)
  for (int group = 0; group < c.groups; ++group) {
    const std::size_t n0 = static_cast<std::size_t>(group) * c.samples;
    const std::size_t n1 = std::min<std::size_t>(g.N, n0 + c.samples);
    float* dx_group = dx + n0 * sample_size;
    if (!direct) std::fill(dx_group, dx + n1 * sample_size, 0.0f);
    for (int part = 0; part < c.parts; ++part) {
      const Rows rows = chunk_rows(g, c, group * c.parts + part);
      const float* dy_rows = dy + rows.begin * g.O;
      if (direct) {
        sgemm(false, true, rows.size(), K, g.O, dy_rows, g.O, w, g.O, 0.0f, dx + rows.begin * K, K);
      } else {
        float* dcol = thread_slice(cols, slice);
        sgemm(false, true, rows.size(), K, g.O, dy_rows, g.O, w, g.O, 0.0f, dcol, K);
        col2im_add(g, dcol, rows, dx);
      }
    }
    bias_activation(dx_group, (n1 - n0) * g.H * g.W, g.C, bias, act);
  }
}

void conv2d_backward_weights(const ConvGeometry& g, const float* x, const float* dy, float* dw, float* dbias,
                             Workspace& ws) {
  const Chunks c = plan(g, kWeightChunkBytes);
  const int K = static_cast<int>(g.patch());
  const bool direct = pointwise(g);
  const std::size_t slice = direct ? 0 : c.max_rows * K;
  const std::size_t weights = static_cast<std::size_t>(K) * g.O;
  const std::size_t partial_size = weights + (dbias ? g.O : 0);
  float* cols = ws.floats(slice * omp_get_max_threads() + partial_size * c.count());
  float* partials = cols + slice * omp_get_max_threads();
  // Pointwise (Dense): each chunk's GEMM also cut into pieces of rows of dw, so that a
  // batch of one chunk still spreads over the threads; a piece's values are the GEMM's.
  const int pieces = direct ? (K + kWeightPieceRows - 1) / kWeightPieceRows : 1;
  const int items = c.count() * pieces;
#pragma omp parallel if (items > 1)
  {
    // Each chunk's contribution goes to its own slot; slots are then summed in chunk order.
#pragma omp for schedule(static)
    for (int item = 0; item < items; ++item) {
      const int i = item / pieces, piece = item % pieces;
      const int k0 = K * piece / pieces, k1 = K * (piece + 1) / pieces;
      const Rows rows = chunk_rows(g, c, i);
      const float* col = x + rows.begin * K;
      if (!direct) {
        float* buf = thread_slice(cols, slice);
        im2col(g, x, rows, buf);
        col = buf;
      }
      float* partial = partials + i * partial_size;
      const float* dy_rows = dy + rows.begin * g.O;
      sgemm(true, false, k1 - k0, g.O, rows.size(), col + k0, K, dy_rows, g.O, 0.0f,
            partial + static_cast<std::size_t>(k0) * g.O, g.O);
      if (dbias && piece == 0) {
        std::fill(partial + weights, partial + partial_size, 0.0f);
        add_channel_sums(dy_rows, rows.size(), g.O, partial + weights);
      }
    }
#pragma omp for schedule(static)
    for (std::size_t e = 0; e < partial_size; ++e) {
      float sum = 0.0f;
      for (int i = 0; i < c.count(); ++i) sum += partials[i * partial_size + e];
      if (e < weights)
        dw[e] += sum;
      else
        dbias[e - weights] += sum;
    }
  }
}

}  // namespace portable

void conv2d_forward(const ConvGeometry& g, const float* x, const float* w, const float* bias, Activation act,
                    float* y, Workspace& ws) {
  if (simd::forward_fits(g))
    simd::conv2d_forward(g, x, w, bias, act, y, ws);
  else if (simd::wide_forward_fits(g))
    simd::conv2d_forward_wide(g, x, w, bias, act, y, ws);
  else
    portable::conv2d_forward(g, x, w, bias, act, y, ws);
}

bool conv2d_maxpool_fits(const ConvGeometry& g, Activation act) {
  return simd::forward_maxpool_fits(g, act);
}

void conv2d_forward_maxpool(const ConvGeometry& g, const float* x, const float* w, const float* bias, Activation act,
                            float* y, std::uint16_t* where, Workspace& ws) {
  if (!conv2d_maxpool_fits(g, act)) throw std::logic_error("conv2d_forward_maxpool: shape or CPU not covered");
  simd::conv2d_forward_maxpool(g, x, w, bias, act, y, where, ws);
}

void conv2d_backward_data(const ConvGeometry& g, const float* dy, const float* w, const float* bias,
                          Activation act, float* dx, Workspace& ws) {
  if (simd::backward_data_fits(g))
    simd::conv2d_backward_data(g, dy, w, bias, act, dx, ws);
  else
    portable::conv2d_backward_data(g, dy, w, bias, act, dx, ws);
}

void conv2d_backward_weights(const ConvGeometry& g, const float* x, const float* dy, float* dw, float* dbias,
                             Workspace& ws) {
  if (simd::backward_weights_fits(g))
    simd::conv2d_backward_weights(g, x, dy, dw, dbias, ws);
  else
    portable::conv2d_backward_weights(g, x, dy, dw, dbias, ws);
}

void conv_layer_backward(const ConvGeometry& g, const float* x, const float* y, const float* dy, Activation act,
                         const float* w, float* dx, bool relu_dx, float* dw, float* dbias, float* dz_scratch,
                         Workspace& ws) {
  if (simd::conv_layer_backward_fits(g, dx != nullptr))
    return simd::conv_layer_backward(g, x, y, dy, act, w, dx, relu_dx, dw, dbias, ws);
  const float* dz = dy;
  if (act != Activation::linear) {
    activation_backward(act, y, dy, dz_scratch, g.rows(), g.O);
    dz = dz_scratch;
  }
  if (dx) conv2d_backward_data(g, dz, w, nullptr, Activation::linear, dx, ws);
  if (dx && relu_dx) activation_backward(Activation::relu, x, dx, dx, g.input_size() / g.C, g.C);
  conv2d_backward_weights(g, x, dz, dw, dbias, ws);
}

bool conv_maxpool_layer_backward_fits(const ConvGeometry& g, bool with_dx) {
  return simd::conv_maxpool_layer_backward_fits(g, with_dx);
}

void conv_maxpool_layer_backward(const ConvGeometry& g, const float* x, const std::uint16_t* where,
                                 const float* pooled_dy, const float* relu_y, const float* w, float* dx, bool relu_dx,
                                 float* dw, float* dbias, Workspace& ws) {
  if (!conv_maxpool_layer_backward_fits(g, dx != nullptr))
    throw std::logic_error("conv_maxpool_layer_backward: shape or CPU not covered");
  simd::conv_maxpool_layer_backward(g, x, where, pooled_dy, relu_y, w, dx, relu_dx, dw, dbias, ws);
}

void conv_transpose_layer_backward(const ConvGeometry& g, const float* x, const float* y, const float* dy,
                                   Activation act, const float* w, float* dx, bool relu_dx, float* dw,
                                   float* dbias, float* dz_scratch, Workspace& ws) {
  if (simd::conv_transpose_layer_backward_fits(g, dx != nullptr))
    return simd::conv_transpose_layer_backward(g, x, y, dy, act, w, dx, relu_dx, dw, dbias, ws);
  const std::size_t pixels = g.input_size() / g.C;
  const float* dz = dy;
  if (act != Activation::linear) {
    activation_backward(act, y, dy, dz_scratch, pixels, g.C);
    dz = dz_scratch;
  }
  if (dx) conv2d_forward(g, dz, w, nullptr, Activation::linear, dx, ws);
  if (dx && relu_dx) activation_backward(Activation::relu, x, dx, dx, g.output_size() / g.O, g.O);
  conv2d_backward_weights(g, dz, x, dw, nullptr, ws);
  add_channel_sums(dz, pixels, g.C, dbias);
}

}  // namespace kernels
}  // namespace dn

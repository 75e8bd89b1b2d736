#include "kernels/direct.hpp"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

// Every function below is compiled for AVX-512, whatever the build's -march.
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,fma")

namespace dn::kernels::direct {

namespace {

using Index = std::size_t;

constexpr int kLanes = 16;
constexpr int kMaxBlock = 14;                 // output pixels accumulated at once (of 32 vector registers)
constexpr int kMaxReduceBlock = 16;           // ... when each pixel's vector is summed across its lanes
constexpr int kMaxTaps = 64;                  // kernel taps (KH * KW) the tap lists hold
constexpr int kMaxWeightAcc = 24;             // weight-gradient vectors accumulated per pass over the pixels
constexpr int kWeightChunks = 8;              // partial weight gradients, cut from the geometry alone
constexpr int kBandRows = 4;                  // output rows per pass over the taps, whose inputs stay in L1
constexpr int kMinVectorInputs = 4;           // below this many dx channels, backward-data sums over output lanes
constexpr Index kParallelMinOutputs = 16384;  // smaller pooling runs faster than threads start

__mmask16 first_lanes(int n) { return static_cast<__mmask16>((1u << n) - 1u); }

Index round_up(Index floats) { return (floats + kLanes - 1) / kLanes * kLanes; }  // whole cache lines

bool pointwise(const ConvGeometry& g) {  // the GEMM runs straight on x there: nothing to gain
  return g.KH == 1 && g.KW == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_top == 0 && g.pad_left == 0;
}

int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Channel stride of the padded copies that the block kernels read: a whole vector, so
// that neighbouring pixels sit a compile-time distance apart; 1 for a single channel.
int padded_channels(int channels) { return channels == 1 ? 1 : kLanes; }

// Kernel<p>::run for a run-time p: a table of the instantiations, built at compile time.
template <template <int> class Kernel, class Args, int... P>
constexpr auto make_table(std::integer_sequence<int, P...>) {
  return std::array<void (*)(const Args&), sizeof...(P)>{&Kernel<P + 1>::run...};
}
template <template <int> class Kernel, int Max, class Args>
void dispatch(int p, const Args& args) {  // Kernel<p>::run(args), 1 <= p <= Max
  static constexpr auto table = make_table<Kernel, Args>(std::make_integer_sequence<int, Max>{});
  table[p - 1](args);
}

// Cuts n pixels into the fewest blocks of at most max, of near-equal sizes.
template <class Fn>
void for_each_block(int n, int max, Fn&& fn) {
  const int blocks = (n + max - 1) / max;
  for (int b = 0, first = 0; b < blocks; ++b) {
    const int size = (n - first) / (blocks - b);
    fn(first, size);
    first += size;
  }
}

// One sample x [H,W,C] placed at (top, left) inside zeros of [Hp,Wp,CS], CS >= C
// floats per pixel with the lanes past C zero too; what lies beyond the padded size is
// left out (a valid convolution never reads it).
void pad_copy(const float* x, int H, int W, int C, int top, int left, float* xp, int Hp, int Wp, int CS) {
  const Index row = Index(Wp) * CS;
  const int rows = std::clamp(Hp - top, 0, H), cols = std::clamp(Wp - left, 0, W);
  std::memset(xp, 0, std::min<Index>(top, Hp) * row * sizeof(float));
  for (int ih = 0; ih < rows; ++ih) {
    const float* src = x + Index(ih) * W * C;
    float* dst = xp + (ih + top) * row;
    std::memset(dst, 0, Index(left) * CS * sizeof(float));
    dst += Index(left) * CS;
    if (CS == C) {
      std::memcpy(dst, src, Index(cols) * C * sizeof(float));
    } else {
      const __mmask16 m = first_lanes(C);
      for (int iw = 0; iw < cols; ++iw) _mm512_storeu_ps(dst + iw * CS, _mm512_maskz_loadu_ps(m, src + iw * C));
    }
    std::memset(dst + Index(cols) * CS, 0, Index(Wp - left - cols) * CS * sizeof(float));
  }
  std::memset(xp + (top + rows) * row, 0, (Hp - top - rows) * row * sizeof(float));
}

// Weights [KH,KW,C,O] as vectors over o, one per (kh, kw, c), unused lanes zero.
void pack_over_outputs(const ConvGeometry& g, const float* w, float* packed) {
  const __mmask16 m = first_lanes(g.O);
  for (Index t = 0; t < g.patch(); ++t) _mm512_store_ps(packed + t * kLanes, _mm512_maskz_loadu_ps(m, w + t * g.O));
}

// Weights as vectors over c, one per (kh, kw, o), unused lanes zero.
void pack_over_inputs(const ConvGeometry& g, const float* w, float* packed) {
  std::memset(packed, 0, Index(g.KH) * g.KW * g.O * kLanes * sizeof(float));
  for (int t = 0; t < g.KH * g.KW; ++t)
    for (int c = 0; c < g.C; ++c)
      for (int o = 0; o < g.O; ++o) packed[(Index(t) * g.O + o) * kLanes + c] = w[(Index(t) * g.C + c) * g.O + o];
}

__m512 load_bias(const float* bias, int n) {
  return bias ? _mm512_maskz_loadu_ps(first_lanes(n), bias) : _mm512_setzero_ps();
}

// max(0, v), and v itself when v is NaN, so that a diverging run stays visible. (The
// zero-masked form only keeps GCC 12 from a false warning about _mm512_max_ps.)
__m512 relu(__m512 v) { return _mm512_maskz_max_ps(0xFFFF, _mm512_setzero_ps(), v); }

template <int P>
void store_pixels(const __m512 (&acc)[P], float* y, Index step, __mmask16 m, bool with_relu) {
#pragma GCC unroll 32
  for (int i = 0; i < P; ++i) _mm512_mask_storeu_ps(y + i * step, m, with_relu ? relu(acc[i]) : acc[i]);
}

// p itself, opaque to the optimiser: GCC would otherwise carry inputs that neighbouring
// pixels share from one tap to the next in registers, paying a shuffle per use where a
// broadcast straight from memory is free.
template <class T>
T* opaque(T* p) {
  asm("" : "+r"(p));
  return p;
}

// The activations that are not fused into the stores run over the finished sample.
bool fused(Activation act) { return act == Activation::linear || act == Activation::relu; }

// Scratch from the workspace: a shared part, then one slice per thread.
struct Scratch {
  float* shared;
  float* base;
  Index slice;
  float* mine() const { return base + omp_get_thread_num() * slice; }
};
Scratch scratch(Workspace& ws, Index shared, Index per_thread) {
  shared = round_up(shared);
  per_thread = round_up(per_thread);
  float* p = ws.floats(shared + per_thread * omp_get_max_threads());
  return {p, p + shared, per_thread};
}

// --- forward: vectors over output channels ---

// A column of blocks: the same output columns in every output row of a sample.
struct ForwardBlock {
  const float* x;  // padded input under the first block's first pixel, tap (0, 0)
  Index row;       // floats between padded rows
  Index x_step;    // floats between the inputs of one block and the next (stride_h rows)
  int CS;          // floats per padded pixel
  int C, KH, KW;
  const float* w;  // pack_over_outputs
  __m512 bias;
  float* y;      // the first block's first output pixel
  Index y_step;  // floats between output rows
  int rows, O;
  bool relu;
};

// STEP: floats between the inputs of neighbouring output pixels (CS * stride_w).
template <int STEP>
struct Forward {
  template <int P>
  struct Kernel {
    static void run(const ForwardBlock& b) {
      const __mmask16 m = first_lanes(b.O);
      for (int row = 0; row < b.rows; ++row) {
        __m512 acc[P];
#pragma GCC unroll 32
        for (int i = 0; i < P; ++i) acc[i] = b.bias;
        const float* w = b.w;
        for (int kh = 0; kh < b.KH; ++kh)
          for (int kw = 0; kw < b.KW; ++kw) {
            const float* x = b.x + row * b.x_step + kh * b.row + Index(kw) * b.CS;
            for (int c = 0; c < b.C; ++c, w += kLanes) {
              const __m512 wv = _mm512_load_ps(w);
              const float* xc = opaque(x + c);
#pragma GCC unroll 32
              for (int i = 0; i < P; ++i) acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(xc[i * STEP]), wv, acc[i]);
            }
          }
        store_pixels(acc, b.y + row * b.y_step, b.O, m, b.relu);
      }
    }
  };
};

// --- backward-data: vectors over input channels, or summed across output lanes ---

// dy of one sample inside zeros, so that every tap of every dx pixel lands inside.
struct PaddedDy {
  int top, left, rows, cols;
  explicit PaddedDy(const ConvGeometry& g) {
    const int oh_lo = floor_div(g.pad_top - (g.KH - 1), g.stride_h);
    const int oh_hi = floor_div(g.H - 1 + g.pad_top, g.stride_h);
    const int ow_lo = floor_div(g.pad_left - (g.KW - 1), g.stride_w);
    const int ow_hi = floor_div(g.W - 1 + g.pad_left, g.stride_w);
    top = std::max(0, -oh_lo);
    left = std::max(0, -ow_lo);
    rows = top + std::max(g.OH, oh_hi + 1);
    cols = left + std::max(g.OW, ow_hi + 1);
  }
};

// A column of blocks: the same dx columns (one column phase) in the dx rows of one row
// phase; every row of a phase meets the same taps, one padded dy row further down.
struct DataBlock {
  const float* dy;              // padded dy (kLanes floats per pixel) at the first block's first pixel
  Index dy_step;                // floats between the dy of one block and the next
  const int* offsets;           // per tap: floats from there to the tap's dy pixel
  const float* const* weights;  // per tap: its packed weights
  int taps, O, C;
  __m512 bias;               // over dx channels (vector kernel)
  const float* bias_values;  // the same, as floats (reducing kernel)
  float* dx;                 // the first block's first dx pixel
  Index dx_step;             // floats between the blocks' dx rows
  Index step;                // floats between block pixels in dx
  int rows;
  bool relu;
};

// dx pixel = sum over taps and o of dy[o] * w[o] (vectors over c, pack_over_inputs).
template <int P>
struct DataKernel {
  static void run(const DataBlock& b) {
    const __mmask16 m = first_lanes(b.C);
    for (int row = 0; row < b.rows; ++row) {
      const float* dy = b.dy + row * b.dy_step;
      __m512 acc[P];
#pragma GCC unroll 32
      for (int i = 0; i < P; ++i) acc[i] = b.bias;
      for (int t = 0; t < b.taps; ++t) {
        const float* d = dy + b.offsets[t];
        const float* w = b.weights[t];
        for (int o = 0; o < b.O; ++o, w += kLanes) {
          const __m512 wv = _mm512_load_ps(w);
#pragma GCC unroll 32
          for (int i = 0; i < P; ++i) acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(d[i * kLanes + o]), wv, acc[i]);
        }
      }
      store_pixels(acc, b.dx + row * b.dx_step, b.step, m, b.relu);
    }
  }
};

// Lane i of the result = the sum of v[i]'s lanes, for 16 vectors: four rounds of
// adding neighbouring lanes, each round packing two vectors' sums into one.
__m512 sum_lanes16(__m512 (&v)[16]) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  for (int n = 16; n > 1; n /= 2)
#pragma GCC unroll 32
    for (int i = 0; i < n / 2; ++i)
      v[i] = _mm512_add_ps(_mm512_permutex2var_ps(v[2 * i], even, v[2 * i + 1]),
                           _mm512_permutex2var_ps(v[2 * i], odd, v[2 * i + 1]));
  return v[0];
}

// For few dx channels: per channel c, the vector over o of dy * w[.., c, o] summed over
// taps, then across its lanes (pack_over_outputs).
template <int P>
struct ReduceKernel {
  static void run(const DataBlock& b) {
    for (int row = 0; row < b.rows; ++row) {
      const float* dy = b.dy + row * b.dy_step;
      float* dx = b.dx + row * b.dx_step;
      for (int c = 0; c < b.C; ++c) {
        __m512 acc[kLanes];
#pragma GCC unroll 32
        for (int i = 0; i < kLanes; ++i) acc[i] = _mm512_setzero_ps();
        for (int t = 0; t < b.taps; ++t) {
          const float* d = dy + b.offsets[t];
          const __m512 wv = _mm512_load_ps(b.weights[t] + c * kLanes);
#pragma GCC unroll 32
          for (int i = 0; i < P; ++i) acc[i] = _mm512_fmadd_ps(_mm512_load_ps(d + i * kLanes), wv, acc[i]);
        }
        __m512 sums = _mm512_add_ps(sum_lanes16(acc), _mm512_set1_ps(b.bias_values ? b.bias_values[c] : 0.0f));
        if (b.relu) sums = relu(sums);
        if (b.step == 1) {
          _mm512_mask_storeu_ps(dx, first_lanes(P), sums);
        } else {
          alignas(64) float lanes[kLanes];
          _mm512_store_ps(lanes, sums);
          for (int i = 0; i < P; ++i) dx[i * b.step + c] = lanes[i];
        }
      }
    }
  }
};

bool sums_over_outputs(const ConvGeometry& g) { return g.C < kMinVectorInputs; }

// --- backward-weights: vectors over output channels, summed over pixels ---

struct WeightPass {
  const float* x;   // padded sample under the segment's first output pixel, at the pass's first tap
  Index row_step;   // floats between the padded inputs of neighbouring output rows
  Index step;       // ... of neighbouring output pixels
  Index tap_row;    // floats between padded rows (kernel rows one apart)
  const float* dy;  // the segment's first output pixel
  int rows, OW, O;
  float* acc;       // the pass's R * T vectors
  float* bias_acc;  // the bias vector, or null
};

// Accumulates R kernel rows of T consecutive (kw, c) taps each: in a padded row these
// inputs are consecutive floats, so every load has a compile-time offset.
template <int R>
struct Weights {
  template <int T>
  struct Kernel {
    static void run(const WeightPass& p) {
      __m512 acc[R][T];
#pragma GCC unroll 32
      for (int r = 0; r < R; ++r)
#pragma GCC unroll 32
        for (int t = 0; t < T; ++t) acc[r][t] = _mm512_load_ps(p.acc + (r * T + t) * kLanes);
      __m512 bias = p.bias_acc ? _mm512_load_ps(p.bias_acc) : _mm512_setzero_ps();
      const __mmask16 m = first_lanes(p.O);
      const float* dy = p.dy;
      for (int row = 0; row < p.rows; ++row) {
        const float* x = p.x + row * p.row_step;
        for (int ow = 0; ow < p.OW; ++ow, dy += p.O, x += p.step) {
          const __m512 d = _mm512_maskz_loadu_ps(m, dy);
#pragma GCC unroll 32
          for (int r = 0; r < R; ++r)
#pragma GCC unroll 32
            for (int t = 0; t < T; ++t) acc[r][t] = _mm512_fmadd_ps(_mm512_set1_ps(x[r * p.tap_row + t]), d, acc[r][t]);
          bias = _mm512_add_ps(bias, d);
        }
      }
#pragma GCC unroll 32
      for (int r = 0; r < R; ++r)
#pragma GCC unroll 32
        for (int t = 0; t < T; ++t) _mm512_store_ps(p.acc + (r * T + t) * kLanes, acc[r][t]);
      if (p.bias_acc) _mm512_store_ps(p.bias_acc, bias);
    }
  };
};

}  // namespace

bool available() {
  static const bool yes = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                          __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
  return yes;
}

bool forward_fits(const ConvGeometry& g) { return g.C <= kLanes && g.O <= kLanes && g.stride_w <= 2 && !pointwise(g); }

bool backward_data_fits(const ConvGeometry& g) {
  if (pointwise(g) || g.KH * g.KW > kMaxTaps || g.O > kLanes) return false;
  return sums_over_outputs(g) || g.C <= kLanes;
}

bool backward_weights_fits(const ConvGeometry& g) { return g.O <= kLanes && !pointwise(g); }

void conv2d_forward(const ConvGeometry& g, const float* x, const float* w, const float* bias, Activation act, float* y,
                    Workspace& ws) {
  const int Hp = (g.OH - 1) * g.stride_h + g.KH, Wp = (g.OW - 1) * g.stride_w + g.KW;
  const int CS = padded_channels(g.C);
  const Scratch s = scratch(ws, g.patch() * kLanes, Index(Hp) * Wp * CS);
  pack_over_outputs(g, w, s.shared);
  const __m512 b = load_bias(bias, g.O);
  const Index in_sample = Index(g.H) * g.W * g.C, out_sample = Index(g.OH) * g.OW * g.O;
  const int step = CS * g.stride_w;
#pragma omp parallel for schedule(static) if (g.N > 1)
  for (int n = 0; n < g.N; ++n) {
    float* xp = s.mine();
    pad_copy(x + n * in_sample, g.H, g.W, g.C, g.pad_top, g.pad_left, xp, Hp, Wp, CS);
    float* yn = y + n * out_sample;
    for_each_block(g.OW, kMaxBlock, [&](int ow0, int size) {
      const ForwardBlock block{xp + Index(ow0) * g.stride_w * CS,
                               Index(Wp) * CS,
                               Index(g.stride_h) * Wp * CS,
                               CS,
                               g.C,
                               g.KH,
                               g.KW,
                               s.shared,
                               b,
                               yn + Index(ow0) * g.O,
                               Index(g.OW) * g.O,
                               g.OH,
                               g.O,
                               act == Activation::relu};
      switch (step) {
        case 1:
          return dispatch<Forward<1>::Kernel, kMaxBlock>(size, block);
        case 2:
          return dispatch<Forward<2>::Kernel, kMaxBlock>(size, block);
        case kLanes:
          return dispatch<Forward<kLanes>::Kernel, kMaxBlock>(size, block);
        default:
          return dispatch<Forward<2 * kLanes>::Kernel, kMaxBlock>(size, block);
      }
    });
    if (!fused(act)) activation_forward(act, yn, Index(g.OH) * g.OW, g.O);
  }
}

void conv2d_backward_data(const ConvGeometry& g, const float* dy, const float* w, const float* bias, Activation act,
                          float* dx, Workspace& ws) {
  const bool reduce = sums_over_outputs(g);
  const PaddedDy pad(g);
  const int per_tap = reduce ? g.C : g.O;  // packed vectors per tap
  const Scratch s = scratch(ws, Index(g.KH) * g.KW * per_tap * kLanes, Index(pad.rows) * pad.cols * kLanes);
  if (reduce)
    pack_over_outputs(g, w, s.shared);
  else
    pack_over_inputs(g, w, s.shared);
  const __m512 b = load_bias(bias, g.C);
  const Index in_sample = Index(g.H) * g.W * g.C, out_sample = Index(g.OH) * g.OW * g.O;
  const Index padded_row = Index(pad.cols) * kLanes;
#pragma omp parallel for schedule(static) if (g.N > 1)
  for (int n = 0; n < g.N; ++n) {
    float* dyp = s.mine();
    pad_copy(dy + n * out_sample, g.OH, g.OW, g.O, pad.top, pad.left, dyp, pad.rows, pad.cols, kLanes);
    float* dxn = dx + n * in_sample;
    // Dx row ih meets dy row oh through kernel row kh where oh * stride_h = ih + pad_top - kh;
    // dx column iw = r + stride_w * j (column phase r) meets dy column j + d through kernel
    // column kw where d * stride_w = r + pad_left - kw. Rows q, q + stride_h, ... meet the
    // same taps, each one dy row further down.
    for (int q = 0; q < std::min(g.stride_h, g.H); ++q) {
      for (int r = 0; r < std::min(g.stride_w, g.W); ++r) {
        int offsets[kMaxTaps];
        const float* weights[kMaxTaps];
        int taps = 0;
        for (int kh = 0; kh < g.KH; ++kh) {
          const int a = q + g.pad_top - kh;
          if (a % g.stride_h != 0) continue;
          for (int kw = 0; kw < g.KW; ++kw) {
            const int c = r + g.pad_left - kw;
            if (c % g.stride_w != 0) continue;
            offsets[taps] =
                static_cast<int>((a / g.stride_h + pad.top) * padded_row + Index(c / g.stride_w + pad.left) * kLanes);
            weights[taps] = s.shared + Index(kh * g.KW + kw) * per_tap * kLanes;
            ++taps;
          }
        }
        const int rows = (g.H - q + g.stride_h - 1) / g.stride_h;
        const int columns = (g.W - r + g.stride_w - 1) / g.stride_w;
        for_each_block(columns, reduce ? kMaxReduceBlock : kMaxBlock, [&](int j0, int size) {
          const DataBlock block{dyp + Index(j0) * kLanes,
                                padded_row,
                                offsets,
                                weights,
                                taps,
                                g.O,
                                g.C,
                                b,
                                bias,
                                dxn + (Index(q) * g.W + r + Index(j0) * g.stride_w) * g.C,
                                Index(g.stride_h) * g.W * g.C,
                                Index(g.stride_w) * g.C,
                                rows,
                                act == Activation::relu};
          if (reduce)
            dispatch<ReduceKernel, kMaxReduceBlock>(size, block);
          else
            dispatch<DataKernel, kMaxBlock>(size, block);
        });
      }
    }
    if (!fused(act)) activation_forward(act, dxn, Index(g.H) * g.W, g.C);
  }
}

void conv2d_backward_weights(const ConvGeometry& g, const float* x, const float* dy, float* dw, float* dbias,
                             Workspace& ws) {
  const int Hp = (g.OH - 1) * g.stride_h + g.KH, Wp = (g.OW - 1) * g.stride_w + g.KW;
  const int taps = static_cast<int>(g.patch());
  const int row_taps = g.KW * g.C;  // the (kw, c) taps of one kernel row: consecutive in a padded row
  // Whole kernel at once when it fits the registers, else each kernel row in near-equal groups.
  const bool whole = taps <= kMaxWeightAcc && g.KH <= 4;
  const int groups = whole ? 1 : (row_taps + kMaxWeightAcc - 1) / kMaxWeightAcc;
  const int rows = g.N * g.OH;  // output rows of the batch, cut into chunks, and those into bands
  const int chunks = std::min(rows, kWeightChunks);
  const Index partial = Index(taps + 1) * kLanes;  // per chunk: the taps' vectors, then the bias vector
  const Scratch s = scratch(ws, partial * chunks, Index(Hp) * Wp * g.C);
  const Index in_sample = Index(g.H) * g.W * g.C;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int k = 0; k < chunks; ++k) {
    float* acc = s.shared + k * partial;
    std::memset(acc, 0, partial * sizeof(float));
    float* xp = s.mine();
    const int r0 = static_cast<int>(Index(k) * rows / chunks), r1 = static_cast<int>(Index(k + 1) * rows / chunks);
    for (int r = r0; r < r1;) {
      const int n = r / g.OH, oh0 = r % g.OH, oh1 = std::min({g.OH, oh0 + (r1 - r), oh0 + kBandRows});
      if (r == r0 || oh0 == 0) pad_copy(x + n * in_sample, g.H, g.W, g.C, g.pad_top, g.pad_left, xp, Hp, Wp, g.C);
      const float* x0 = xp + Index(oh0) * g.stride_h * Wp * g.C;
      WeightPass pass{x0,
                      Index(g.stride_h) * Wp * g.C,
                      Index(g.stride_w) * g.C,
                      Index(Wp) * g.C,
                      dy + (Index(n) * g.OH + oh0) * g.OW * g.O,
                      oh1 - oh0,
                      g.OW,
                      g.O,
                      acc,
                      acc + Index(taps) * kLanes};
      if (whole) {
        switch (g.KH) {
          case 1:
            dispatch<Weights<1>::Kernel, kMaxWeightAcc>(row_taps, pass);
            break;
          case 2:
            dispatch<Weights<2>::Kernel, kMaxWeightAcc / 2>(row_taps, pass);
            break;
          case 3:
            dispatch<Weights<3>::Kernel, kMaxWeightAcc / 3>(row_taps, pass);
            break;
          default:
            dispatch<Weights<4>::Kernel, kMaxWeightAcc / 4>(row_taps, pass);
            break;
        }
      } else {
        for (int kh = 0; kh < g.KH; ++kh)
          for (int group = 0, t0 = 0; group < groups; ++group) {
            const int T = (row_taps - t0) / (groups - group);
            pass.x = x0 + Index(kh) * Wp * g.C + t0;
            pass.acc = acc + (Index(kh) * row_taps + t0) * kLanes;
            dispatch<Weights<1>::Kernel, kMaxWeightAcc>(T, pass);
            pass.bias_acc = nullptr;  // the first pass sums the bias gradient
            t0 += T;
          }
      }
      r += oh1 - oh0;
    }
  }
  // Chunks summed in order, then added to the gradients.
  const __mmask16 m = first_lanes(g.O);
  for (int t = 0; t <= taps; ++t) {
    float* dst = t < taps ? dw + Index(t) * g.O : dbias;
    if (!dst) continue;
    __m512 sum = _mm512_load_ps(s.shared + Index(t) * kLanes);
    for (int k = 1; k < chunks; ++k) sum = _mm512_add_ps(sum, _mm512_load_ps(s.shared + k * partial + t * kLanes));
    _mm512_mask_storeu_ps(dst, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, dst), sum));
  }
}

bool pool_fits(const ConvGeometry& g) { return g.C <= kLanes; }

void maxpool_forward(const ConvGeometry& g, const float* x, float* y) {
  const __mmask16 m = first_lanes(g.C);
  const Index in_sample = Index(g.H) * g.W * g.C, out_sample = Index(g.OH) * g.OW * g.C;
#pragma omp parallel for schedule(static) if (g.output_size() >= kParallelMinOutputs)
  for (int n = 0; n < g.N; ++n) {
    const float* xn = x + n * in_sample;
    float* out = y + n * out_sample;
    for (int oh = 0; oh < g.OH; ++oh) {
      const int ih0 = oh * g.stride_h - g.pad_top;
      const int kh0 = std::max(0, -ih0), kh1 = std::min(g.KH, g.H - ih0);
      for (int ow = 0; ow < g.OW; ++ow, out += g.C) {
        const int iw0 = ow * g.stride_w - g.pad_left;
        const int kw0 = std::max(0, -iw0), kw1 = std::min(g.KW, g.W - iw0);
        // TensorFlow pads less than a window, so every window holds a pixel. max(in, best)
        // is in > best ? in : best, as TensorFlow compares.
        __m512 best = _mm512_maskz_loadu_ps(m, xn + (Index(ih0 + kh0) * g.W + iw0 + kw0) * g.C);
        for (int kh = kh0; kh < kh1; ++kh)
          for (int kw = kw0; kw < kw1; ++kw)
            best = _mm512_maskz_max_ps(0xFFFF, _mm512_maskz_loadu_ps(m, xn + (Index(ih0 + kh) * g.W + iw0 + kw) * g.C),
                                       best);
        _mm512_mask_storeu_ps(out, m, best);
      }
    }
  }
}

void maxpool_backward(const ConvGeometry& g, const float* x, const float* dy, float* dx) {
  const __mmask16 m = first_lanes(g.C);
  const Index in_sample = Index(g.H) * g.W * g.C, out_sample = Index(g.OH) * g.OW * g.C;
  // Windows that do not overlap write their pixels' gradients outright (zero where not
  // the maximum); only pixels outside every window need zeroing first. Overlapping
  // windows add into zeros.
  const bool disjoint = g.stride_h >= g.KH && g.stride_w >= g.KW;
  const bool covered = disjoint && g.pad_top == 0 && g.pad_left == 0 && g.OH * g.stride_h == g.H &&
                       g.OW * g.stride_w == g.W && g.stride_h == g.KH && g.stride_w == g.KW;
  // Parallel over samples: overlapping windows then never race.
#pragma omp parallel for schedule(static) if (g.output_size() >= kParallelMinOutputs)
  for (int n = 0; n < g.N; ++n) {
    const float* xn = x + n * in_sample;
    const float* d = dy + n * out_sample;
    float* dxn = dx + n * in_sample;
    if (!covered) std::memset(dxn, 0, in_sample * sizeof(float));
    for (int oh = 0; oh < g.OH; ++oh) {
      const int ih0 = oh * g.stride_h - g.pad_top;
      const int kh0 = std::max(0, -ih0), kh1 = std::min(g.KH, g.H - ih0);
      for (int ow = 0; ow < g.OW; ++ow, d += g.C) {
        const int iw0 = ow * g.stride_w - g.pad_left;
        const int kw0 = std::max(0, -iw0), kw1 = std::min(g.KW, g.W - iw0);
        // Per channel the first tap in scan order holding the maximum: a strictly greater
        // tap takes over.
        auto pixel = [&](int kh, int kw) { return (Index(ih0 + kh) * g.W + iw0 + kw) * g.C; };
        __m512 best = _mm512_maskz_loadu_ps(m, xn + pixel(kh0, kw0));
        __m512i where = _mm512_set1_epi32(kh0 * g.KW + kw0);
        for (int kh = kh0; kh < kh1; ++kh)
          for (int kw = kw0; kw < kw1; ++kw) {
            const __m512 v = _mm512_maskz_loadu_ps(m, xn + pixel(kh, kw));
            const __mmask16 greater = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ);
            best = _mm512_mask_mov_ps(best, greater, v);
            where = _mm512_mask_mov_epi32(where, greater, _mm512_set1_epi32(kh * g.KW + kw));
          }
        const __m512 grad = _mm512_maskz_loadu_ps(m, d);
        for (int kh = kh0; kh < kh1; ++kh)
          for (int kw = kw0; kw < kw1; ++kw) {
            const __mmask16 mine = _mm512_cmpeq_epi32_mask(where, _mm512_set1_epi32(kh * g.KW + kw));
            float* out = dxn + pixel(kh, kw);
            const __m512 before = disjoint ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m, out);
            _mm512_mask_storeu_ps(out, m, _mm512_mask_add_ps(before, mine, before, grad));
          }
      }
    }
  }
}

}  // namespace dn::kernels::direct

#pragma GCC pop_options

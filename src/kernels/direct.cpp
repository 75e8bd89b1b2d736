#include "kernels/direct.hpp"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <utility>

// Every function below is compiled for AVX-512, whatever the build's -march.
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,fma")

namespace dn::kernels::direct {

namespace {

using Index = std::size_t;

constexpr int kLanes = 16;
constexpr int kMaxBlock = 14;         // output pixels accumulated at once (of 32 vector registers)
constexpr int kMaxReduceBlock = 16;   // ... when each pixel's vector is then summed across its lanes
constexpr int kMaxTaps = 64;          // kernel taps (KH * KW) the tap lists of backward-data hold
constexpr int kMaxWeightAcc = 24;     // weight-gradient vectors accumulated per pass over the pixels
constexpr int kWeightChunks = 8;      // partial weight gradients, cut from the geometry alone
constexpr int kBandRows = 4;          // output rows per pass over the taps, whose inputs stay in L1
constexpr int kMinVectorInputs = 4;   // below this many dx channels, backward-data sums over output lanes
constexpr Index kParallelMinOutputs = 16384;  // smaller pooling runs faster than threads start

__mmask16 first_lanes(int n) { return static_cast<__mmask16>((1u << n) - 1u); }

Index round_up(Index floats) { return (floats + kLanes - 1) / kLanes * kLanes; }  // whole cache lines

bool pointwise(const ConvGeometry& g) {
  return g.KH == 1 && g.KW == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_top == 0 && g.pad_left == 0;
}

int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Floats per pixel in the padded copies that the block kernels read: a whole vector, so
// that neighbouring pixels sit a compile-time distance apart; 1 for a single channel.
int padded_channels(int channels) { return channels == 1 ? 1 : kLanes; }

// Kernel<p>::run for a run-time p: a table of the instantiations, built at compile time.
template <template <int> class Kernel, class Args, int... P>
constexpr auto make_table(std::integer_sequence<int, P...>) {
  return std::array<void (*)(const Args&), sizeof...(P)>{&Kernel<P + 1>::run...};
}
template <template <int> class Kernel, int Max, class Args>
void dispatch(int p, const Args& args) {  // 1 <= p <= Max
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

// Two output rows of 2P pixels, then the 2x2 maximum of each pixel square: P pooled
// pixels, bit for bit what maxpool_forward makes of the stored rows. `rows` counts row pairs.
template <int STEP>
struct ForwardPool {
  static constexpr int kMaxPooled = kMaxBlock / 2;  // 4P accumulators
  template <int P>
  struct Kernel {
    static void run(const ForwardBlock& b) {
      const __mmask16 m = first_lanes(b.O);
      for (int pair = 0; pair < b.rows; ++pair) {
        __m512 top[2 * P], bottom[2 * P];
#pragma GCC unroll 32
        for (int i = 0; i < 2 * P; ++i) top[i] = bottom[i] = b.bias;
        const float* w = b.w;
        for (int kh = 0; kh < b.KH; ++kh)
          for (int kw = 0; kw < b.KW; ++kw) {
            const float* x = b.x + 2 * pair * b.x_step + kh * b.row + Index(kw) * b.CS;
            for (int c = 0; c < b.C; ++c, w += kLanes) {
              const __m512 wv = _mm512_load_ps(w);
              const float* upper = opaque(x + c);
              const float* lower = opaque(x + c + b.x_step);
#pragma GCC unroll 32
              for (int i = 0; i < 2 * P; ++i) {
                top[i] = _mm512_fmadd_ps(_mm512_set1_ps(upper[i * STEP]), wv, top[i]);
                bottom[i] = _mm512_fmadd_ps(_mm512_set1_ps(lower[i * STEP]), wv, bottom[i]);
              }
            }
          }
        float* y = b.y + pair * b.y_step;
#pragma GCC unroll 32
        for (int i = 0; i < P; ++i) {
          auto out = [&](__m512 v) { return b.relu ? relu(v) : v; };
          // In scan order, with maxpool_forward's comparison (ties and NaN keep the first).
          __m512 best = out(top[2 * i]);
          best = _mm512_maskz_max_ps(0xFFFF, out(top[2 * i + 1]), best);
          best = _mm512_maskz_max_ps(0xFFFF, out(bottom[2 * i]), best);
          best = _mm512_maskz_max_ps(0xFFFF, out(bottom[2 * i + 1]), best);
          _mm512_mask_storeu_ps(y + i * b.O, m, best);
        }
      }
    }
  };
};

// The convolution forward of one sample at a time.
struct ForwardPlan {
  const ConvGeometry& g;
  int Hp, Wp, CS;
  const float* w;  // pack_over_outputs
  __m512 bias;
  Activation act;

  ForwardPlan(const ConvGeometry& geometry, const float* packed, const float* bias_values, Activation activation)
      : g(geometry),
        Hp((g.OH - 1) * g.stride_h + g.KH),
        Wp((g.OW - 1) * g.stride_w + g.KW),
        CS(padded_channels(g.C)),
        w(packed),
        bias(load_bias(bias_values, g.O)),
        act(activation) {}
  static Index packed_size(const ConvGeometry& g) { return g.patch() * kLanes; }
  static Index scratch_size(const ConvGeometry& g) {
    return Index((g.OH - 1) * g.stride_h + g.KH) * ((g.OW - 1) * g.stride_w + g.KW) * padded_channels(g.C);
  }

  // y [OH,OW,O] of the sample x [H,W,C]; xp: scratch_size(g) floats.
  void run(const float* x, float* y, float* xp) const {
    pad_copy(x, g.H, g.W, g.C, g.pad_top, g.pad_left, xp, Hp, Wp, CS);
    for_each_block(g.OW, kMaxBlock, [&](int ow0, int size) {
      const ForwardBlock block{xp + Index(ow0) * g.stride_w * CS,
                               Index(Wp) * CS,
                               Index(g.stride_h) * Wp * CS,
                               CS,
                               g.C,
                               g.KH,
                               g.KW,
                               w,
                               bias,
                               y + Index(ow0) * g.O,
                               Index(g.OW) * g.O,
                               g.OH,
                               g.O,
                               act == Activation::relu};
      switch (CS * g.stride_w) {
        case 1: return dispatch<Forward<1>::Kernel, kMaxBlock>(size, block);
        case 2: return dispatch<Forward<2>::Kernel, kMaxBlock>(size, block);
        case kLanes: return dispatch<Forward<kLanes>::Kernel, kMaxBlock>(size, block);
        default: return dispatch<Forward<2 * kLanes>::Kernel, kMaxBlock>(size, block);
      }
    });
    if (!fused(act)) activation_forward(act, y, Index(g.OH) * g.OW, g.O);
  }

  // y [OH/2,OW/2,O]: the 2x2 maxima of the output, which is never stored (OH and OW even,
  // activation fused).
  void run_pooled(const float* x, float* y, float* xp) const {
    pad_copy(x, g.H, g.W, g.C, g.pad_top, g.pad_left, xp, Hp, Wp, CS);
    const int pooled_w = g.OW / 2;
    for_each_block(pooled_w, ForwardPool<1>::kMaxPooled, [&](int pw0, int size) {
      const ForwardBlock block{xp + Index(2 * pw0) * g.stride_w * CS,
                               Index(Wp) * CS,
                               Index(g.stride_h) * Wp * CS,
                               CS,
                               g.C,
                               g.KH,
                               g.KW,
                               w,
                               bias,
                               y + Index(pw0) * g.O,
                               Index(pooled_w) * g.O,
                               g.OH / 2,
                               g.O,
                               act == Activation::relu};
      constexpr int kMax = ForwardPool<1>::kMaxPooled;
      switch (CS * g.stride_w) {
        case 1: return dispatch<ForwardPool<1>::Kernel, kMax>(size, block);
        case 2: return dispatch<ForwardPool<2>::Kernel, kMax>(size, block);
        case kLanes: return dispatch<ForwardPool<kLanes>::Kernel, kMax>(size, block);
        default: return dispatch<ForwardPool<2 * kLanes>::Kernel, kMax>(size, block);
      }
    });
  }
};

// --- forward by Winograd F(2x2, 3x3): 3x3 stride-1 convolutions of several channels ---
// Each 2x2 output tile is A^T [(G w G^T) . (B^T d B)] A of its 4x4 input patch d (Lavin
// and Gray, 2016): 16 products per (c, o) instead of 36. Transforms and products run
// on vectors over channels, so NHWC needs no reorder; the products of a row of tiles
// share each loaded weight vector, as the direct forward's pixels do.

constexpr int kWinogradInputs = 4;  // fewer input channels: the transforms outweigh the savings
constexpr int kPatch = 16;          // 4x4 transformed values per tile and channel
constexpr int kMaxTiles = 14;       // tiles accumulated at once (of 32 vector registers)

bool winograd(const ConvGeometry& g) {
  return g.KH == 3 && g.KW == 3 && g.stride_h == 1 && g.stride_w == 1 && g.C >= kWinogradInputs;
}

// U = G w G^T per input channel c, as vectors over o: U[(pos * C + c) * kLanes], pos
// the 4x4 position in row-major order.
void winograd_weights(const ConvGeometry& g, const float* w, float* U) {
  const __mmask16 m = first_lanes(g.O);
  const __m512 half = _mm512_set1_ps(0.5f);
  // G's rows applied to three values: k0, (k0 + k1 + k2) / 2, (k0 - k1 + k2) / 2, k2.
  auto g_rows = [&](const __m512 (&k)[3], __m512 (&out)[4]) {
    const __m512 even = _mm512_add_ps(k[0], k[2]);
    out[0] = k[0];
    out[1] = _mm512_mul_ps(half, _mm512_add_ps(even, k[1]));
    out[2] = _mm512_mul_ps(half, _mm512_sub_ps(even, k[1]));
    out[3] = k[2];
  };
  for (int c = 0; c < g.C; ++c) {
    __m512 gk[4][3];  // G w: 4 rows by 3 kernel columns
    for (int kw = 0; kw < 3; ++kw) {
      __m512 col[3], out[4];
      for (int kh = 0; kh < 3; ++kh) col[kh] = _mm512_maskz_loadu_ps(m, w + (Index(kh * 3 + kw) * g.C + c) * g.O);
      g_rows(col, out);
      for (int r = 0; r < 4; ++r) gk[r][kw] = out[r];
    }
    for (int r = 0; r < 4; ++r) {
      __m512 out[4];
      g_rows(gk[r], out);
      for (int s = 0; s < 4; ++s) _mm512_store_ps(U + (Index(r * 4 + s) * g.C + c) * kLanes, out[s]);
    }
  }
}

// B^T d B of the 4x4 patch at x (kLanes floats per pixel, `row` floats between rows),
// as 16 vectors over c at v.
inline void winograd_input(const float* x, Index row, float* v) {
  __m512 t[4][4];  // B^T d
  for (int s = 0; s < 4; ++s) {
    const __m512 d0 = _mm512_load_ps(x + s * kLanes), d1 = _mm512_load_ps(x + row + s * kLanes);
    const __m512 d2 = _mm512_load_ps(x + 2 * row + s * kLanes), d3 = _mm512_load_ps(x + 3 * row + s * kLanes);
    t[0][s] = _mm512_sub_ps(d0, d2);
    t[1][s] = _mm512_add_ps(d1, d2);
    t[2][s] = _mm512_sub_ps(d2, d1);
    t[3][s] = _mm512_sub_ps(d1, d3);
  }
  for (int r = 0; r < 4; ++r) {
    _mm512_store_ps(v + (r * 4 + 0) * kLanes, _mm512_sub_ps(t[r][0], t[r][2]));
    _mm512_store_ps(v + (r * 4 + 1) * kLanes, _mm512_add_ps(t[r][1], t[r][2]));
    _mm512_store_ps(v + (r * 4 + 2) * kLanes, _mm512_sub_ps(t[r][2], t[r][1]));
    _mm512_store_ps(v + (r * 4 + 3) * kLanes, _mm512_sub_ps(t[r][1], t[r][3]));
  }
}

// The products at one transformed position of T tiles: m[t * M_STRIDE] = the sum over
// k < K of v[t * V_STRIDE + k] * u[k], u holding a vector per k. Each weight vector is
// loaded once for all T tiles, as the direct forward shares it among pixels.
template <int T, Index V_STRIDE, Index M_STRIDE>
__attribute__((always_inline)) inline void tile_products(const float* u, const float* v, int K, float* m) {
  __m512 acc[T];
#pragma GCC unroll 32
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  for (int k = 0; k < K; ++k, u += kLanes) {
    const __m512 uv = _mm512_load_ps(u);
    const float* vk = opaque(v + k);
#pragma GCC unroll 32
    for (int t = 0; t < T; ++t) acc[t] = _mm512_fmadd_ps(_mm512_set1_ps(vk[t * V_STRIDE]), uv, acc[t]);
  }
#pragma GCC unroll 32
  for (int t = 0; t < T; ++t) _mm512_store_ps(m + t * M_STRIDE, acc[t]);
}

// A row of tiles: their patches, products and output pixels.
struct WinogradBlock {
  const float* x;  // padded input at the first tile's patch
  Index row;       // floats between padded rows
  const float* U;  // winograd_weights
  int C, O;
  __m512 bias;
  float* v;  // kMaxTiles * kPatch vectors: the transformed patches
  float* m;  // as many: the products
  float* y;  // the first tile's first output pixel
  Index y_row;   // floats between output rows
  int rows, cols;  // output rows (1 or 2) of the tiles, and columns of the last tile
  bool relu;
};

template <int T>
struct WinogradKernel {
  static void run(const WinogradBlock& b) {
    constexpr Index kTileFloats = Index(kPatch) * kLanes;
    for (int t = 0; t < T; ++t) winograd_input(b.x + Index(2 * t) * kLanes, b.row, b.v + t * kTileFloats);
    for (int pos = 0; pos < kPatch; ++pos)
      tile_products<T, kTileFloats, kTileFloats>(b.U + Index(pos) * b.C * kLanes, b.v + pos * kLanes, b.C,
                                                 b.m + pos * kLanes);
    const __mmask16 mask = first_lanes(b.O);
    for (int t = 0; t < T; ++t) {
      const float* mt = b.m + t * kTileFloats;
      auto at = [&](int r, int s) { return _mm512_load_ps(mt + (r * 4 + s) * kLanes); };
      __m512 s0[4], s1[4];  // A^T m
      for (int s = 0; s < 4; ++s) {
        const __m512 m1 = at(1, s), m2 = at(2, s);
        s0[s] = _mm512_add_ps(_mm512_add_ps(at(0, s), m1), m2);
        s1[s] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), at(3, s));
      }
      const int cols = t + 1 < T ? 2 : b.cols;
      for (int r = 0; r < b.rows; ++r) {
        const __m512(&s)[4] = r == 0 ? s0 : s1;
        float* y = b.y + r * b.y_row + Index(2 * t) * b.O;
        __m512 left = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s[0], s[1]), s[2]), b.bias);
        __m512 right = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s[1], s[2]), s[3]), b.bias);
        if (b.relu) left = relu(left), right = relu(right);
        _mm512_mask_storeu_ps(y, mask, left);
        if (cols == 2) _mm512_mask_storeu_ps(y + b.O, mask, right);
      }
    }
  }
};

// The Winograd forward of one sample at a time.
struct WinogradPlan {
  const ConvGeometry& g;
  int tiles_h, tiles_w, Hp, Wp;
  const float* U;
  __m512 bias;
  Activation act;

  WinogradPlan(const ConvGeometry& geometry, const float* packed, const float* bias_values, Activation activation)
      : g(geometry),
        tiles_h((g.OH + 1) / 2),
        tiles_w((g.OW + 1) / 2),
        Hp(2 * tiles_h + 2),
        Wp(2 * tiles_w + 2),
        U(packed),
        bias(load_bias(bias_values, g.O)),
        act(activation) {}
  static Index packed_size(const ConvGeometry& g) { return Index(kPatch) * g.C * kLanes; }
  static Index scratch_size(const ConvGeometry& g) {
    const Index padded = Index((g.OH + 1) / 2 * 2 + 2) * ((g.OW + 1) / 2 * 2 + 2) * kLanes;
    return padded + 2 * Index(kMaxTiles) * kPatch * kLanes;
  }

  // y [OH,OW,O] of the sample x [H,W,C]; scratch: scratch_size(g) floats, 64-byte aligned.
  void run(const float* x, float* y, float* scratch) const {
    float* xp = scratch;
    float* v = xp + Index(Hp) * Wp * kLanes;
    float* m = v + Index(kMaxTiles) * kPatch * kLanes;
    pad_copy(x, g.H, g.W, g.C, g.pad_top, g.pad_left, xp, Hp, Wp, kLanes);
    for (int ty = 0; ty < tiles_h; ++ty)
      for_each_block(tiles_w, kMaxTiles, [&](int tx0, int size) {
        const int last_col = 2 * (tx0 + size - 1);
        const WinogradBlock block{xp + (Index(2 * ty) * Wp + 2 * tx0) * kLanes,
                                  Index(Wp) * kLanes,
                                  U,
                                  g.C,
                                  g.O,
                                  bias,
                                  v,
                                  m,
                                  y + (Index(2 * ty) * g.OW + 2 * tx0) * g.O,
                                  Index(g.OW) * g.O,
                                  std::min(2, g.OH - 2 * ty),
                                  std::min(2, g.OW - last_col),
                                  act == Activation::relu};
        dispatch<WinogradKernel, kMaxTiles>(size, block);
      });
    if (!fused(act)) activation_forward(act, y, Index(g.OH) * g.OW, g.O);
  }
};

// The backward-data of a stride-1 convolution is the forward of another one: dy
// convolved with the kernel turned half round, channels swapped, padded by what the
// kernel overhangs on the other side. Where that one suits Winograd, it runs so.
ConvGeometry flipped(const ConvGeometry& g) {
  ConvGeometry f = g;
  f.H = g.OH, f.W = g.OW, f.C = g.O;
  f.OH = g.H, f.OW = g.W, f.O = g.C;
  f.pad_top = g.KH - 1 - g.pad_top, f.pad_left = g.KW - 1 - g.pad_left;
  return f;
}

// Few dx channels: backward-data sums over output lanes (ReduceKernel).
bool sums_over_outputs(const ConvGeometry& g) { return g.C < kMinVectorInputs; }

bool winograd_backward_data(const ConvGeometry& g) {
  return g.stride_h == 1 && g.stride_w == 1 && g.pad_top < g.KH && g.pad_left < g.KW && !sums_over_outputs(g) &&
         winograd(flipped(g));
}

// w [KH,KW,C,O] as the flipped convolution's kernel [KH,KW,O,C].
void flip_weights(const ConvGeometry& g, const float* w, float* out) {
  for (int kh = 0; kh < g.KH; ++kh)
    for (int kw = 0; kw < g.KW; ++kw)
      for (int c = 0; c < g.C; ++c)
        for (int o = 0; o < g.O; ++o)
          out[((Index(kh) * g.KW + kw) * g.O + o) * g.C + c] =
              w[((Index(g.KH - 1 - kh) * g.KW + (g.KW - 1 - kw)) * g.C + c) * g.O + o];
}

// The Winograd plan of the flipped convolution; `packed` holds flip_weights' output
// first, then the transformed weights.
struct FlippedPlan {
  ConvGeometry f;
  WinogradPlan plan;
  FlippedPlan(const ConvGeometry& g, const float* w, float* packed, const float* bias, Activation act)
      : f(flipped(g)), plan(f, packed + round_up(flipped_size(g)), bias, act) {
    flip_weights(g, w, packed);
    winograd_weights(f, packed, packed + round_up(flipped_size(g)));
  }
  FlippedPlan(const FlippedPlan&) = delete;  // plan refers to f
  static Index flipped_size(const ConvGeometry& g) { return Index(g.KH) * g.KW * g.C * g.O; }
  static Index packed_size(const ConvGeometry& g) {
    return round_up(flipped_size(g)) + WinogradPlan::packed_size(flipped(g));
  }
  static Index scratch_size(const ConvGeometry& g) { return WinogradPlan::scratch_size(flipped(g)); }
  // dx [H,W,C] of the sample dy [OH,OW,O].
  void run(const float* dy, float* dx, float* scratch) const { plan.run(dy, dx, scratch); }
};

// --- backward-data: vectors over input channels, or summed across output lanes ---

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

// The convolution backward-data of one sample at a time.
struct DataPlan {
  const ConvGeometry& g;
  bool reduce;
  PaddedDy pad;
  const float* w;  // pack_over_outputs when reduce, else pack_over_inputs
  const float* bias_values;
  __m512 bias;
  Activation act;

  DataPlan(const ConvGeometry& geometry, const float* packed, const float* bias_in, Activation activation)
      : g(geometry),
        reduce(sums_over_outputs(g)),
        pad(g),
        w(packed),
        bias_values(bias_in),
        bias(load_bias(bias_in, g.C)),
        act(activation) {}
  static Index packed_size(const ConvGeometry& g) {
    return Index(g.KH) * g.KW * (sums_over_outputs(g) ? g.C : g.O) * kLanes;
  }
  static void pack(const ConvGeometry& g, const float* weights, float* packed) {
    if (sums_over_outputs(g))
      pack_over_outputs(g, weights, packed);
    else
      pack_over_inputs(g, weights, packed);
  }
  static Index scratch_size(const ConvGeometry& g) {
    const PaddedDy pad(g);
    return Index(pad.rows) * pad.cols * kLanes;
  }

  // dx [H,W,C] of the sample dy [OH,OW,O]; dyp: scratch_size(g) floats.
  void run(const float* dy, float* dx, float* dyp) const {
    pad_copy(dy, g.OH, g.OW, g.O, pad.top, pad.left, dyp, pad.rows, pad.cols, kLanes);
    const Index padded_row = Index(pad.cols) * kLanes;
    const int per_tap = reduce ? g.C : g.O;  // packed vectors per tap
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
            offsets[taps] = static_cast<int>((a / g.stride_h + pad.top) * padded_row +
                                             Index(c / g.stride_w + pad.left) * kLanes);
            weights[taps] = w + Index(kh * g.KW + kw) * per_tap * kLanes;
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
                                bias,
                                bias_values,
                                dx + (Index(q) * g.W + r + Index(j0) * g.stride_w) * g.C,
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
    if (!fused(act)) activation_forward(act, dx, Index(g.H) * g.W, g.C);
  }
};

// --- backward-data by Winograd F(2, 2) per phase: 3x3 kernels at stride 2 ---
// With stride 2 and no padding before, dx row 2a is dy[a-1] w[2] + dy[a] w[0] and row
// 2a+1 is dy[a] w[1] (the same along columns): each row phase is a small correlation
// of dy. A tile of dy positions a, a+1 by b, b+1 makes 4x4 dx pixels. F(2, 2) gives an
// even pair from 3 products, (d0 - d1) w2, d1 (w0 + w2) and (d2 - d1) w0, where the
// direct sum takes 4; with the odd pair's 2 that is 5 per axis, 25 per tile where the
// direct kernel takes 36. Products are vectors over c summed over o, as in DataKernel.

constexpr int kPhaseValues = 16;  // distinct transformed dy vectors per tile: 4 per axis
constexpr int kPhaseWeightSets = 16;  // distinct weight combinations: 4 per axis
constexpr int kPhaseProducts = 25;  // 5 per axis: E0, E1, E2 (even pair), O0, O1 (odd pair)
constexpr int kPhaseMinChannels = 4;  // fewer: the transforms outweigh the savings

// Per axis position: which transformed dy value (d0 - d1, d1, d2 - d1, d2) and which
// weight combination (w2, w0 + w2, w0, w1) it multiplies.
constexpr int kPhaseValue[5] = {0, 1, 2, 1, 3};
constexpr int kPhaseWeight[5] = {0, 1, 2, 3, 3};

bool phase_winograd(const ConvGeometry& g) {
  return g.KH == 3 && g.KW == 3 && g.stride_h == 2 && g.stride_w == 2 && g.pad_top == 0 && g.pad_left == 0 &&
         g.C >= kPhaseMinChannels && g.O >= kPhaseMinChannels;
}

// U[(wr * 4 + wc) * O + o] = vectors over c of the weight combinations, wr and wc
// indexing (w2, w0 + w2, w0, w1) along kernel rows and columns.
void phase_weights(const ConvGeometry& g, const float* w, float* U) {
  static constexpr int kTaps[4][2] = {{2, -1}, {0, 2}, {0, -1}, {1, -1}};  // kernel indices summed, -1: none
  std::memset(U, 0, Index(kPhaseWeightSets) * g.O * kLanes * sizeof(float));
  for (int wr = 0; wr < 4; ++wr)
    for (int wc = 0; wc < 4; ++wc)
      for (int kh : kTaps[wr])
        for (int kw : kTaps[wc]) {
          if (kh < 0 || kw < 0) continue;
          for (int o = 0; o < g.O; ++o)
            for (int c = 0; c < g.C; ++c)
              U[((Index(wr) * 4 + wc) * g.O + o) * kLanes + c] += w[((Index(kh) * 3 + kw) * g.C + c) * g.O + o];
        }
}

// The 16 transformed vectors (over o) of the 3x3 dy patch at d (kLanes floats per pixel).
inline void phase_input(const float* d, Index row, float* v) {
  __m512 r[4][3];  // per column: d0 - d1, d1, d2 - d1, d2 down the rows
  for (int x = 0; x < 3; ++x) {
    const __m512 d0 = _mm512_load_ps(d + x * kLanes), d1 = _mm512_load_ps(d + row + x * kLanes);
    const __m512 d2 = _mm512_load_ps(d + 2 * row + x * kLanes);
    r[0][x] = _mm512_sub_ps(d0, d1);
    r[1][x] = d1;
    r[2][x] = _mm512_sub_ps(d2, d1);
    r[3][x] = d2;
  }
  for (int i = 0; i < 4; ++i) {
    _mm512_store_ps(v + (i * 4 + 0) * kLanes, _mm512_sub_ps(r[i][0], r[i][1]));
    _mm512_store_ps(v + (i * 4 + 1) * kLanes, r[i][1]);
    _mm512_store_ps(v + (i * 4 + 2) * kLanes, _mm512_sub_ps(r[i][2], r[i][1]));
    _mm512_store_ps(v + (i * 4 + 3) * kLanes, r[i][2]);
  }
}

// A row of tiles.
struct PhaseBlock {
  const float* dy;  // padded dy at the first tile's patch
  Index row;        // floats between padded dy rows
  const float* U;   // phase_weights
  int O, C;
  __m512 bias;
  float* v;       // kMaxTiles * kPhaseValues vectors
  float* m;       // kMaxTiles * kPhaseProducts vectors
  float* dx;      // the first tile's first dx pixel
  Index dx_row;   // floats between dx rows
  int rows;       // dx rows of the tiles (up to 4)
  int cols;       // dx columns left from the first tile's first (more than 4: all of them)
  bool relu;
};

template <int T>
struct PhaseKernel {
  static void run(const PhaseBlock& b) {
    constexpr Index kValueFloats = Index(kPhaseValues) * kLanes, kProductFloats = Index(kPhaseProducts) * kLanes;
    for (int t = 0; t < T; ++t) phase_input(b.dy + Index(2 * t) * kLanes, b.row, b.v + t * kValueFloats);
    for (int p = 0; p < kPhaseProducts; ++p) {
      const int pr = p / 5, pc = p % 5;
      const float* u = b.U + Index(kPhaseWeight[pr] * 4 + kPhaseWeight[pc]) * b.O * kLanes;
      const float* v = b.v + (kPhaseValue[pr] * 4 + kPhaseValue[pc]) * kLanes;
      tile_products<T, kValueFloats, kProductFloats>(u, v, b.O, b.m + p * kLanes);
    }
    const __mmask16 mask = first_lanes(b.C);
    for (int t = 0; t < T; ++t) {
      const float* mt = b.m + t * kProductFloats;
      auto at = [&](int r, int c) { return _mm512_load_ps(mt + (r * 5 + c) * kLanes); };
      // Rows 2a, 2a+1, 2a+2, 2a+3 from E0 + E1, O0, E1 + E2, O1; then the same along columns.
      __m512 y[4][5];
      for (int c = 0; c < 5; ++c) {
        const __m512 e1 = at(1, c);
        y[0][c] = _mm512_add_ps(at(0, c), e1);
        y[1][c] = at(3, c);
        y[2][c] = _mm512_add_ps(e1, at(2, c));
        y[3][c] = at(4, c);
      }
      const int cols = std::min(4, b.cols - 4 * t);
      auto store_row = [&](int r, int n) {
        const __m512 out[4] = {_mm512_add_ps(y[r][0], y[r][1]), y[r][3], _mm512_add_ps(y[r][1], y[r][2]), y[r][4]};
        float* dx = b.dx + r * b.dx_row + Index(4 * t) * b.C;
#pragma GCC unroll 4
        for (int c = 0; c < n; ++c) {
          const __m512 v = _mm512_add_ps(out[c], b.bias);
          _mm512_mask_storeu_ps(dx + c * b.C, mask, b.relu ? relu(v) : v);
        }
      };
      if (b.rows == 4 && cols == 4) {  // inside the image: unrolled
#pragma GCC unroll 4
        for (int r = 0; r < 4; ++r) store_row(r, 4);
      } else {
        for (int r = 0; r < b.rows; ++r) store_row(r, cols);
      }
    }
  }
};

// The backward-data of one sample at a time.
struct PhasePlan {
  const ConvGeometry& g;
  int tiles_h, tiles_w, Hp, Wp;
  const float* U;
  __m512 bias;
  Activation act;

  // Tiles cover the dy positions a < ceil(H / 2) that dx rows 2a and 2a+1 need; the
  // padded dy holds row -1 above them and zeros below.
  PhasePlan(const ConvGeometry& geometry, const float* packed, const float* bias_values, Activation activation)
      : g(geometry),
        tiles_h(tiles(g.H)),
        tiles_w(tiles(g.W)),
        Hp(2 * tiles_h + 1),
        Wp(2 * tiles_w + 1),
        U(packed),
        bias(load_bias(bias_values, g.C)),
        act(activation) {}
  static int tiles(int dx_size) { return ((dx_size + 1) / 2 + 1) / 2; }
  static Index packed_size(const ConvGeometry& g) { return Index(kPhaseWeightSets) * g.O * kLanes; }
  static Index scratch_size(const ConvGeometry& g) {
    return Index(2 * tiles(g.H) + 1) * (2 * tiles(g.W) + 1) * kLanes +
           Index(kMaxTiles) * (kPhaseValues + kPhaseProducts) * kLanes;
  }

  // dx [H,W,C] of the sample dy [OH,OW,O]; scratch: scratch_size(g) floats, 64-byte aligned.
  void run(const float* dy, float* dx, float* scratch) const {
    float* dyp = scratch;
    float* v = dyp + Index(Hp) * Wp * kLanes;
    float* m = v + Index(kMaxTiles) * kPhaseValues * kLanes;
    pad_copy(dy, g.OH, g.OW, g.O, 1, 1, dyp, Hp, Wp, kLanes);
    for (int ty = 0; ty < tiles_h; ++ty)
      for_each_block(tiles_w, kMaxTiles, [&](int tx0, int size) {
        const PhaseBlock block{dyp + (Index(2 * ty) * Wp + 2 * tx0) * kLanes,
                               Index(Wp) * kLanes,
                               U,
                               g.O,
                               g.C,
                               bias,
                               v,
                               m,
                               dx + (Index(4 * ty) * g.W + 4 * tx0) * g.C,
                               Index(g.W) * g.C,
                               std::min(4, g.H - 4 * ty),
                               g.W - 4 * tx0,
                               act == Activation::relu};
        dispatch<PhaseKernel, kMaxTiles>(size, block);
      });
    if (!fused(act)) activation_forward(act, dx, Index(g.H) * g.W, g.C);
  }
};

// --- backward-weights: vectors over output channels, summed over pixels ---

struct WeightPass {
  const float* x;   // padded sample under the band's first output pixel, at the pass's first tap
  Index row_step;   // floats between the padded inputs of neighbouring output rows
  Index step;       // ... of neighbouring output pixels
  Index tap_row;    // floats between padded rows (kernel rows one apart)
  const float* dy;  // the band's first output pixel
  int rows, OW, O;
  float* acc;       // the pass's R * T vectors
  float* bias_acc;  // the vector summing dy, or null
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
            for (int t = 0; t < T; ++t)
              acc[r][t] = _mm512_fmadd_ps(_mm512_set1_ps(x[r * p.tap_row + t]), d, acc[r][t]);
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

// The weight gradient of a convolution, accumulated one sample (or part of one) at a time.
struct WeightPlan {
  const ConvGeometry& g;
  int Hp, Wp, taps, row_taps, groups;
  bool whole;  // the whole kernel in registers at once, else each kernel row in groups

  explicit WeightPlan(const ConvGeometry& geometry)
      : g(geometry),
        Hp((g.OH - 1) * g.stride_h + g.KH),
        Wp((g.OW - 1) * g.stride_w + g.KW),
        taps(static_cast<int>(g.patch())),
        row_taps(g.KW * g.C),
        groups((row_taps + kMaxWeightAcc - 1) / kMaxWeightAcc),
        whole(taps <= kMaxWeightAcc && g.KH <= 4) {}
  Index acc_size() const { return Index(taps) * kLanes; }  // vectors over o, in (kh, kw, c) order
  Index scratch_size() const { return Index(Hp) * Wp * g.C; }

  // The padded sample x [H,W,C] that run() reads; xp: scratch_size() floats.
  void pad(const float* x, float* xp) const { pad_copy(x, g.H, g.W, g.C, g.pad_top, g.pad_left, xp, Hp, Wp, g.C); }

  // acc += the gradient from output rows [oh0, oh1) of one sample, given its padded
  // input xp and its dy [OH,OW,O]; bias_acc (if not null) += the sum of those dy.
  void run(const float* xp, const float* dy, int oh0, int oh1, float* acc, float* bias_acc) const {
    for (int band = oh0; band < oh1; band += kBandRows) {
      const float* x0 = xp + Index(band) * g.stride_h * Wp * g.C;
      WeightPass pass{x0,  Index(g.stride_h) * Wp * g.C, Index(g.stride_w) * g.C, Index(Wp) * g.C,
                      dy + Index(band) * g.OW * g.O, std::min(kBandRows, oh1 - band), g.OW, g.O, acc, bias_acc};
      if (whole) {
        switch (g.KH) {
          case 1: dispatch<Weights<1>::Kernel, kMaxWeightAcc>(row_taps, pass); break;
          case 2: dispatch<Weights<2>::Kernel, kMaxWeightAcc / 2>(row_taps, pass); break;
          case 3: dispatch<Weights<3>::Kernel, kMaxWeightAcc / 3>(row_taps, pass); break;
          default: dispatch<Weights<4>::Kernel, kMaxWeightAcc / 4>(row_taps, pass); break;
        }
        continue;
      }
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
  }
};

// Chunks of partial weight gradients: chunk k sums output rows [rows * k / count,
// rows * (k + 1) / count) of the batch. Each holds the taps' vectors and a bias vector.
struct WeightChunks {
  int count;
  Index size;  // floats per chunk
  WeightChunks(int rows, const WeightPlan& plan)
      : count(std::min(rows, kWeightChunks)), size(plan.acc_size() + kLanes) {}
  int first_row(int rows, int k) const { return static_cast<int>(Index(k) * rows / count); }
};

// dw (O lanes per tap) and dbias (bias_lanes lanes, if not null) += the chunks' sums,
// taken in chunk order.
void add_chunks(const float* partials, const WeightChunks& chunks, int taps, int O, float* dw, float* dbias,
                int bias_lanes) {
  for (int t = 0; t <= taps; ++t) {
    float* dst = t < taps ? dw + Index(t) * O : dbias;
    if (!dst) continue;
    const __mmask16 m = first_lanes(t < taps ? O : bias_lanes);
    __m512 sum = _mm512_load_ps(partials + Index(t) * kLanes);
    for (int k = 1; k < chunks.count; ++k)
      sum = _mm512_add_ps(sum, _mm512_load_ps(partials + k * chunks.size + Index(t) * kLanes));
    _mm512_mask_storeu_ps(dst, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, dst), sum));
  }
}

// The samples [n0, n1) of chunk k when chunks hold whole samples.
std::pair<int, int> chunk_samples(const ConvGeometry& g, const WeightChunks& chunks, int k) {
  return {static_cast<int>(Index(k) * g.N / chunks.count), static_cast<int>(Index(k + 1) * g.N / chunks.count)};
}

}  // namespace

bool available() {
  static const bool yes = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                          __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
  return yes;
}

bool forward_fits(const ConvGeometry& g) {
  return g.C <= kLanes && g.O <= kLanes && g.stride_w <= 2 && !pointwise(g);
}

bool forward_maxpool_fits(const ConvGeometry& g, Activation act) {
  return forward_fits(g) && !winograd(g) && fused(act) && g.OH % 2 == 0 && g.OW % 2 == 0;
}

bool backward_data_fits(const ConvGeometry& g) {
  if (pointwise(g) || g.KH * g.KW > kMaxTaps || g.O > kLanes) return false;
  return sums_over_outputs(g) || g.C <= kLanes;
}

bool backward_weights_fits(const ConvGeometry& g) { return g.O <= kLanes && !pointwise(g); }

bool conv_layer_backward_fits(const ConvGeometry& g, bool with_dx) {
  return backward_weights_fits(g) && (!with_dx || backward_data_fits(g));
}

bool conv_transpose_layer_backward_fits(const ConvGeometry& g, bool with_dx) {
  return backward_weights_fits(g) && g.C <= kLanes && (!with_dx || forward_fits(g));
}

bool pool_fits(const ConvGeometry& g) { return g.C <= kLanes; }

void conv2d_forward(const ConvGeometry& g, const float* x, const float* w, const float* bias, Activation act,
                    float* y, Workspace& ws) {
  const Index in_sample = Index(g.H) * g.W * g.C, out_sample = Index(g.OH) * g.OW * g.O;
  auto each_sample = [&](const auto& plan, const Scratch& s) {
#pragma omp parallel for schedule(static) if (g.N > 1)
    for (int n = 0; n < g.N; ++n) plan.run(x + n * in_sample, y + n * out_sample, s.mine());
  };
  if (winograd(g)) {
    const Scratch s = scratch(ws, WinogradPlan::packed_size(g), WinogradPlan::scratch_size(g));
    winograd_weights(g, w, s.shared);
    return each_sample(WinogradPlan(g, s.shared, bias, act), s);
  }
  const Scratch s = scratch(ws, ForwardPlan::packed_size(g), ForwardPlan::scratch_size(g));
  pack_over_outputs(g, w, s.shared);
  each_sample(ForwardPlan(g, s.shared, bias, act), s);
}

void conv2d_forward_maxpool(const ConvGeometry& g, const float* x, const float* w, const float* bias, Activation act,
                            float* y, Workspace& ws) {
  const Scratch s = scratch(ws, ForwardPlan::packed_size(g), ForwardPlan::scratch_size(g));
  pack_over_outputs(g, w, s.shared);
  const ForwardPlan plan(g, s.shared, bias, act);
  const Index in_sample = Index(g.H) * g.W * g.C, out_sample = Index(g.OH / 2) * (g.OW / 2) * g.O;
#pragma omp parallel for schedule(static) if (g.N > 1)
  for (int n = 0; n < g.N; ++n) plan.run_pooled(x + n * in_sample, y + n * out_sample, s.mine());
}

void conv2d_backward_data(const ConvGeometry& g, const float* dy, const float* w, const float* bias,
                          Activation act, float* dx, Workspace& ws) {
  const Index in_sample = Index(g.H) * g.W * g.C, out_sample = Index(g.OH) * g.OW * g.O;
  auto each_sample = [&](const auto& plan, const Scratch& s) {
#pragma omp parallel for schedule(static) if (g.N > 1)
    for (int n = 0; n < g.N; ++n) plan.run(dy + n * out_sample, dx + n * in_sample, s.mine());
  };
  if (phase_winograd(g)) {
    const Scratch s = scratch(ws, PhasePlan::packed_size(g), PhasePlan::scratch_size(g));
    phase_weights(g, w, s.shared);
    return each_sample(PhasePlan(g, s.shared, bias, act), s);
  }
  if (winograd_backward_data(g)) {
    const Scratch s = scratch(ws, FlippedPlan::packed_size(g), FlippedPlan::scratch_size(g));
    return each_sample(FlippedPlan(g, w, s.shared, bias, act), s);
  }
  const Scratch s = scratch(ws, DataPlan::packed_size(g), DataPlan::scratch_size(g));
  DataPlan::pack(g, w, s.shared);
  each_sample(DataPlan(g, s.shared, bias, act), s);
}

void conv2d_backward_weights(const ConvGeometry& g, const float* x, const float* dy, float* dw, float* dbias,
                             Workspace& ws) {
  const WeightPlan plan(g);
  const int rows = g.N * g.OH;  // output rows of the batch, cut into chunks
  const WeightChunks chunks(rows, plan);
  const Scratch s = scratch(ws, chunks.size * chunks.count, plan.scratch_size());
  const Index in_sample = Index(g.H) * g.W * g.C, out_sample = Index(g.OH) * g.OW * g.O;
#pragma omp parallel for schedule(static) if (chunks.count > 1)
  for (int k = 0; k < chunks.count; ++k) {
    float* acc = s.shared + k * chunks.size;
    std::memset(acc, 0, chunks.size * sizeof(float));
    float* xp = s.mine();
    const int r1 = chunks.first_row(rows, k + 1);
    for (int r = chunks.first_row(rows, k); r < r1;) {  // the chunk's part of each sample it meets
      const int n = r / g.OH, oh0 = r % g.OH, oh1 = std::min(g.OH, oh0 + (r1 - r));
      plan.pad(x + n * in_sample, xp);
      plan.run(xp, dy + n * out_sample, oh0, oh1, acc, acc + plan.acc_size());
      r += oh1 - oh0;
    }
  }
  add_chunks(s.shared, chunks, plan.taps, g.O, dw, dbias, g.O);
}

void conv_layer_backward(const ConvGeometry& g, const float* x, const float* y, const float* dy, Activation act,
                         const float* w, float* dx, float* dw, float* dbias, Workspace& ws) {
  const WeightPlan weights(g);
  const WeightChunks chunks(g.N, weights);  // whole samples: dx needs all of dz
  const Index out_sample = Index(g.OH) * g.OW * g.O, in_sample = Index(g.H) * g.W * g.C;
  const Index dz_size = round_up(out_sample), padded_x = round_up(weights.scratch_size());
  const bool by_winograd = dx && winograd_backward_data(g);
  const Index packed = by_winograd ? FlippedPlan::packed_size(g) : DataPlan::packed_size(g);
  const Index data_scratch = !dx ? 0 : by_winograd ? FlippedPlan::scratch_size(g) : DataPlan::scratch_size(g);
  const Scratch s = scratch(ws, round_up(packed) + chunks.size * chunks.count, dz_size + padded_x + data_scratch);
  std::optional<FlippedPlan> winograd_data;
  std::optional<DataPlan> data;
  if (by_winograd) {
    winograd_data.emplace(g, w, s.shared, nullptr, Activation::linear);
  } else if (dx) {
    DataPlan::pack(g, w, s.shared);
    data.emplace(g, s.shared, nullptr, Activation::linear);
  }
  float* partials = s.shared + round_up(packed);
#pragma omp parallel for schedule(static) if (chunks.count > 1)
  for (int k = 0; k < chunks.count; ++k) {
    float* acc = partials + k * chunks.size;
    std::memset(acc, 0, chunks.size * sizeof(float));
    float* dz = s.mine();
    float* xp = dz + dz_size;
    const auto [n0, n1] = chunk_samples(g, chunks, k);
    for (int n = n0; n < n1; ++n) {
      // dz = act'(y) * dy for this sample only: it stays in cache for both uses.
      activation_backward(act, y + n * out_sample, dy + n * out_sample, dz, Index(g.OH) * g.OW, g.O);
      if (winograd_data) winograd_data->run(dz, dx + n * in_sample, xp + padded_x);
      if (data) data->run(dz, dx + n * in_sample, xp + padded_x);
      weights.pad(x + n * in_sample, xp);
      weights.run(xp, dz, 0, g.OH, acc, acc + weights.acc_size());
    }
  }
  add_chunks(partials, chunks, weights.taps, g.O, dw, dbias, g.O);
}

void conv_transpose_layer_backward(const ConvGeometry& g, const float* x, const float* y, const float* dy,
                                   Activation act, const float* w, float* dx, float* dw, float* dbias,
                                   Workspace& ws) {
  // The layer's output is the convolution's input: dz [H,W,C] plays x, the layer's input
  // x [OH,OW,O] plays the output gradient.
  const WeightPlan weights(g);
  const WeightChunks chunks(g.N, weights);
  const Index out_sample = Index(g.OH) * g.OW * g.O, in_sample = Index(g.H) * g.W * g.C;
  const Index dz_size = round_up(in_sample), padded_x = round_up(weights.scratch_size());
  const Scratch s = scratch(ws, ForwardPlan::packed_size(g) + chunks.size * chunks.count,
                            dz_size + padded_x + (dx ? ForwardPlan::scratch_size(g) : 0));
  pack_over_outputs(g, w, s.shared);
  const ForwardPlan forward(g, s.shared, nullptr, Activation::linear);
  float* partials = s.shared + round_up(ForwardPlan::packed_size(g));
  const __mmask16 m = first_lanes(g.C);
#pragma omp parallel for schedule(static) if (chunks.count > 1)
  for (int k = 0; k < chunks.count; ++k) {
    float* acc = partials + k * chunks.size;
    std::memset(acc, 0, chunks.size * sizeof(float));
    float* dz = s.mine();
    float* xp = dz + dz_size;
    const auto [n0, n1] = chunk_samples(g, chunks, k);
    // Four chains of adds over the pixels in turn, so that the adds overlap.
    __m512 b0 = _mm512_setzero_ps(), b1 = b0, b2 = b0, b3 = b0;
    for (int n = n0; n < n1; ++n) {
      activation_backward(act, y + n * in_sample, dy + n * in_sample, dz, Index(g.H) * g.W, g.C);
      Index p = 0;
      for (; p + 4 * g.C <= in_sample; p += 4 * g.C) {
        b0 = _mm512_add_ps(b0, _mm512_maskz_loadu_ps(m, dz + p));
        b1 = _mm512_add_ps(b1, _mm512_maskz_loadu_ps(m, dz + p + g.C));
        b2 = _mm512_add_ps(b2, _mm512_maskz_loadu_ps(m, dz + p + 2 * g.C));
        b3 = _mm512_add_ps(b3, _mm512_maskz_loadu_ps(m, dz + p + 3 * g.C));
      }
      for (; p < in_sample; p += g.C) b0 = _mm512_add_ps(b0, _mm512_maskz_loadu_ps(m, dz + p));
      if (dx) forward.run(dz, dx + n * out_sample, xp + padded_x);
      weights.pad(dz, xp);
      weights.run(xp, x + n * out_sample, 0, g.OH, acc, nullptr);
    }
    _mm512_store_ps(acc + weights.acc_size(), _mm512_add_ps(_mm512_add_ps(b0, b1), _mm512_add_ps(b2, b3)));
  }
  add_chunks(partials, chunks, weights.taps, g.O, dw, dbias, g.C);
}

void maxpool_forward(const ConvGeometry& g, const float* x, float* y, std::uint16_t* where) {
  const __mmask16 m = first_lanes(g.C);
  const Index in_sample = Index(g.H) * g.W * g.C, out_sample = Index(g.OH) * g.OW * g.C;
#pragma omp parallel for schedule(static) if (g.output_size() >= kParallelMinOutputs)
  for (int n = 0; n < g.N; ++n) {
    const float* xn = x + n * in_sample;
    for (Index o = n * out_sample, oh = 0; oh < Index(g.OH); ++oh) {
      const int ih0 = static_cast<int>(oh) * g.stride_h - g.pad_top;
      const int kh0 = std::max(0, -ih0), kh1 = std::min(g.KH, g.H - ih0);
      for (int ow = 0; ow < g.OW; ++ow, o += g.C) {
        const int iw0 = ow * g.stride_w - g.pad_left;
        const int kw0 = std::max(0, -iw0), kw1 = std::min(g.KW, g.W - iw0);
        // TensorFlow pads less than a window, so every window holds a pixel. A strictly
        // greater tap takes over, so the first maximum wins (max_ps(v, best) keeps best
        // on ties and NaN alike, as the comparison does).
        auto pixel = [&](int kh, int kw) { return xn + (Index(ih0 + kh) * g.W + iw0 + kw) * g.C; };
        __m512 best = _mm512_maskz_loadu_ps(m, pixel(kh0, kw0));
        if (!where) {
          for (int kh = kh0; kh < kh1; ++kh)
            for (int kw = kw0; kw < kw1; ++kw)
              best = _mm512_maskz_max_ps(0xFFFF, _mm512_maskz_loadu_ps(m, pixel(kh, kw)), best);
          _mm512_mask_storeu_ps(y + o, m, best);
          continue;
        }
        __m512i tap = _mm512_set1_epi32(kh0 * g.KW + kw0);
        for (int kh = kh0; kh < kh1; ++kh)
          for (int kw = kw0; kw < kw1; ++kw) {
            const __m512 v = _mm512_maskz_loadu_ps(m, pixel(kh, kw));
            const __mmask16 greater = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ);
            best = _mm512_mask_mov_ps(best, greater, v);
            tap = _mm512_mask_mov_epi32(tap, greater, _mm512_set1_epi32(kh * g.KW + kw));
          }
        _mm512_mask_storeu_ps(y + o, m, best);
        _mm512_mask_cvtepi32_storeu_epi16(where + o, m, tap);
      }
    }
  }
}

void maxpool_backward(const ConvGeometry& g, const std::uint16_t* where, const float* dy, float* dx) {
  const __mmask16 m = first_lanes(g.C);
  const Index in_sample = Index(g.H) * g.W * g.C, out_sample = Index(g.OH) * g.OW * g.C;
  // Windows that do not overlap write their pixels' gradients outright (zero where not
  // the maximum), and only pixels outside every window need zeroing first; overlapping
  // windows add into zeros.
  const bool disjoint = g.stride_h >= g.KH && g.stride_w >= g.KW;
  const bool covered = g.pad_top == 0 && g.pad_left == 0 && g.stride_h == g.KH && g.stride_w == g.KW &&
                       g.OH * g.KH == g.H && g.OW * g.KW == g.W;
  // Parallel over samples: overlapping windows then never race.
#pragma omp parallel for schedule(static) if (g.output_size() >= kParallelMinOutputs)
  for (int n = 0; n < g.N; ++n) {
    float* dxn = dx + n * in_sample;
    if (!covered) std::memset(dxn, 0, in_sample * sizeof(float));
    for (Index o = n * out_sample, oh = 0; oh < Index(g.OH); ++oh) {
      const int ih0 = static_cast<int>(oh) * g.stride_h - g.pad_top;
      const int kh0 = std::max(0, -ih0), kh1 = std::min(g.KH, g.H - ih0);
      for (int ow = 0; ow < g.OW; ++ow, o += g.C) {
        const int iw0 = ow * g.stride_w - g.pad_left;
        const int kw0 = std::max(0, -iw0), kw1 = std::min(g.KW, g.W - iw0);
        const __m512 grad = _mm512_maskz_loadu_ps(m, dy + o);
        const __m512i won = _mm512_maskz_cvtepu16_epi32(m, _mm256_maskz_loadu_epi16(m, where + o));
        for (int kh = kh0; kh < kh1; ++kh)
          for (int kw = kw0; kw < kw1; ++kw) {
            const __mmask16 mine = _mm512_cmpeq_epi32_mask(won, _mm512_set1_epi32(kh * g.KW + kw));
            float* out = dxn + (Index(ih0 + kh) * g.W + iw0 + kw) * g.C;
            const __m512 before = disjoint ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m, out);
            _mm512_mask_storeu_ps(out, m, _mm512_mask_add_ps(before, mine, before, grad));
          }
      }
    }
  }
}

}  // namespace dn::kernels::direct

#pragma GCC pop_options

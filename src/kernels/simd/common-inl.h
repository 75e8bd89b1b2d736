// Layout and scheduling helpers that every kernel family shares.

// Target-independent part.
#ifndef DN_KERNELS_SIMD_COMMON_H_
#define DN_KERNELS_SIMD_COMMON_H_
#include <omp.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "kernels/simd/group-inl.h"
#include "kernels/workspace.hpp"

namespace dn::kernels::simd {

constexpr int kWeightChunks = 8;              // partial weight gradients, cut from the geometry alone
constexpr Index kParallelMinOutputs = 16384;  // smaller pooling runs faster than threads start

inline int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Floats per pixel in the padded copies that the block kernels read: a whole group, so
// that neighbouring pixels sit a compile-time distance apart; 1 for a single channel.
inline int padded_channels(int channels) { return channels == 1 ? 1 : kLanes; }

// p itself, opaque to the optimiser: GCC would otherwise carry inputs that neighbouring
// pixels share from one tap to the next in registers, paying a shuffle per use where a
// broadcast straight from memory is free.
template <class T>
T* opaque(T* p) {
  asm("" : "+r"(p));
  return p;
}

// Scratch from the workspace: a shared part, and each thread's own (see Workspace::per_thread).
struct Scratch {
  float* shared;
  float* const* threads;
  float* mine() const { return threads[omp_get_thread_num()]; }
};
inline Scratch scratch(Workspace& ws, Index shared, Index per_thread) {
  float* const* threads = ws.per_thread(omp_get_max_threads(), round_up(per_thread));
  return {ws.floats(round_up(shared)), threads};
}

}  // namespace dn::kernels::simd
#endif  // DN_KERNELS_SIMD_COMMON_H_

// Per-target part.
#if defined(DN_KERNELS_SIMD_COMMON_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DN_KERNELS_SIMD_COMMON_INL_H_
#undef DN_KERNELS_SIMD_COMMON_INL_H_
#else
#define DN_KERNELS_SIMD_COMMON_INL_H_
#endif

HWY_BEFORE_NAMESPACE();
namespace dn::kernels::simd::HWY_NAMESPACE {

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
inline void pad_copy(const float* x, int H, int W, int C, int top, int left, float* xp, int Hp, int Wp, int CS) {
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
      for (int iw = 0; iw < cols; ++iw) StoreU(LoadFirst(C, src + iw * C), dst + iw * CS);
    }
    std::memset(dst + Index(cols) * CS, 0, Index(Wp - left - cols) * CS * sizeof(float));
  }
  std::memset(xp + (top + rows) * row, 0, (Hp - top - rows) * row * sizeof(float));
}

// Weights [KH,KW,C,O] as groups over o, one per (kh, kw, c), unused lanes zero.
inline void pack_over_outputs(const ConvGeometry& g, const float* w, float* packed) {
  for (Index t = 0; t < g.patch(); ++t) Store(LoadFirst(g.O, w + t * g.O), packed + t * kLanes);
}

// Weights as groups over c, one per (kh, kw, o), unused lanes zero.
inline void pack_over_inputs(const ConvGeometry& g, const float* w, float* packed) {
  std::memset(packed, 0, Index(g.KH) * g.KW * g.O * kLanes * sizeof(float));
  for (int t = 0; t < g.KH * g.KW; ++t)
    for (int c = 0; c < g.C; ++c)
      for (int o = 0; o < g.O; ++o) packed[(Index(t) * g.O + o) * kLanes + c] = w[(Index(t) * g.C + c) * g.O + o];
}

HWY_INLINE V load_bias(const float* bias, int n) { return bias ? LoadFirst(n, bias) : Zero(); }

// P pixels of n floats, step floats apart. When step is n they are the first of a run of
// `run` pixels (to the end of their row) that is stored in increasing order: whole groups
// then spill onto pixels stored later, even where a later block of the row stores them.
// gate (laid out as y, or null): lanes are zeroed where it is not positive, the derivative
// of the ReLU that made it, for a backward pass whose dx goes back through that ReLU.
template <int P>
HWY_INLINE void store_pixels(const V (&acc)[P], float* y, Index step, int n, bool with_relu, int run,
                             const float* gate = nullptr) {
#pragma GCC unroll 32
  for (int i = 0; i < P; ++i) {
    V v = with_relu ? Relu(acc[i]) : acc[i];
    const bool whole = step == Index(n) && Index(i) * n + kLanes <= Index(run) * n;
    if (gate) v = SelectGreater(whole ? LoadU(gate + i * step) : LoadFirst(n, gate + i * step), Zero(), v, Zero());
    if (whole)
      StoreU(v, y + i * step);
    else
      StoreFirst(n, v, y + i * step);
  }
}

}  // namespace dn::kernels::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // DN_KERNELS_SIMD_COMMON_INL_H_

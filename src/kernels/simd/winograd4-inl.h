// Winograd F(4x4, 3x3)'s transforms (Lavin and Gray, 2016, points 0, 1, -1, 2, -2) and
// the tile policies that let the wide Winograd plan run F(4x4) or F(2x2): 36 products per
// (c, o) for a 4x4 output tile, where F(2x2)'s four 2x2 tiles take 64. The transforms'
// entries (up to 8, and 1/24 in G) round more than F(2x2)'s: against the reference
// loops, relative errors of 1-3e-5 at 64 channels where F(2x2) stays below 1e-6.
// Same load/store conventions as winograd-inl.h's transforms, positions row-major over
// the 6x6 patch.
//
// Per-target only: the .cpp files that run the wide Winograd kernels include it per
// target, before wide_winograd-inl.h.

#if defined(DN_KERNELS_SIMD_WINOGRAD4_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DN_KERNELS_SIMD_WINOGRAD4_INL_H_
#undef DN_KERNELS_SIMD_WINOGRAD4_INL_H_
#else
#define DN_KERNELS_SIMD_WINOGRAD4_INL_H_
#endif

#include "kernels/simd/winograd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace dn::kernels::simd::HWY_NAMESPACE {

// A 2-D transform as a 1-D one, f(in[N], out[M]), applied down the columns of the NxN
// values load(r, s), then along the rows of the result: emit(r, s, v) for the MxM values.
template <int N, int M, class F, class Load, class Emit>
HWY_INLINE void separable_transform(const F& f, const Load& load, const Emit& emit) {
  V cols[M][N];  // f down each column
  for (int s = 0; s < N; ++s) {
    V in[N], out[M];
    for (int r = 0; r < N; ++r) in[r] = load(r, s);
    f(in, out);
    for (int r = 0; r < M; ++r) cols[r][s] = out[r];
  }
  for (int r = 0; r < M; ++r) {
    V out[M];
    f(cols[r], out);
    for (int s = 0; s < M; ++s) emit(r, s, out[s]);
  }
}

// B^T d B of a 6x6 input patch: load(r, s), store(pos, v). B^T on six values: 4 d0 - 5 d2 + d4,
// (d4 - 4 d2) +- (d3 - 4 d1), (d4 - d2) +- 2 (d3 - d1), 4 d1 - 5 d3 + d5.
template <class Load, class Store>
HWY_INLINE void winograd4_input_transform(const Load& load, const Store& store) {
  const V four = Set(4.0f), five = Set(5.0f), two = Set(2.0f);
  auto bt = [&](const V (&d)[6], V (&t)[6]) {
    const V a = NegMulAdd(four, d[2], d[4]), b = NegMulAdd(four, d[1], d[3]);
    const V c = Sub(d[4], d[2]), e = Mul(two, Sub(d[3], d[1]));
    t[0] = MulAdd(four, d[0], NegMulAdd(five, d[2], d[4]));
    t[1] = Add(a, b);
    t[2] = Sub(a, b);
    t[3] = Add(c, e);
    t[4] = Sub(c, e);
    t[5] = MulAdd(four, d[1], NegMulAdd(five, d[3], d[5]));
  };
  separable_transform<6, 6>(bt, load, [&](int r, int s, const V& v) { store(r * 6 + s, v); });
}

// A^T m A of a tile's 36 products, load(r, s): y, its 4x4 output pixels (no bias). A^T on
// six values: m0 + (m1 + m2) + (m3 + m4), (m1 - m2) + 2 (m3 - m4), (m1 + m2) + 4 (m3 + m4),
// (m1 - m2) + 8 (m3 - m4) + m5.
template <class Load>
HWY_INLINE void winograd4_output_transform(const Load& load, V (&y)[4][4]) {
  const V two = Set(2.0f), four = Set(4.0f), eight = Set(8.0f);
  auto at = [&](const V (&m)[6], V (&out)[4]) {
    const V p = Add(m[1], m[2]), q = Sub(m[1], m[2]), r = Add(m[3], m[4]), s = Sub(m[3], m[4]);
    out[0] = Add(Add(m[0], p), r);
    out[1] = MulAdd(two, s, q);
    out[2] = MulAdd(four, r, p);
    out[3] = Add(MulAdd(eight, s, q), m[5]);
  };
  separable_transform<6, 4>(at, load, [&](int r, int s, const V& v) { y[r][s] = v; });
}

// G w G^T of a 3x3 kernel: load(kh, kw), store(pos, v) for the 36 positions. G's rows on
// three values: k0 / 4, -(k0 + k1 + k2) / 6, -(k0 - k1 + k2) / 6, k0 / 24 +- k1 / 12 + k2 / 6, k2.
template <class Load, class Store>
HWY_INLINE void winograd4_kernel_transform(const Load& load, const Store& store) {
  auto g = [&](const V (&k)[3], V (&out)[6]) {
    const V even = Add(k[0], k[2]);
    out[0] = Mul(Set(0.25f), k[0]);
    out[1] = Mul(Set(-1.0f / 6), Add(even, k[1]));
    out[2] = Mul(Set(-1.0f / 6), Sub(even, k[1]));
    const V e2 = MulAdd(Set(1.0f / 24), k[0], Mul(Set(1.0f / 6), k[2]));
    out[3] = MulAdd(Set(1.0f / 12), k[1], e2);
    out[4] = NegMulAdd(Set(1.0f / 12), k[1], e2);
    out[5] = k[2];
  };
  separable_transform<3, 6>(g, load, [&](int r, int s, const V& v) { store(r * 6 + s, v); });
}

// F(M x M, 3x3) for the wide plan: the tile's output side M, its input side and positions.
template <int M>
struct WinogradTile;
template <>
struct WinogradTile<2> {
  static constexpr int kSide = 4, kPositions = 16;
  template <class L, class S>
  static void input(const L& l, const S& s) { winograd_input_transform(l, s); }
  template <class L>
  static void output(const L& l, V (&y)[2][2]) { winograd_output_transform(l, y); }
  template <class L, class S>
  static void kernel(const L& l, const S& s) { winograd_kernel_transform(l, s); }
};
template <>
struct WinogradTile<4> {
  static constexpr int kSide = 6, kPositions = 36;
  template <class L, class S>
  static void input(const L& l, const S& s) { winograd4_input_transform(l, s); }
  template <class L>
  static void output(const L& l, V (&y)[4][4]) { winograd4_output_transform(l, y); }
  template <class L, class S>
  static void kernel(const L& l, const S& s) { winograd4_kernel_transform(l, s); }
};

}  // namespace dn::kernels::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // DN_KERNELS_SIMD_WINOGRAD4_INL_H_

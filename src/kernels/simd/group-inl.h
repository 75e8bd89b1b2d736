// The unit every SIMD kernel computes with: a group of 16 floats, the channels of one
// pixel (or 16 output channels of one tap). On AVX-512 it is one vector, on AVX2 two,
// on NEON four, on the scalar target sixteen single lanes; the kernels are written once
// over groups, and each target's register count sets how many groups a block keeps.
//
// Per-target code (Highway's "-inl.h" convention): include it after hwy/highway.h,
// once per target, from a file compiled through hwy/foreach_target.h.

// Target-independent part.
#ifndef DN_KERNELS_SIMD_GROUP_H_
#define DN_KERNELS_SIMD_GROUP_H_
#include <array>
#include <cstddef>
#include <utility>

#include "kernels/conv.hpp"

namespace dn::kernels::simd {

using Index = std::size_t;
constexpr int kLanes = 16;  // floats in a group; padded layouts hold this many per pixel

inline Index round_up(Index floats) { return (floats + kLanes - 1) / kLanes * kLanes; }  // whole cache lines

// Every output pixel is its own input pixel's channels times the weights (Dense: 1x1
// images). The sizes matter for the phases of a strided backward-data, whose 1x1-tap
// phases may have more or fewer pixels than their input (wide_backward_data-inl.h).
inline bool pointwise(const ConvGeometry& g) {
  return g.KH == 1 && g.KW == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_top == 0 && g.pad_left == 0 &&
         g.OH == g.H && g.OW == g.W;
}

// The activations that are not fused into the stores run over the finished sample.
inline bool fused(Activation act) { return act == Activation::linear || act == Activation::relu; }

}  // namespace dn::kernels::simd
#endif  // DN_KERNELS_SIMD_GROUP_H_

// Per-target part.
#if defined(DN_KERNELS_SIMD_GROUP_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DN_KERNELS_SIMD_GROUP_INL_H_
#undef DN_KERNELS_SIMD_GROUP_INL_H_
#else
#define DN_KERNELS_SIMD_GROUP_INL_H_
#endif

#include <cstdint>
#include <cstring>

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace dn::kernels::simd::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using D = hn::CappedTag<float, kLanes>;
using Part = hn::Vec<D>;
constexpr int kPartLanes = static_cast<int>(hn::MaxLanes(D()));
constexpr int kParts = kLanes / kPartLanes;
static_assert(kParts * kPartLanes == kLanes, "a group is a whole number of vectors");

// Vector registers: 16 on AVX2 (and older x86), 32 on AVX-512 and NEON.
constexpr int kRegisters = (HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_SSE4 || HWY_TARGET == HWY_SSSE3) ? 16 : 32;
// Groups a kernel may keep live as accumulators, leaving room for one operand group and
// a broadcast scalar.
constexpr int kAccumulators = (kRegisters - kParts - 1) / kParts;
// Items of a block (pixels, tiles, taps) that keep groups_per_item accumulators each,
// beside `extra` groups the loop also keeps: at most `wanted`, at least one.
constexpr int cap(int wanted, int groups_per_item, int extra = 0) {
  const int fit = (kAccumulators - extra) / groups_per_item;
  return fit < 1 ? 1 : fit < wanted ? fit : wanted;
}

struct V {
  // Declared so that it carries the target's options: the implicit constructor would
  // not, and GCC then refuses to inline the vectors' constructors into it on ARM64.
  HWY_ATTR V() {}
  Part p[kParts];
};

#define DN_EACH_PART _Pragma("GCC unroll 16") for (int j = 0; j < kParts; ++j)

HWY_INLINE V Zero() {
  V v;
  DN_EACH_PART v.p[j] = hn::Zero(D());
  return v;
}
HWY_INLINE V Set(float x) {
  V v;
  DN_EACH_PART v.p[j] = hn::Set(D(), x);
  return v;
}
HWY_INLINE V Load(const float* HWY_RESTRICT a) {  // a: 16 floats, aligned to a vector
  V v;
  DN_EACH_PART v.p[j] = hn::Load(D(), a + j * kPartLanes);
  return v;
}
HWY_INLINE V LoadU(const float* HWY_RESTRICT a) {
  V v;
  DN_EACH_PART v.p[j] = hn::LoadU(D(), a + j * kPartLanes);
  return v;
}
HWY_INLINE void Store(const V& v, float* HWY_RESTRICT a) {
  DN_EACH_PART hn::Store(v.p[j], D(), a + j * kPartLanes);
}
HWY_INLINE void StoreU(const V& v, float* HWY_RESTRICT a) {
  DN_EACH_PART hn::StoreU(v.p[j], D(), a + j * kPartLanes);
}

// The first n floats of a group (n <= 16); the rest of the group is zero. Reads and
// writes touch only those n floats: x86 masks the memory access itself, other targets
// go through a small buffer.
constexpr bool kMaskedMemory = HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3;

HWY_INLINE Part load_part(int n, const float* HWY_RESTRICT a) {
  if (n >= kPartLanes) return hn::LoadU(D(), a);
  if (n <= 0) return hn::Zero(D());
  if constexpr (kMaskedMemory) {
    return hn::MaskedLoad(hn::FirstN(D(), n), D(), a);
  } else {
    HWY_ALIGN float buf[kPartLanes] = {};
    std::memcpy(buf, a, n * sizeof(float));
    return hn::Load(D(), buf);
  }
}
HWY_INLINE void store_part(int n, Part v, float* HWY_RESTRICT a) {
  if (n >= kPartLanes) return hn::StoreU(v, D(), a);
  if (n <= 0) return;
  if constexpr (kMaskedMemory) {
    hn::BlendedStore(v, hn::FirstN(D(), n), D(), a);
  } else {
    HWY_ALIGN float buf[kPartLanes];
    hn::Store(v, D(), buf);
    std::memcpy(a, buf, n * sizeof(float));
  }
}
HWY_INLINE V LoadFirst(int n, const float* HWY_RESTRICT a) {
  V v;
  DN_EACH_PART v.p[j] = load_part(n - j * kPartLanes, a + j * kPartLanes);
  return v;
}
HWY_INLINE void StoreFirst(int n, const V& v, float* HWY_RESTRICT a) {
  DN_EACH_PART store_part(n - j * kPartLanes, v.p[j], a + j * kPartLanes);
}

// v as pixel i of a run of `count` pixels of n floats each, from `run` on, that are
// stored in increasing i: whole where the group ends inside the run (its lanes past n
// land on pixels stored after it), masked only at the run's end. A masked store costs
// many plain ones on AVX2 (AMD CPUs run it in microcode).
HWY_INLINE void StoreInRun(const V& v, float* HWY_RESTRICT run, int i, int count, int n) {
  float* a = run + Index(i) * n;
  if (Index(i) * n + kLanes <= Index(count) * n)
    StoreU(v, a);
  else
    StoreFirst(n, v, a);
}

// Pooling's winning taps, 16-bit in memory, as floats in a group (exact: taps < 65536).
// Whole parts are read and written when `whole` (the caller knows that the 16 values are
// inside memory it owns, written later where they belong to other pixels), else the
// first n one by one.
using D16 = hn::Rebind<std::uint16_t, D>;
HWY_INLINE V LoadTaps(const std::uint16_t* HWY_RESTRICT a, int n, bool whole) {
  V v;
  if (whole) {
    DN_EACH_PART v.p[j] = hn::ConvertTo(
        D(), hn::BitCast(hn::RebindToSigned<D>(), hn::PromoteTo(hn::RebindToUnsigned<D>(),
                                                                hn::LoadU(D16(), a + j * kPartLanes))));
    return v;
  }
  HWY_ALIGN float taps[kLanes] = {};
  for (int c = 0; c < n; ++c) taps[c] = a[c];
  return Load(taps);
}
HWY_INLINE void StoreTaps(const V& v, std::uint16_t* HWY_RESTRICT a, int n, bool whole) {
  if (whole) {
    DN_EACH_PART hn::StoreU(hn::DemoteTo(D16(), hn::ConvertTo(hn::RebindToSigned<D>(), v.p[j])), D16(),
                            a + j * kPartLanes);
    return;
  }
  HWY_ALIGN float taps[kLanes];
  Store(v, taps);
  for (int c = 0; c < n; ++c) a[c] = static_cast<std::uint16_t>(taps[c]);
}

HWY_INLINE V Add(const V& a, const V& b) {
  V v;
  DN_EACH_PART v.p[j] = hn::Add(a.p[j], b.p[j]);
  return v;
}
HWY_INLINE V Sub(const V& a, const V& b) {
  V v;
  DN_EACH_PART v.p[j] = hn::Sub(a.p[j], b.p[j]);
  return v;
}
HWY_INLINE V Mul(const V& a, const V& b) {
  V v;
  DN_EACH_PART v.p[j] = hn::Mul(a.p[j], b.p[j]);
  return v;
}
// a * b + c
HWY_INLINE V MulAdd(const V& a, const V& b, const V& c) {
  V v;
  DN_EACH_PART v.p[j] = hn::MulAdd(a.p[j], b.p[j], c.p[j]);
  return v;
}
// c - a * b
HWY_INLINE V NegMulAdd(const V& a, const V& b, const V& c) {
  V v;
  DN_EACH_PART v.p[j] = hn::NegMulAdd(a.p[j], b.p[j], c.p[j]);
  return v;
}
// x * b + c for a scalar x, broadcast once for all parts.
HWY_INLINE V MulAdd(float x, const V& b, const V& c) {
  const Part s = hn::Set(D(), x);
  V v;
  DN_EACH_PART v.p[j] = hn::MulAdd(s, b.p[j], c.p[j]);
  return v;
}

// x86's max(a, b) is a > b ? a : b, the second operand on ties and NaN: exactly the
// selects below, in one instruction. Elsewhere (NEON's max propagates NaN) they stay
// a compare and a select.
#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3
HWY_INLINE Part greater_or_second(Part a, Part b) { return hn::Max(a, b); }
#else
HWY_INLINE Part greater_or_second(Part a, Part b) { return hn::IfThenElse(hn::Gt(a, b), a, b); }
#endif

// max(0, v) as the reference loops compute it (v < 0 ? 0 : v): NaN and -0 stay, so that
// a diverging run stays visible.
HWY_INLINE V Relu(const V& a) {
  V v;
  DN_EACH_PART v.p[j] = greater_or_second(hn::Zero(D()), a.p[j]);
  return v;
}
// v > best ? v : best: a strictly greater value takes over, so ties and NaN keep best,
// as the reference pooling's comparison does.
HWY_INLINE V KeepGreater(const V& v, const V& best) {
  V r;
  DN_EACH_PART r.p[j] = greater_or_second(v.p[j], best.p[j]);
  return r;
}
// lane-wise: v > best ? a : b
HWY_INLINE V SelectGreater(const V& v, const V& best, const V& a, const V& b) {
  V r;
  DN_EACH_PART r.p[j] = hn::IfThenElse(hn::Gt(v.p[j], best.p[j]), a.p[j], b.p[j]);
  return r;
}
// lane-wise: x == y ? a + b : a
HWY_INLINE V AddWhereEqual(const V& x, const V& y, const V& a, const V& b) {
  V r;
  DN_EACH_PART r.p[j] = hn::IfThenElse(hn::Eq(x.p[j], y.p[j]), hn::Add(a.p[j], b.p[j]), a.p[j]);
  return r;
}

// The sums of v[i]'s 16 lanes, for N groups, kPartLanes at a time: emit(first, sums)
// gets those of groups first, first + 1, ... in the lanes of one part (lanes past N
// hold zeros). The parts are added first; then rounds of adding neighbouring lanes,
// each round packing two vectors' sums into one (on AVX-512, one round per halving of
// 16 lanes). v is used as scratch.
template <int N, class Emit>
HWY_INLINE void SumLanesParts(V (&v)[N], const Emit& emit) {
  constexpr int kBatch = kPartLanes;  // vectors whose sums one round trip packs into one
  Part u[N + kBatch];
#pragma GCC unroll 32
  for (int i = 0; i < N; ++i) {
    u[i] = v[i].p[0];
    for (int j = 1; j < kParts; ++j) u[i] = hn::Add(u[i], v[i].p[j]);
  }
  for (int i = N; i < N + kBatch; ++i) u[i] = hn::Zero(D());
  for (int first = 0; first < N; first += kBatch) {
    Part* w = u + first;
#if HWY_TARGET != HWY_SCALAR
    for (int n = kBatch; n > 1; n /= 2)
#pragma GCC unroll 32
      for (int i = 0; i < n / 2; ++i)
        w[i] = hn::Add(hn::ConcatEven(D(), w[2 * i + 1], w[2 * i]), hn::ConcatOdd(D(), w[2 * i + 1], w[2 * i]));
#endif
    emit(first, w[0]);
  }
}

// out[i] = the sum of v[i]'s 16 lanes, for N groups. v is used as scratch.
template <int N>
HWY_INLINE void SumLanes(V (&v)[N], float* HWY_RESTRICT out) {
  SumLanesParts(v, [&](int first, Part sums) {
    HWY_ALIGN float lanes[kPartLanes];
    hn::Store(sums, D(), lanes);
    for (int i = 0; i < kPartLanes && first + i < N; ++i) out[first + i] = lanes[i];
  });
}

#undef DN_EACH_PART

}  // namespace dn::kernels::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // DN_KERNELS_SIMD_GROUP_INL_H_
